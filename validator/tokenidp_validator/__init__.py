"""Downstream validation of TokenIDP access tokens: a JWKS client and RFC 9068 checks.

The `tokenidp-validator` distribution: it needs only python-jose, cryptography and requests;
`tokenidp_validator.flask` adds Flask (extra `flask`), and metrics use prometheus_client when
it is installed (extra `prometheus`).
"""

from tokenidp_validator.claims import AccessToken
from tokenidp_validator.development import DEVELOPMENT_KEY_MARKER
from tokenidp_validator.errors import (
    AlgorithmMismatchError,
    ExpiredTokenError,
    ForbiddenHeaderError,
    InsufficientScopeError,
    InvalidSignatureError,
    JWKSFetchError,
    KeySetTooStaleError,
    KeySetUnavailableError,
    MalformedTokenError,
    MissingClaimError,
    TokenNotYetValidError,
    TokenTooLargeError,
    TokenValidationError,
    UnknownKeyError,
    UnsupportedAlgorithmError,
    ValidatorConfigError,
    ValidatorError,
    WrongAudienceError,
    WrongIssuerError,
    WrongTokenTypeError,
)
from tokenidp_validator.jwks_client import JWKSClient, JWKSClientStatus
from tokenidp_validator.keyset import KeySet, SigningKey, parse_jwks
from tokenidp_validator.metrics import ValidatorMetrics
from tokenidp_validator.roca import has_roca_fingerprint
from tokenidp_validator.tokens import (
    UnverifiedToken,
    read_unverified,
    signature_verifies,
    validate_token,
    validate_token_with_keys,
)

__all__ = [
    "DEVELOPMENT_KEY_MARKER",
    "AccessToken",
    "AlgorithmMismatchError",
    "ExpiredTokenError",
    "ForbiddenHeaderError",
    "InsufficientScopeError",
    "InvalidSignatureError",
    "JWKSClient",
    "JWKSClientStatus",
    "JWKSFetchError",
    "KeySet",
    "KeySetTooStaleError",
    "KeySetUnavailableError",
    "MalformedTokenError",
    "MissingClaimError",
    "SigningKey",
    "TokenNotYetValidError",
    "TokenTooLargeError",
    "TokenValidationError",
    "UnknownKeyError",
    "UnsupportedAlgorithmError",
    "UnverifiedToken",
    "ValidatorConfigError",
    "ValidatorError",
    "ValidatorMetrics",
    "WrongAudienceError",
    "WrongIssuerError",
    "WrongTokenTypeError",
    "has_roca_fingerprint",
    "parse_jwks",
    "read_unverified",
    "signature_verifies",
    "validate_token",
    "validate_token_with_keys",
]
