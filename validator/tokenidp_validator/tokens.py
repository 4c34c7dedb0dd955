"""validate_token: one header parse, a prebuilt key by kid, the signature, then the claims."""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol

from tokenidp_validator.claims import AccessToken, check_claims
from tokenidp_validator.errors import (
    AlgorithmMismatchError,
    ForbiddenHeaderError,
    InsufficientScopeError,
    InvalidSignatureError,
    KeySetUnavailableError,
    MalformedTokenError,
    TokenTooLargeError,
    TokenValidationError,
    UnknownKeyError,
    UnsupportedAlgorithmError,
    WrongTokenTypeError,
)
from tokenidp_validator.keyset import ACCEPTED_ALGORITHMS, SigningKey
from tokenidp_validator.metrics import ValidatorMetrics

DEFAULT_MAX_TOKEN_BYTES = 8192
MAX_HEADER_SEGMENT_BYTES = 1024
MAX_KID_LENGTH = 128
DEFAULT_LEEWAY_SECONDS = 30.0
# Header parameters that would let the token choose its own key or processing rules:
# jwk/jku/x5u/x5c (RFC 7515 §4.1.2-4.1.6) and crit (§4.1.11, we understand no extensions).
FORBIDDEN_HEADER_PARAMETERS = frozenset({"jwk", "jku", "x5u", "x5c", "crit"})
# RFC 9068 §2.1 / §4: "at+jwt", or the full media type, compared case-insensitively.
ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
# The 6-bit value of each base64url character, and the low bits of a segment's last character
# that encode no data, by segment length mod 4 (2 and 3 characters carry 1 and 2 bytes).
_BASE64URL_VALUES = {
    character: value
    for value, character in enumerate(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    )
}
_UNUSED_BITS_BY_LENGTH_MOD_4 = (0, 0, 0b1111, 0b11)
# Header segments that passed check_header, to their (kid, alg): an issuer emits one
# header per key, so a handful of entries saves the header parse on almost every token.
MAX_REMEMBERED_HEADERS = 64
_accepted_headers: dict[str, tuple[str, str]] = {}


class KeyLookup(Protocol):
    """Where validation finds the key a kid names: a JWKSClient, or a fixed key set."""

    def get_signing_key(self, kid: str) -> SigningKey: ...


@dataclass(frozen=True, slots=True)
class UnverifiedToken:
    """A token's parts as written: for diagnosis only, nothing here is trusted."""

    header: Mapping[str, Any]
    claims: Mapping[str, Any]
    signing_input: bytes
    signature: bytes


class _FixedKeys:
    """A key set already in hand (one fetched JWKS), with the client's lookup contract."""

    def __init__(self, keys: Mapping[str, SigningKey]) -> None:
        self._keys = keys

    def get_signing_key(self, kid: str) -> SigningKey:
        signing_key = self._keys.get(kid)
        if signing_key is None:
            raise UnknownKeyError(f"no signing key with kid {kid!r} in the key set")
        return signing_key


def validate_token(
    token: str,
    *,
    jwks_client: KeyLookup,
    issuer: str,
    audience: str,
    leeway_seconds: float = DEFAULT_LEEWAY_SECONDS,
    required_scopes: Iterable[str] = (),
    max_token_bytes: int = DEFAULT_MAX_TOKEN_BYTES,
    now: float | None = None,
    metrics: ValidatorMetrics | None = None,
) -> AccessToken:
    """Accept only an RFC 9068 access token from `issuer` for `audience`; else raise why not."""
    try:
        access_token = _validate(
            token,
            jwks_client=jwks_client,
            issuer=issuer,
            audience=audience,
            leeway_seconds=leeway_seconds,
            required_scopes=required_scopes,
            max_token_bytes=max_token_bytes,
            now=time.time() if now is None else now,
        )
    except TokenValidationError as e:
        if metrics is not None:
            metrics.record_validation(result="invalid", reason=e.reason)
        raise
    except KeySetUnavailableError as e:
        if metrics is not None:
            metrics.record_validation(result="unavailable", reason=e.reason)
        raise
    if metrics is not None:
        metrics.record_validation(result="valid", reason="ok")
    return access_token


