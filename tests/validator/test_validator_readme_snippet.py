"""The README's downstream snippet runs as written against the README's development IdP."""

from __future__ import annotations

import re

import pytest
import requests
from idp_support import ROOT, Gunicorn

README = ROOT / "README.md"
SECTION = "## Validating tokens downstream"
# The demo client of appsettings.Development.json, as the README's curl uses it.
DEMO_CLIENT = ("demo-client", "demo-secret")


def readme_validator_snippet() -> str:
    """The one ```python block of the README's downstream section, exactly as written."""
    text = README.read_text(encoding="utf-8")
    section = text.split(f"\n{SECTION}\n", 1)[1].split("\n## ", 1)[0]
    (snippet,) = re.findall(r"^```python\n(.*?)^```$", section, flags=re.DOTALL | re.MULTILINE)
    return snippet


@pytest.fixture
def development_idp(tmp_path):
    """`make run`: Development on its embedded defaults, the development key in the instance
    folder; only the port differs."""
    idp = Gunicorn(
        {"TOKENIDP_ENVIRONMENT": "Development", "TOKENIDP_INSTANCE_DIR": str(tmp_path)},
        cwd=ROOT,
    )
    try:
        idp.wait_ready()
        yield idp
    finally:
        idp.stop()


def test_readme_snippet_protects_a_view_with_tokens_from_the_development_idp(development_idp):
    snippet = readme_validator_snippet()
    assert "127.0.0.1:5000" in snippet
    namespace = {"__name__": "readme_snippet"}
    code = snippet.replace("127.0.0.1:5000", f"127.0.0.1:{development_idp.port}")
    exec(compile(code, str(README), "exec"), namespace)  # the README's code, as written
    api = namespace["app"].test_client()

    issued = requests.post(
        f"{development_idp.url}/connect/token",
        data={"grant_type": "client_credentials", "scope": "orders.read"},
        auth=DEMO_CLIENT,
        timeout=5,
    )
    assert issued.status_code == 200, issued.text
    token = issued.json()["access_token"]

    allowed = api.get("/orders", headers={"Authorization": f"Bearer {token}"})
    assert allowed.status_code == 200, allowed.json
    assert allowed.json["client_id"] == "demo-client"

    refused = api.get("/orders")
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == "Bearer"
