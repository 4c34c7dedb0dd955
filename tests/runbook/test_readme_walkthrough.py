"""The README's Production walkthrough, run as written: the README cannot drift again.

The commands are taken from README.md itself and run in order in one shell from the
root of the clone. Only `/etc/tokenidp` becomes a temporary folder and port 5000 a free
port; nothing else is rewritten.
"""

from __future__ import annotations

import os
import re
import subprocess

from idp_support import ROOT, free_port

SECTION = "## Production: a certificate in a store"


def walkthrough_commands(readme: str) -> list[str]:
    """Every ```sh block of the Production section, in order."""
    section = readme.split(SECTION, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)


def test_the_production_walkthrough_runs_verbatim_on_a_clone(tmp_path):
    blocks = walkthrough_commands((ROOT / "README.md").read_text())
    assert len(blocks) >= 4, "the walkthrough lost its command blocks"
    port = free_port()
    script = "\n".join(blocks)
    script = script.replace("/etc/tokenidp", str(tmp_path / "etc-tokenidp"))
    script = script.replace("127.0.0.1:5000", f"127.0.0.1:{port}")
    environ = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("TOKENIDP_", "TokenOptions__", "Clients__", "PYTHONPATH"))
    }
    environ["PORT"] = str(port)
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert re.search(r"^ok: [0-9A-F]{40} \(RS256, CN=id.example.com signing\)", result.stdout, re.M)
    assert '"access_token":"ey' in result.stdout, result.stdout
    assert '"token_type":"Bearer"' in result.stdout
    store = tmp_path / "etc-tokenidp" / "certstores" / "LocalMachine" / "My"
    assert list(store.glob("*.pfx")), "the certificate went into the configured store"
    assert "Traceback" not in result.stderr
