"""Downstream validation of TokenIDP access tokens: a JWKS client and RFC 9068 checks.

Needs only python-jose, cryptography and requests; `validator.flask` adds Flask,
and metrics use prometheus_client when it is installed.
"""

from validator.claims import AccessToken
from validator.errors import (
    AlgorithmMismatchError,
    ExpiredTokenError,
    ForbiddenHeaderError,
    InsufficientScopeError,
    InvalidSignatureError,
    JWKSFetchError,
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
from validator.jwks_client import JWKSClient, JWKSClientStatus
from validator.keyset import KeySet, SigningKey, parse_jwks
from validator.metrics import ValidatorMetrics
from validator.tokens import (
    UnverifiedToken,
    read_unverified,
    signature_verifies,
    validate_token,
    validate_token_with_keys,
)

__all__ = [
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
    "parse_jwks",
    "read_unverified",
    "signature_verifies",
    "validate_token",
    "validate_token_with_keys",
]
