"""The database goes away under a running IdP, and comes back.

A private PostgreSQL cluster made for this test with `initdb` (so the shared service is
left alone) is stopped and started again under gunicorn: while it is down, the endpoints
that must write answer 503 `temporarily_unavailable` in OAuth JSON (no token without its
audit record), `/readyz` says why, the public documents keep answering; once it is back,
service resumes by itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests
from idp_support import CLIENT_ID, CLIENT_SECRET, Gunicorn, free_port

from app.documents import JWKS_PATH, REVOCATION_PATH, TOKEN_PATH
from app.storage.engine import create_storage_engine
from app.storage.migrate import upgrade

NOBODY = 65534  # initdb and postgres refuse to run as root


def as_nobody(*command: str) -> list[str]:
    if os.geteuid() != 0:
        return list(command)
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *command]


class PrivateCluster:
    """A throwaway PostgreSQL on a free loopback port, trust auth, no fsync."""

    def __init__(self, folder) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        if os.geteuid() == 0:
            os.chown(folder, NOBODY, NOBODY)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.folder / "log")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def _run(self, *command: str) -> None:
        subprocess.run(as_nobody(*command), check=True, capture_output=True, timeout=60)


@pytest.fixture
def cluster():
    if shutil.which("initdb") is None or shutil.which("pg_ctl") is None:
        pytest.skip("PostgreSQL's initdb and pg_ctl are not installed")
    # Not under pytest's tmp_path: its parents are private to root, and postgres is not.
    folder = Path(tempfile.mkdtemp(prefix="tokenidp-pg-"))
    made = PrivateCluster(folder)
    made.start()
    engine = create_storage_engine(made.url)
    upgrade(engine)
    engine.dispose()
    yield made
    subprocess.run(
        as_nobody("pg_ctl", "-D", str(made.data), "-m", "immediate", "stop"), capture_output=True
    )
    shutil.rmtree(folder, ignore_errors=True)


def token_answer(idp: Gunicorn) -> requests.Response:
    return requests.post(
        f"{idp.url}{TOKEN_PATH}",
        data={"grant_type": "client_credentials"},
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=15,
    )


@pytest.mark.slow
def test_the_database_going_away_and_coming_back(store, config_dir, rsa_key, cluster):
    signing = store.add(key=rsa_key)
    environ = {
        **store.environ(CertificateThumbprint=signing.thumbprint),
        "TOKENIDP_DATABASE_URL": cluster.url,
    }
    idp = Gunicorn(environ, cwd=config_dir, workers=1, log=config_dir.parent / "gunicorn.log")
    try:
        idp.wait_ready()
        issued = token_answer(idp)
        assert issued.status_code == 200, issued.text

        cluster.stop()

        refused = token_answer(idp)
        assert refused.status_code == 503
        assert refused.headers["Content-Type"].startswith("application/json")
        assert refused.json()["error"] == "temporarily_unavailable"
        assert "access_token" not in refused.json()
        revocation = requests.post(
            f"{idp.url}{REVOCATION_PATH}",
            data={"token": issued.json()["access_token"]},
            auth=(CLIENT_ID, CLIENT_SECRET),
            timeout=15,
        )
        assert revocation.status_code == 503
        assert revocation.json()["error"] == "temporarily_unavailable"
        ready = requests.get(f"{idp.url}/readyz", timeout=15)
        assert ready.status_code == 503
        assert "database" in ready.text
        assert requests.get(f"{idp.url}{JWKS_PATH}", timeout=5).status_code == 200
        assert requests.get(f"{idp.url}/healthz", timeout=5).status_code == 200

        cluster.start()

        deadline = time.monotonic() + 30
        while token_answer(idp).status_code != 200:
            assert time.monotonic() < deadline, "service did not resume by itself"
            time.sleep(0.5)
        assert requests.get(f"{idp.url}/readyz", timeout=5).status_code == 200
        assert "Traceback" not in idp.stderr()
    finally:
        idp.stop()
