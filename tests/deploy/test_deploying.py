"""The README's Deploying section, run: the systemd unit's command behind its nginx
configuration, answering a token request over TLS.

Paths in the README (`/etc/tokenidp`, `/opt/tokenidp`, `/var/lib/tokenidp`,
`/etc/ssl/tokenidp`) become temporary folders, and the ports free ones; the rest is used
as written. `.ci/run` installs Debian's nginx when it is missing.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import re
import shlex
import shutil
import subprocess
import time

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from idp_support import (
    CLIENT_ID,
    CLIENT_SECRET,
    ROOT,
    CertStore,
    client_environ,
    free_port,
    new_key,
    venv_bin,
)

SECTION = "## Deploying"


def _block(kind: str) -> str:
    section = (ROOT / "README.md").read_text().split(SECTION, 1)[1].split("\n## ", 1)[0]
    [block] = re.findall(rf"```{kind}\n(.*?)```", section, flags=re.DOTALL)
    return block


def _unit_service(unit: str) -> tuple[str, dict[str, str], list[str]]:
    """WorkingDirectory, Environment and ExecStart of the unit's [Service] section."""
    working_directory, environment, command = "", {}, []
    for line in unit.splitlines():
        key, _, value = line.partition("=")
        if key == "WorkingDirectory":
            working_directory = value
        elif key == "Environment":
            name, _, setting = value.partition("=")
            environment[name] = setting
        elif key == "ExecStart":
            command = shlex.split(value)
    return working_directory, environment, command


def _tls_certificate(folder) -> tuple[str, str, str]:
    """A CA and a server certificate for 127.0.0.1, as the web server's certificate."""
    now = dt.datetime.now(dt.UTC)
    ca_key, leaf_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "id.example.com")]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (folder / "fullchain.pem").write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    (folder / "privkey.pem").write_bytes(
        leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    return str(folder / "fullchain.pem"), str(folder / "privkey.pem"), str(folder / "ca.pem")


@pytest.mark.skipif(
    shutil.which("nginx") is None, reason="nginx is not installed (.ci/run installs it)"
)
def test_the_unit_serves_tokens_over_tls_behind_the_readme_nginx(tmp_path):
    etc, var, ssl = tmp_path / "etc-tokenidp", tmp_path / "var-lib", tmp_path / "ssl"
    for folder in (etc, var, ssl):
        folder.mkdir()
    idp_port, tls_port = free_port(), free_port()

    def localise(text: str) -> str:
        for readme_path, here in (
            ("/etc/tokenidp", str(etc)),
            ("/var/lib/tokenidp", str(var)),
            ("/etc/ssl/tokenidp", str(ssl)),
            ("/opt/tokenidp", str(ROOT)),
            ("127.0.0.1:5000", f"127.0.0.1:{idp_port}"),
            ("listen 443 ssl", f"listen 127.0.0.1:{tls_port} ssl"),
        ):
            text = text.replace(readme_path, here)
        return text

    store = CertStore(etc / "certstores")
    signing = store.add(key=new_key("ec"), file_format="pfx", password="pfx password")
    (etc / "certificate-password").write_text("pfx password\n")
    (etc / "appsettings.Production.json").write_text(
        json.dumps(
            {
                "TokenOptions": {
                    "Issuer": "https://id.example.com",
                    "CertificateThumbprint": signing.thumbprint,
                    "CertificateStoreLocation": store.location,
                }
            }
        )
    )
    working_directory, environment, command = _unit_service(localise(_block("ini")))
    assert command[-1] == "serve" and working_directory == str(etc)
    _tls_certificate(ssl)
    nginx_conf = tmp_path / "nginx.conf"
    nginx_conf.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log stderr;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  client_body_temp_path {tmp_path}/body;\n"
        f"  proxy_temp_path {tmp_path}/proxy;\n{localise(_block('nginx'))}}}\n"
    )
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("TOKENIDP_", "Token"))}
    # The release step's `tokenidp db upgrade`, in the unit's environment.
    subprocess.run(
        [venv_bin("tokenidp"), "db", "upgrade"],
        cwd=working_directory,
        env={**inherited, **environment},
        check=True,
        capture_output=True,
    )
    idp = subprocess.Popen(
        command,
        cwd=working_directory,
        env={**inherited, **environment, **client_environ()},
        stderr=subprocess.PIPE,
        text=True,
    )
    nginx = subprocess.Popen(
        ["nginx", "-e", "stderr", "-p", str(tmp_path), "-c", str(nginx_conf), "-g", "daemon off;"],
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"https://127.0.0.1:{tls_port}"
    verify = str(ssl / "ca.pem")
    try:
        deadline = time.monotonic() + 30
        while True:
            assert idp.poll() is None, idp.stderr.read()
            assert nginx.poll() is None, nginx.stderr.read()
            try:
                discovery = requests.get(
                    f"{base}/.well-known/openid-configuration", verify=verify, timeout=2
                )
                if discovery.status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "nginx never proxied to the IdP"
            time.sleep(0.1)
        assert discovery.json()["issuer"] == "https://id.example.com"
        token = requests.post(
            f"{base}/connect/token",
            data={"grant_type": "client_credentials"},
            auth=(CLIENT_ID, CLIENT_SECRET),
            verify=verify,
            timeout=5,
        )
        assert token.status_code == 200, token.text
        assert token.json()["access_token"].count(".") == 2
    finally:
        nginx.terminate()
        idp.terminate()
        nginx.wait(timeout=10)
        log = idp.communicate(timeout=20)[1]
    assert "TokenIDP ready on" in log and "Traceback" not in log
