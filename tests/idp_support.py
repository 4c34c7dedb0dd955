"""Real certificates, stores and settings for tests: everything made here, nothing committed."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests
from click.testing import CliRunner, Result
from cryptography import x509

from app.config import Settings, hash_client_secret, load_config
from app.keys.certificates import (
    PrivateKey,
    create_self_signed,
    generate_private_key,
    parse_subject,
    pem_bytes,
    pkcs12_bytes,
    sha1_thumbprint,
)

ROOT = Path(__file__).resolve().parent.parent
CLIENT_ID = "orders-service"
CLIENT_SECRET = "correct horse battery staple"
ISSUER = "https://id.example.test"
AUDIENCE = "tokenidp-api"


@dataclass(frozen=True)
class AddedCertificate:
    thumbprint: str
    certificate: x509.Certificate
    private_key: PrivateKey
    path: Path


class CertStore:
    """A certificate store folder, `{root}/{location}/{name}`, filled with real files."""

    def __init__(self, root: Path, *, location: str = "LocalMachine", name: str = "My") -> None:
        self.root = root
        self.location = location
        self.name = name
        self.folder = root / location / name
        self.folder.mkdir(parents=True, exist_ok=True)

    def add(
        self,
        *,
        key: PrivateKey,
        subject: str = "CN=tokenidp signing",
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        file_format: str = "pfx",
        password: str | None = None,
        with_private_key: bool = True,
        file_name: str | None = None,
        with_certificate_file: bool = False,
    ) -> AddedCertificate:
        now = dt.datetime.now(dt.UTC)
        certificate = create_self_signed(
            key,
            subject=parse_subject(subject),
            not_before=not_before or now - dt.timedelta(days=2),
            not_after=not_after or now + dt.timedelta(days=90),
        )
        thumbprint = sha1_thumbprint(certificate)
        if file_format == "pfx":
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.serialization import pkcs12

            if with_private_key:
                data = pkcs12_bytes(
                    key, certificate, password=password.encode() if password else None
                )
            else:
                encryption = (
                    serialization.BestAvailableEncryption(password.encode())
                    if password
                    else serialization.NoEncryption()
                )
                data = pkcs12.serialize_key_and_certificates(
                    b"cert", None, certificate, None, encryption
                )
        elif with_private_key and password:
            from cryptography.hazmat.primitives import serialization

            data = certificate.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(password.encode()),
            )
        elif with_private_key:
            data = pem_bytes(key, certificate)
        else:
            from cryptography.hazmat.primitives import serialization

            data = certificate.public_bytes(serialization.Encoding.PEM)
        path = self.folder / f"{file_name or thumbprint}.{file_format}"
        path.write_bytes(data)
        if with_certificate_file:  # the certificate alone, PEM: what the publisher reads
            from cryptography.hazmat.primitives import serialization

            (self.folder / f"{thumbprint}.crt").write_bytes(
                certificate.public_bytes(serialization.Encoding.PEM)
            )
        return AddedCertificate(thumbprint, certificate, key, path)

    def environ(self, **token_options: str) -> dict[str, str]:
        """Production settings pointing at this store and a migrated database beside it, plus
        one client; overrides as kwargs."""
        environ = {
            "TOKENIDP_ENVIRONMENT": "Production",
            "TOKENIDP_DATABASE_URL": migrated_sqlite_url(self.root.parent / "tokenidp.sqlite3"),
            "TokenOptions__Issuer": ISSUER,
            "TokenOptions__Audience": AUDIENCE,
            "TokenOptions__CertificateStoreRoot": str(self.root),
            "TokenOptions__CertificateStoreLocation": self.location,
            "TokenOptions__CertificateStoreName": self.name,
            **client_environ(),
        }
        for name, value in token_options.items():
            environ[f"TokenOptions__{name}"] = value
        return environ

    def settings(self, config_dir: Path, **token_options: str) -> Settings:
        return load_config(self.environ(**token_options), config_dir=config_dir)


_migrated_template: Path | None = None


def migrated_sqlite_url(path: Path) -> str:
    """A SQLite database at `path` holding every migration (copied from one made per process)."""
    global _migrated_template
    if not path.exists():
        if _migrated_template is None:
            from app.storage.engine import create_storage_engine
            from app.storage.migrate import upgrade

            template = Path(tempfile.mkdtemp(prefix="tokenidp-db-")) / "template.sqlite3"
            engine = create_storage_engine(f"sqlite:///{template}")
            upgrade(engine)
            engine.dispose()
            _migrated_template = template
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_migrated_template, path)
    return f"sqlite:///{path}"


def migrate_database(url: str) -> None:
    """The database at `url` brought up to date: a SQLite file not made yet is a copy of the
    per-process template (an upgrade costs a test a tenth of a second); anything else, a
    PostgreSQL schema or an existing file, is upgraded."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.drivername == "sqlite" and parsed.database and parsed.database != ":memory:":
        path = Path(parsed.database)
        if not path.exists():
            migrated_sqlite_url(path)
            return
    from app.storage.engine import create_storage_engine
    from app.storage.migrate import upgrade

    engine = create_storage_engine(url)
    upgrade(engine)
    engine.dispose()