def validate_token_with_keys(
    token: str,
    *,
    keys: Mapping[str, SigningKey],
    issuer: str,
    audience: str,
    leeway_seconds: float = DEFAULT_LEEWAY_SECONDS,
    required_scopes: Iterable[str] = (),
    max_token_bytes: int = DEFAULT_MAX_TOKEN_BYTES,
    now: float | None = None,
) -> AccessToken:
    """The same checks as validate_token against one key set in hand: what an API would decide."""
    return validate_token(
        token,
        jwks_client=_FixedKeys(keys),
        issuer=issuer,
        audience=audience,
        leeway_seconds=leeway_seconds,
        required_scopes=required_scopes,
        max_token_bytes=max_token_bytes,
        now=now,
    )


def read_unverified(
    token: str, *, max_token_bytes: int = DEFAULT_MAX_TOKEN_BYTES
) -> UnverifiedToken:
    """Split and decode without checking anything, so a refused token can still be explained."""
    header_segment, payload_segment, signature_segment = _segments(token, max_token_bytes)
    return UnverifiedToken(
        header=MappingProxyType(_decode_json_object(header_segment, part="header")),
        claims=MappingProxyType(_decode_json_object(payload_segment, part="payload")),
        signing_input=f"{header_segment}.{payload_segment}".encode("ascii"),
        signature=_decode_segment(signature_segment, part="signature"),
    )


def signature_verifies(unverified: UnverifiedToken, signing_key: SigningKey) -> bool:
    """Whether `signing_key` verifies the token's signature, regardless of its alg header."""
    return _signature_verifies(signing_key.key, unverified.signing_input, unverified.signature)


def _validate(
    token: str,
    *,
    jwks_client: KeyLookup,
    issuer: str,
    audience: str,
    leeway_seconds: float,
    required_scopes: Iterable[str],
    max_token_bytes: int,
    now: float,
) -> AccessToken:
    """The named steps; each raises its own TokenValidationError subclass."""
    header_segment, payload_segment, signature_segment = _segments(token, max_token_bytes)
    if len(header_segment) > MAX_HEADER_SEGMENT_BYTES:
        raise TokenTooLargeError(f"the header is longer than {MAX_HEADER_SEGMENT_BYTES} bytes")

    kid, algorithm = _accepted_kid_and_algorithm(header_segment)

    signing_key = jwks_client.get_signing_key(kid)
    if algorithm != signing_key.algorithm:
        raise AlgorithmMismatchError(
            f"alg {algorithm} does not match the {signing_key.algorithm} key {kid}"
        )
    signature = _decode_segment(signature_segment, part="signature")
    signing_input = token[: len(header_segment) + 1 + len(payload_segment)].encode("ascii")
    if not _signature_verifies(signing_key.key, signing_input, signature):
        raise InvalidSignatureError("the signature does not verify")

    claims = _decode_json_object(payload_segment, part="payload")
    access_token = check_claims(
        claims,
        issuer=issuer,
        audience=audience,
        now=now,
        leeway_seconds=leeway_seconds,
        kid=kid,
        algorithm=algorithm,
    )
    missing = tuple(sorted(set(required_scopes) - access_token.scopes))
    if missing:
        raise InsufficientScopeError(
            f"the token lacks scope {' '.join(missing)}", required_scopes=tuple(required_scopes)
        )
    return access_token


def _segments(token: str, max_token_bytes: int) -> tuple[str, str, str]:
    """Header, payload and signature of a JWS compact serialization, refused before any parsing
    when it is not text, too long or not three base64url segments."""
    if not isinstance(token, str):
        raise MalformedTokenError("the token is not text")
    if len(token) > max_token_bytes:
        raise TokenTooLargeError(f"the token is longer than {max_token_bytes} bytes")
    if _COMPACT_JWS.fullmatch(token) is None:
        if "=" in token:
            raise MalformedTokenError("a segment is padded with =, which JWS forbids (RFC 7515 §2)")
        raise MalformedTokenError("the token is not a JWS compact serialization")
    header_segment, payload_segment, signature_segment = token.split(".")
    return header_segment, payload_segment, signature_segment


