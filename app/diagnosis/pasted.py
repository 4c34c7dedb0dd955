"""A token as operators paste it: copied from a header, a log, a terminal or a token response.

Pure. Accepts surrounding whitespace and quotes, an `Authorization:` header, a `Bearer `
prefix, line breaks inside the token, and the JSON token response (RFC 6749 §5.1). Errors
never repeat what was pasted: it may be a live token.
"""

from __future__ import annotations

import json

from app.errors import TokenIdpError

STRAY = " \t\r\n\"'`,;"


class PastedTokenError(TokenIdpError):
    """What was pasted holds no token; the message says why without repeating it."""


def token_from_paste(pasted: str) -> str:
    """The compact JWS inside `pasted`; whether it is a valid JWT is the validator's call."""
    text = _unquoted(pasted)
    if text.startswith("{"):
        text = _access_token(text)
    text = _unquoted(_without_prefix(text, "authorization:"))
    text = _unquoted(_without_prefix(text, "bearer"))
    return "".join(text.split())


def _access_token(text: str) -> str:
    """`access_token` of a token response, e.g. `{"access_token": "eyJ…", "token_type": …}`."""
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise PastedTokenError(
            "starts with { but is not JSON (paste the token response whole)"
        ) from None
    token = document.get("access_token") if isinstance(document, dict) else None
    if not isinstance(token, str):
        raise PastedTokenError("a JSON object without an access_token string")
    return token


def _without_prefix(text: str, prefix: str) -> str:
    """`text` without `prefix` (any case) when a space or the end follows it."""
    head, rest = text[: len(prefix)], text[len(prefix) :]
    if head.lower() == prefix and (prefix.endswith(":") or not rest or rest[0].isspace()):
        return rest
    return text


def _unquoted(text: str) -> str:
    """Without surrounding whitespace, quotes, or a comma copied from JSON: no JWT holds them."""
    return text.strip(STRAY)
