"""`OAuthRequest` and `OAuthResponse`: what a handler reads and returns, framework-free.

Headers are byte pairs with lower-case names, as ASGI delivers them, so the hot path
converts nothing it does not read. Responses carry their exact headers, Content-Length
included, so a precomputed response is sent as it is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any, NamedTuple, Protocol

Headers = tuple[tuple[bytes, bytes], ...]
JSON_TYPE = (b"content-type", b"application/json")
# RFC 6749 §5.1: token responses (and errors next to them) are never cached.
NO_STORE = ((b"cache-control", b"no-store"), (b"pragma", b"no-cache"))
STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}


class OAuthRequest(NamedTuple):
    """One request as a handler sees it: method, path, raw headers, the whole body, the peer.

    A NamedTuple, not a frozen dataclass: one is made per request, and a frozen
    dataclass's `__init__` costs a `object.__setattr__` per field.
    """

    method: str
    path: str
    headers: Sequence[tuple[bytes, bytes]]
    body: bytes
    remote_address: str

    def header(self, name: bytes) -> str | None:
        """The first value of a header (`name` in lower case), decoded as HTTP's latin-1."""
        for key, value in self.headers:
            if key == name:
                return value.decode("latin-1")
        return None


class OAuthResponse(NamedTuple):
    status: int
    headers: Headers
    body: bytes


class Endpoint(Protocol):
    """A handler mounted at one exact path; `reads_body` says whether the adapter reads it.

    `handle` is a coroutine so a step may await storage (in a thread pool under ASGI);
    it never awaits anything else.
    """

    reads_body: bool

    async def handle(self, request: OAuthRequest) -> OAuthResponse: ...


def response(
    status: int, body: bytes, headers: Iterable[tuple[bytes, bytes]] = ()
) -> OAuthResponse:
    """A response with its Content-Length."""
    return OAuthResponse(status, (*headers, (b"content-length", str(len(body)).encode())), body)


def json_response(
    document: Mapping[str, Any], *, status: int = 200, headers: Iterable[tuple[bytes, bytes]] = ()
) -> OAuthResponse:
    """A JSON body that must never be cached (RFC 6749 §5.1)."""
    return response(status, json_body(document), (JSON_TYPE, *NO_STORE, *headers))


def json_body(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def header_pairs(headers: Mapping[str, str]) -> Headers:
    return tuple(
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
    )