def _accepted_kid_and_algorithm(header_segment: str) -> tuple[str, str]:
    """The header checks, remembered by exact segment text (same bytes, same verdict)."""
    accepted = _accepted_headers.get(header_segment)
    if accepted is None:
        accepted = check_header(_decode_json_object(header_segment, part="header"))
        if len(_accepted_headers) >= MAX_REMEMBERED_HEADERS:
            _accepted_headers.clear()
        _accepted_headers[header_segment] = accepted
    return accepted


def check_header(header: Mapping[str, Any]) -> tuple[str, str]:
    """Refuse self-chosen keys, crit, none/HMAC/unknown algs and non-access-token types."""
    forbidden = FORBIDDEN_HEADER_PARAMETERS.intersection(header)
    if forbidden:
        raise ForbiddenHeaderError(f"header parameter {min(forbidden)} is not accepted")
    algorithm = header.get("alg")
    if not isinstance(algorithm, str):
        raise UnsupportedAlgorithmError("the header has no alg string")
    if algorithm not in ACCEPTED_ALGORITHMS:
        raise UnsupportedAlgorithmError(f"alg {algorithm!r} is not accepted")
    token_type = header.get("typ")
    if not isinstance(token_type, str):
        raise WrongTokenTypeError("the header has no typ string; access tokens carry at+jwt")
    if token_type.lower() not in ACCESS_TOKEN_TYPES:
        raise WrongTokenTypeError(f"typ {token_type!r} is not at+jwt")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > MAX_KID_LENGTH:
        raise MalformedTokenError("the header has no usable kid")
    return kid, algorithm


def _signature_verifies(key: Any, signing_input: bytes, signature: bytes) -> bool:
    """python-jose's prebuilt key verifies with the algorithm it was constructed for."""
    try:
        return bool(key.verify(signing_input, signature))
    except Exception:  # a malformed signature may raise instead of returning False
        return False


def _decode_segment(segment: str, *, part: str) -> bytes:
    """base64url without padding (RFC 7515 §2), in its one canonical spelling: the unused
    bits of the last character must be zero (RFC 4648 §3.5), or one signature would have
    several spellings that all verify."""
    try:
        decoded = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as e:
        raise MalformedTokenError(f"the {part} is not base64url") from e
    if _BASE64URL_VALUES[segment[-1]] & _UNUSED_BITS_BY_LENGTH_MOD_4[len(segment) % 4]:
        raise MalformedTokenError(f"the {part} is not canonical base64url (unused bits set)")
    return decoded


class _RefusedJSON(ValueError):
    """Internal: valid JSON we still refuse; the message is our own words, shown to callers."""


def _decode_json_object(segment: str, *, part: str) -> dict[str, Any]:
    """A UTF-8 JSON object with unique member names and no NaN/Infinity (RFC 7515 §5.2,
    RFC 8259). Every refusal is described in our own words, never a parser's message."""
    try:
        text = _decode_segment(segment, part=part).decode("utf-8")
    except UnicodeDecodeError as e:
        raise MalformedTokenError(f"the {part} is not UTF-8") from e
    try:
        value = json.loads(text, object_pairs_hook=_unique_members, parse_constant=_refuse_constant)
    except _RefusedJSON as e:
        raise MalformedTokenError(f"the {part} {e}") from e
    except json.JSONDecodeError as e:
        raise MalformedTokenError(f"the {part} is not valid JSON") from e
    except ValueError as e:  # an integer longer than Python converts (sys.get_int_max_str_digits)
        raise MalformedTokenError(f"the {part} holds a number too long to read") from e
    except RecursionError as e:
        raise MalformedTokenError(f"the {part} is nested too deeply") from e
    if not isinstance(value, dict):
        raise MalformedTokenError(f"the {part} is not a JSON object")
    return value


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Duplicate names are ambiguous between parsers, so refuse them."""
    members = dict(pairs)
    if len(members) != len(pairs):
        raise _RefusedJSON("has duplicate member names")
    return members


def _refuse_constant(name: str) -> None:
    """NaN and Infinity are not JSON and would defeat the exp/nbf comparisons."""
    raise _RefusedJSON("holds NaN or Infinity, which are not JSON numbers")
