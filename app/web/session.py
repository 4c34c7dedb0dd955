"""The sign-in session cookie and the CSRF tokens of the forms, both signed with one key.

The key is 256 random bits in `shared_secrets`, made by the first instance that needs it
and read by every other, so any instance behind a load balancer accepts any instance's
cookie. A value is `base64url(payload).base64url(HMAC-SHA256(key, purpose || payload))`:
the purpose keeps a CSRF token from passing as a session and the other way round, and
every comparison is `hmac.compare_digest`.

CSRF: a random `binding` lives in its own HttpOnly cookie; the form carries HMAC(key,
binding). A page on another site can neither read the cookie nor compute the token
(the signed double-submit cookie of OWASP's CSRF cheat sheet).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import Response, current_app
from sqlalchemy import exc as sa_exc
from sqlalchemy import insert, select

from app.config.values import is_loopback_host
from app.storage import Storage
from app.storage.schema import shared_secrets

log = logging.getLogger("tokenidp")
SESSION_KEYS = "tokenidp.session_keys"
SESSION_KEY_NAME = "session_signing_key"
SESSION_COOKIE = "tokenidp_session"
CSRF_COOKIE = "tokenidp_csrf"
COOKIE_PATH = "/connect/"
# A session older than this signs in again, whatever the browser keeps.
SESSION_LIFETIME_SECONDS = 8 * 3600
MAX_COOKIE_LENGTH = 1024
_SESSION_PURPOSE = b"tokenidp session v1\x00"
_CSRF_PURPOSE = b"tokenidp csrf v1\x00"


class SessionKeys:
    """The shared signing key, read (or made) once per process on first use."""

    def __init__(self, storage: Storage, *, clock: Callable[[], float]) -> None:
        self.storage = storage
        self.clock = clock
        self._key: bytes | None = None
        self._lock = threading.Lock()

    def key(self) -> bytes:
        """The key; `StorageUnavailableError` while the database cannot answer."""
        key = self._key
        if key is None:
            with self._lock:
                if self._key is None:
                    self._key = load_or_create_key(self.storage, now=int(self.clock()))
                key = self._key
        return key


def load_or_create_key(storage: Storage, *, now: int) -> bytes:
    """The deployment's session key; the first instance to ask makes it."""
    query = select(shared_secrets.c.value).where(shared_secrets.c.name == SESSION_KEY_NAME)
    with storage.reading() as connection:
        found = connection.execute(query).scalar()
    if found is not None:
        return bytes(found)
    try:
        with storage.transaction() as work:
            work.execute(
                insert(shared_secrets),
                {"name": SESSION_KEY_NAME, "value": secrets.token_bytes(32), "created_at": now},
            )
    except sa_exc.IntegrityError:
        pass  # another instance made it meanwhile: use theirs
    else:
        log.info("made the session signing key (shared_secrets %s)", SESSION_KEY_NAME)
    with storage.reading() as connection:
        return bytes(connection.execute(query).scalar_one())


def session_keys() -> SessionKeys:
    """The running application's session key holder (built once in `init_app`)."""
    return current_app.extensions[SESSION_KEYS]


@dataclass(frozen=True)
class Session:
    """Who signed in, when (`auth_time`, OpenID Connect Core §2), and the session's id."""

    subject: str
    auth_time: int
    session_id: str


def new_session(subject: str, *, now: int) -> Session:
    """A fresh id at every sign-in, so a session id planted before it is worth nothing."""
    return Session(subject, now, secrets.token_urlsafe(16))


def seal_session(session: Session, *, key: bytes) -> str:
    """The cookie value: readable by anyone, changeable by no one without the key."""
    payload = {"sub": session.subject, "auth_time": session.auth_time, "sid": session.session_id}
    return _seal(_SESSION_PURPOSE, json.dumps(payload, separators=(",", ":")).encode(), key=key)


def open_session(value: str | None, *, key: bytes, now: int) -> Session | None:
    """The session a cookie holds, or None: unsigned, altered, malformed or too old."""
    payload = _open(_SESSION_PURPOSE, value, key=key)
    if payload is None:
        return None
    try:
        claims: Any = json.loads(payload)
        session = Session(str(claims["sub"]), int(claims["auth_time"]), str(claims["sid"]))
    except (ValueError, KeyError, TypeError):
        return None
    if not session.auth_time <= now < session.auth_time + SESSION_LIFETIME_SECONDS:
        return None
    return session


def new_csrf_binding() -> str:
    """256 random bits for a browser's CSRF cookie."""
    return secrets.token_urlsafe(32)


def csrf_token(binding: str, *, key: bytes) -> str:
    """The token a form carries for the browser whose CSRF cookie holds `binding`."""
    return _b64(hmac.new(key, _CSRF_PURPOSE + binding.encode(), hashlib.sha256).digest())


def csrf_matches(token: str | None, binding: str | None, *, key: bytes) -> bool:
    """Whether the form's token belongs to this browser's cookie, compared in constant time."""
    if not token or not binding or len(binding) > MAX_COOKIE_LENGTH:
        return False
    return hmac.compare_digest(token.encode(), csrf_token(binding, key=key).encode())


def cookies_secure(issuer: str) -> bool:
    """`Secure` everywhere but a loopback issuer (a developer's http://127.0.0.1)."""
    return not is_loopback_host(urlsplit(issuer).hostname or "")


def set_cookie(response: Response, name: str, value: str, *, secure: bool) -> None:
    """HttpOnly, SameSite=Lax (the redirect back from a client is a top-level GET), for
    the browser session only, and sent to /connect/ alone."""
    response.set_cookie(name, value, path=COOKIE_PATH, secure=secure, httponly=True, samesite="Lax")


def clear_cookie(response: Response, name: str, *, secure: bool) -> None:
    """Expire the cookie with the attributes it was set with, so the browser drops it."""
    response.delete_cookie(name, path=COOKIE_PATH, secure=secure, httponly=True, samesite="Lax")


def _seal(purpose: bytes, payload: bytes, *, key: bytes) -> str:
    signature = hmac.new(key, purpose + payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(signature)}"


def _open(purpose: bytes, value: str | None, *, key: bytes) -> bytes | None:
    if not value or len(value) > MAX_COOKIE_LENGTH or value.count(".") != 1:
        return None
    payload_part, signature_part = value.split(".")
    try:
        payload = _unb64(payload_part)
        signature = _unb64(signature_part)
    except (binascii.Error, ValueError):
        return None
    expected = hmac.new(key, purpose + payload, hashlib.sha256).digest()
    return payload if hmac.compare_digest(signature, expected) else None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text.encode("ascii") + b"=" * (-len(text) % 4))
