"""A database that is absent or hangs: discovery, JWKS and /healthz keep answering at once,
/readyz says why the IdP is not ready, and no token is issued without its audit record."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from idp_support import CLIENT_ID, CLIENT_SECRET, CertStore, Gunicorn, new_key

from app.documents import DISCOVERY_PATH, JWKS_PATH, TOKEN_PATH


@pytest.fixture
def silent_database():
    """A PostgreSQL address that accepts connections and never answers them."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    accepted = []
    stop = threading.Event()

    def hold() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    yield f"postgresql://postgres@127.0.0.1:{listener.getsockname()[1]}/tokenidp"
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


@pytest.mark.parametrize("database", ["absent", "silent"])
def test_documents_and_health_answer_while_the_database_is_down(tmp_path, request, database):
    url = (
        "postgresql://postgres@127.0.0.1:1/tokenidp"
        if database == "absent"
        else request.getfixturevalue("silent_database")
    )
    store = CertStore(tmp_path / "certstores")
    signing = store.add(key=new_key("ec"))
    environ = {
        **store.environ(CertificateThumbprint=signing.thumbprint),
        "TOKENIDP_DATABASE_URL": url,
    }
    server = Gunicorn(environ, cwd=tmp_path)
    try:
        server.wait_ready(timeout=30)
        with ThreadPoolExecutor(max_workers=1) as pool:
            token = pool.submit(
                requests.post,
                f"{server.url}{TOKEN_PATH}",
                data={"grant_type": "client_credentials"},
                auth=(CLIENT_ID, CLIENT_SECRET),
                timeout=30,
            )
            time.sleep(0.2)  # the token request is now waiting on the database
            for path in (JWKS_PATH, DISCOVERY_PATH, "/healthz"):
                started = time.monotonic()
                assert requests.get(f"{server.url}{path}", timeout=5).status_code == 200
                assert time.monotonic() - started < 1, f"{path} waited on the database"
            refused = token.result()
        assert refused.status_code == 503
        assert refused.json()["error"] == "temporarily_unavailable"
        assert "access_token" not in refused.text
        ready = requests.get(f"{server.url}/readyz", timeout=30)
        assert ready.status_code == 503
        assert ready.json()["status"].startswith("database unavailable")
    finally:
        log = server.stop()
    assert "Traceback" not in log
