"""Test support for diagnose: tokens from the real IdP, JWKS copies from a real loopback server."""

from __future__ import annotations

import base64
import datetime as dt
import http.server
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from idp_support import CLIENT_ID, CLIENT_SECRET
from jose import jws

from app import create_app
from app.config import Settings
from app.diagnosis import Diagnosis, diagnose_token
from app.diagnosis.sources import CDN, JwksResponse, configured_origin
from app.documents import Document, render_documents
from app.keys.keyring import load_keyring
from app.keys.records import NO_RECORDS


def issue_token(settings: Settings, *, at: float | None = None) -> str:
    """A client_credentials access token from the real IdP (optionally with its clock at `at`)."""
    clock = time.time if at is None else (lambda: at)
    client = create_app(settings, clock=clock).test_client()
    response = client.post(
        "/connect/token",
        data={"grant_type": "client_credentials", "scope": "orders.read"},
        auth=(CLIENT_ID, CLIENT_SECRET),
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()["access_token"]


def origin_jwks(settings: Settings) -> Document:
    """The JWKS document this configuration renders (what the IdP and the publisher serve)."""
    keyring = load_keyring(settings, records=NO_RECORDS, now=dt.datetime.now(dt.UTC))
    return render_documents(settings, keyring).jwks


def revoked_kids(settings: Settings) -> frozenset[str]:
    return load_keyring(settings, records=NO_RECORDS, now=dt.datetime.now(dt.UTC)).revoked_kids


def cdn_copy(
    document: Document | bytes,
    *,
    age: str | None = None,
    cache_control: str | None = "public, max-age=300",
    etag: str | None = None,
    fetched_at: float | None = None,
) -> JwksResponse:
    """A copy of a JWKS as a CDN would have answered, headers given explicitly."""
    body = document.body if isinstance(document, Document) else document
    if etag is None and isinstance(document, Document):
        etag = document.etag
    return JwksResponse(
        label="CDN https://cdn.example.test/.well-known/jwks.json",
        role=CDN,
        uri="https://cdn.example.test/.well-known/jwks.json",
        fetched_at=time.time() if fetched_at is None else fetched_at,
        body=body,
        cache_control=cache_control,
        age=age,
        etag=etag or '"cdn-etag"',
        last_modified="Mon, 04 May 2026 08:00:00 GMT",
    )


def diagnose(
    token: str,
    settings: Settings,
    *copies: JwksResponse,
    now: float | None = None,
    leeway_seconds: float = 30.0,
) -> Diagnosis:
    """The pure diagnosis against this configuration's JWKS plus `copies`, as the CLI runs it."""
    now = time.time() if now is None else now
    return diagnose_token(
        token,
        responses=[configured_origin(origin_jwks(settings), now=now), *copies],
        issuer=settings.token.issuer,
        audience=settings.token.audience,
        revoked_kids=revoked_kids(settings),
        now=now,
        leeway_seconds=leeway_seconds,
        allow_development_keys=settings.is_development,
    )


def sign_token(private_key: Any, *, kid: str, claims: dict, typ: str = "at+jwt") -> str:
    """A token signed by a real key with a chosen header: what a misbehaving issuer emits."""
    return jws.sign(claims, private_key, headers={"kid": kid, "typ": typ}, algorithm="RS256")


def unverified_claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def with_claims(token: str, **changes: Any) -> str:
    """The same header and signature over a changed payload: a tampered token."""
    header, _, signature = token.split(".")
    claims = {**unverified_claims(token), **changes}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{payload}.{signature}"


@dataclass
class Reply:
    """What the loopback JWKS server answers; tests change it between requests."""

    body: bytes = b'{"keys":[]}'
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        reply: Reply = self.server.reply  # type: ignore[attr-defined]
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class JwksServer:
    """A real HTTP server on 127.0.0.1 standing in for the CDN, in a thread."""

    def __init__(self) -> None:
        self.reply = Reply()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.reply = self.reply  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/.well-known/jwks.json"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def serve(self, body: bytes, *, status: int = 200, **headers: str) -> None:
        """Answer with `body`; header names as keywords, `_` for `-` (Cache_Control=...)."""
        self.reply.body = body
        self.reply.status = status
        self.reply.headers = {name.replace("_", "-"): value for name, value in headers.items()}

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
