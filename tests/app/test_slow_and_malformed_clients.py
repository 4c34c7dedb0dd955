"""Serving under hostile connections, on a real gunicorn with TokenIDP's configuration:
clients that trickle their requests, idle keep-alive connections, a shutdown mid-request,
and framing the server refuses before the app sees it."""

from __future__ import annotations

import signal
import socket
import threading
import time

import pytest
import requests
from idp_support import CLIENT_ID, CLIENT_SECRET, CertStore, Gunicorn, new_key

from app.documents import TOKEN_PATH
from app.serving import KEEPALIVE_SECONDS

FORM_HEAD = (
    f"POST {TOKEN_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    "Content-Type: application/x-www-form-urlencoded\r\n"
)
BODY = f"grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}"


@pytest.fixture(scope="module")
def configured(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile-connections")
    store = CertStore(folder / "certstores")
    signing = store.add(key=new_key("ec"))
    return store.environ(CertificateThumbprint=signing.thumbprint), folder


@pytest.fixture(scope="module")
def server(configured):
    environ, folder = configured
    gunicorn = Gunicorn(environ, cwd=folder, workers=2)
    gunicorn.wait_ready()
    yield gunicorn
    log = gunicorn.stop()
    assert "Traceback" not in log


def _token(server: Gunicorn) -> requests.Response:
    return requests.post(
        f"{server.url}{TOKEN_PATH}",
        data={"grant_type": "client_credentials"},
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=5,
    )


def _answer(server: Gunicorn, raw: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as connection:
        connection.sendall(raw)
        answer = b""
        try:
            while chunk := connection.recv(65536):
                answer += chunk
        except TimeoutError:
            pass
        return answer


def test_clients_trickling_their_headers_do_not_starve_others(server):
    """More trickling connections than workers, each sending a byte every 100 ms."""
    stop = threading.Event()
    connections = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(8)]

    def trickle(connection: socket.socket) -> None:
        for byte in FORM_HEAD.encode():
            if stop.wait(0.1):
                return
            connection.send(bytes([byte]))

    threads = [threading.Thread(target=trickle, args=(c,), daemon=True) for c in connections]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.3)
        for _ in range(3):
            started = time.monotonic()
            assert _token(server).status_code == 200
            assert time.monotonic() - started < 2
    finally:
        stop.set()
        for connection in connections:
            connection.close()


def test_an_idle_keep_alive_connection_is_closed_after_the_stated_time(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=KEEPALIVE_SECONDS + 5) as c:
        c.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        first = c.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        assert b"connection: close" not in first.lower(), "keep-alive is on"
        idle_since = time.monotonic()
        assert c.recv(65536) == b"", "the server closes the idle connection"
        waited = time.monotonic() - idle_since
    assert KEEPALIVE_SECONDS - 1 <= waited <= KEEPALIVE_SECONDS + 3


def test_a_graceful_shutdown_finishes_the_request_in_flight(configured):
    environ, folder = configured
    gunicorn = Gunicorn(environ, cwd=folder)
    gunicorn.wait_ready()
    connection = socket.create_connection(("127.0.0.1", gunicorn.port), timeout=10)
    try:
        head = FORM_HEAD + f"Content-Length: {len(BODY)}\r\n\r\n"
        connection.sendall(head.encode() + BODY[:10].encode())
        time.sleep(0.3)
        gunicorn.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        connection.sendall(BODY[10:].encode())
        answer = connection.recv(65536)
    finally:
        connection.close()
        gunicorn.stop()
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert b'"access_token"' in answer


MALFORMED = [
    ("bad content-length", FORM_HEAD + "Content-Length: 12x\r\n\r\n" + BODY, 400),
    (
        "duplicate content-length",
        FORM_HEAD + f"Content-Length: {len(BODY)}\r\nContent-Length: 5\r\n\r\n" + BODY,
        400,
    ),
    (
        "content-length and transfer-encoding",
        FORM_HEAD + f"Content-Length: {len(BODY)}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    # RFC 9112 §6.1: a coding the server does not know is 501; §6.3: not ending in chunked, 400
    ("unknown transfer coding", FORM_HEAD + "Transfer-Encoding: x-foo, chunked\r\n\r\n", 501),
    ("transfer coding not chunked last", FORM_HEAD + "Transfer-Encoding: gzip\r\n\r\n", 400),
    ("oversized header", FORM_HEAD + "X-Junk: " + "a" * 9000 + "\r\n\r\n", (400, 431)),
    (
        "too many headers",
        FORM_HEAD + "".join(f"X-H{i}: v\r\n" for i in range(150)) + "\r\n",
        (400, 431),
    ),
]


@pytest.mark.parametrize(
    ("raw", "status"), [(r, s) for _, r, s in MALFORMED], ids=[n for n, _, _ in MALFORMED]
)
def test_malformed_framing_gets_a_plain_client_error(server, raw, status):
    answer = _answer(server, raw.encode())
    expected = status if isinstance(status, tuple) else (status,)
    assert int(answer[9:12]) in expected, answer[:200]
    assert b"Traceback" not in answer
    assert _token(server).status_code == 200, "the server is still well"
