"""Reading a request body within bounds, the same way under both adapters.

A body larger than MAX_BODY_BYTES is refused before it is read; one shorter than its
Content-Length (the client closed early) is incomplete (RFC 9112 §6.3) and refused.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.oauth.errors import InvalidRequestError

MAX_BODY_BYTES = 16 * 1024


def declared_length(headers: Sequence[tuple[bytes, bytes]]) -> int | None:
    """The Content-Length, or None when the body is chunked or absent."""
    for name, value in headers:
        if name == b"content-length":
            if not value.isdigit():
                raise InvalidRequestError("Content-Length is not a number")
            length = int(value)
            if length > MAX_BODY_BYTES:
                raise too_large()
            return length
    return None


def too_large() -> InvalidRequestError:
    return InvalidRequestError(f"the body must be at most {MAX_BODY_BYTES} bytes")


def incomplete() -> InvalidRequestError:
    return InvalidRequestError("the body is shorter than its Content-Length")
