"""The validator's error types: one base class; token errors carry an RFC 6750 code."""


class ValidatorError(Exception):
    """Base of every error the validator raises on purpose."""


class ValidatorConfigError(ValidatorError):
    """The validator was set up wrongly; the message names the setting and the fix."""


class JWKSFetchError(ValidatorError):
    """One attempt to fetch the JWKS failed (transport, HTTP status, or document)."""


class KeySetUnavailableError(ValidatorError):
    """No key set to check tokens with: none fetched yet, or the last one dropped."""

    reason = "no_key_set"


class KeySetTooStaleError(KeySetUnavailableError):
    """The JWKS was not refreshed within max_staleness_seconds, so its keys were dropped.

    Trusting them longer would let a validator cut off from the JWKS honour a revoked key
    indefinitely; service resumes at the next successful fetch.
    """

    reason = "key_set_too_stale"

    def __init__(self, message: str, *, age_seconds: float, max_staleness_seconds: float) -> None:
        super().__init__(message)
        self.age_seconds = age_seconds
        self.max_staleness_seconds = max_staleness_seconds


class TokenValidationError(ValidatorError):
    """A token was refused; `error` goes in WWW-Authenticate, `reason` labels metrics."""

    error = "invalid_token"
    reason = "invalid"
    status_code = 401

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class MalformedTokenError(TokenValidationError):
    """Not a JWS compact serialization with JSON header and payload (RFC 7515 §7.1)."""

    reason = "malformed"


class TokenTooLargeError(TokenValidationError):
    """Refused on size alone, before any parsing or cryptography."""

    reason = "too_large"


class UnsupportedAlgorithmError(TokenValidationError):
    """The header names `none`, an HMAC algorithm, or one we never accept."""

    reason = "unsupported_alg"


class AlgorithmMismatchError(TokenValidationError):
    """The header's alg is not the one algorithm pinned to the key the kid names."""

    reason = "alg_mismatch"


class ForbiddenHeaderError(TokenValidationError):
    """The header carries key material, a key URL, or `crit`, which we never honour."""

    reason = "forbidden_header"


class WrongTokenTypeError(TokenValidationError):
    """The header's typ is not `at+jwt` (RFC 9068 §2.1, §4)."""

    reason = "wrong_typ"


class UnknownKeyError(TokenValidationError):
    """No key in the issuer's JWKS has the token's kid, even after a refresh."""

    reason = "unknown_kid"


class InvalidSignatureError(TokenValidationError):
    """The signature does not verify with the key the kid names."""

    reason = "bad_signature"


class MissingClaimError(TokenValidationError):
    """A claim RFC 9068 §2.2 requires is absent, has the wrong JSON type, or is out of range."""

    reason = "missing_claim"


class ExpiredTokenError(TokenValidationError):
    """`exp` has passed, beyond the leeway."""

    reason = "expired"


class TokenNotYetValidError(TokenValidationError):
    """`nbf` or `iat` lies in the future, beyond the leeway."""

    reason = "not_yet_valid"


class WrongIssuerError(TokenValidationError):
    """`iss` is not the issuer this API trusts."""

    reason = "wrong_issuer"


class WrongAudienceError(TokenValidationError):
    """`aud` does not name this API."""

    reason = "wrong_audience"


class InsufficientScopeError(TokenValidationError):
    """A valid token that lacks a scope the resource requires (RFC 6750 §3.1)."""

    error = "insufficient_scope"
    reason = "insufficient_scope"
    status_code = 403

    def __init__(self, description: str, *, required_scopes: tuple[str, ...]) -> None:
        super().__init__(description)
        self.required_scopes = required_scopes