def client_environ(
    client_id: str = CLIENT_ID, secret: str = CLIENT_SECRET, index: int = 0
) -> dict[str, str]:
    prefix = f"Clients__{index}__"
    return {
        f"{prefix}ClientId": client_id,
        f"{prefix}ClientSecrets__0__Value": hash_client_secret(secret),
        f"{prefix}AllowedGrantTypes__0": "client_credentials",
        f"{prefix}AllowedScopes__0": "orders.read",
        f"{prefix}AllowedScopes__1": "orders.write",
    }


def new_key(key_type: str = "rsa") -> PrivateKey:
    return generate_private_key(key_type)  # type: ignore[arg-type]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def listens_on(pid: int, port: int) -> bool:
    """Whether process `pid` holds the socket listening on loopback `port` (Linux's /proc)."""
    listening = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
            listening.add(f"socket:[{fields[9]}]")
    for descriptor in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(descriptor) in listening:
                return True
        except OSError:  # closed meanwhile
            continue
    return False


def venv_bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def unprivileged(command: list[str]) -> list[str]:
    """`command` without root's power to read any file, so a mode-000 file is unreadable.

    The suite may run as root (CI does); an operator's service user never can read such
    files, and that is the case the permission tests check.
    """
    if os.geteuid() != 0:
        return command
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--", *command]


def run_tokenidp(
    *args: str,
    environ: dict | None = None,
    stdin: str | None = None,
    cwd: Path | None = None,
    as_service_user: bool = False,
) -> subprocess.CompletedProcess:
    """The installed `tokenidp` command, as an operator runs it; `as_service_user`: not root."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(environ or {})}
    command = [venv_bin("tokenidp"), *args]
    return subprocess.run(
        unprivileged(command) if as_service_user else command,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


def invoke_tokenidp(*args: str, environ: dict | None = None, stdin: str | None = None) -> Result:
    """The `tokenidp` command in this process (click's runner): faster, for what it prints.

    Set TOKENIDP_CONFIG_DIR in `environ`: the working directory is not changed.
    """
    from app.cli import cli, register_commands

    register_commands()
    return CliRunner().invoke(
        cli, list(args), env=environ, input=stdin, prog_name="tokenidp", catch_exceptions=False
    )


class Gunicorn:
    """The real IdP under gunicorn on a free loopback port, stopped by `stop()`."""

    def __init__(
        self,
        environ: dict[str, str],
        *,
        cwd: Path,
        workers: int = 1,
        log: Path | None = None,
        port: int | None = None,
    ) -> None:
        """`log`: a file for gunicorn's stderr, for runs that log more than a pipe holds;
        `port`: a port chosen beforehand (an issuer that names it)."""
        self.environ, self.cwd, self.workers, self.log = environ, cwd, workers, log
        self.port_chosen = port is not None
        self._start(port or free_port())

    def _start(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            **self.environ,
            "TOKENIDP_BIND": f"127.0.0.1:{port}",
            "PORT": str(port),  # Development's default issuer is http://127.0.0.1:$PORT
            "TOKENIDP_WORKERS": str(self.workers),
            "PYTHONPATH": str(ROOT),
        }
        self.process = subprocess.Popen(
            [venv_bin("gunicorn"), "--config", str(ROOT / "gunicorn.conf.py"), "wsgi:app"],
            cwd=self.cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self.log.open("w") if self.log is not None else subprocess.PIPE,
            text=True,
        )

    def wait_ready(self, timeout: float = 20) -> None:
        """Ready once /healthz answers from this gunicorn. Between `free_port` and gunicorn's
        bind, another server of the suite may take the port (a downstream API asking for any
        port, another worker's IdP): then this one starts again on another port."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited: {self.stderr()}")
            try:
                answered = requests.get(f"{self.url}/healthz", timeout=1).ok
            except (requests.ConnectionError, requests.Timeout):  # not listening yet, or booting
                answered = False
            if answered and listens_on(self.process.pid, self.port):
                return
            if answered and not self.port_chosen:
                self.process.kill()
                self.process.communicate(timeout=20)
                self._start(free_port())
            time.sleep(0.05)
        raise AssertionError("gunicorn did not become ready")

    def issue_token(self, scope: str = "orders.read") -> str:
        """A client_credentials token over HTTP, as a client gets one."""
        response = requests.post(
            f"{self.url}/connect/token",
            data={"grant_type": "client_credentials", "scope": scope},
            auth=(CLIENT_ID, CLIENT_SECRET),
            timeout=5,
        )
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.terminate()
        _, stderr = self.process.communicate(timeout=20)
        return stderr if self.log is None else self.log.read_text()

    def stderr(self) -> str:
        """What gunicorn wrote on stderr so far (all of it once the process has exited)."""
        if self.log is not None:
            return self.log.read_text()
        return self.process.stderr.read()


def epoch_of(stamp: str) -> int:
    """`2026-11-26T16:37:16Z`, as the `--json` outputs print times, in epoch seconds."""
    return int(dt.datetime.fromisoformat(stamp).timestamp())
