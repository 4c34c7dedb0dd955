"""One-line reasons for botocore failures, so the publisher never surfaces a bare botocore error."""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
    SSOError,
    TokenRetrievalError,
)

ACCESS_DENIED_CODES = frozenset({"AccessDenied", "403", "Forbidden", "AllAccessDisabled"})
# The service does not know or believe who is asking: the fix is the credentials, not a policy.
CREDENTIALS_REFUSED_CODES = frozenset(
    {
        "InvalidAccessKeyId",  # S3: no such access key
        "SignatureDoesNotMatch",  # S3, CloudFront: wrong secret key
        "InvalidSignatureException",
        "IncompleteSignature",
        "ExpiredToken",  # S3: the session token has expired
        "ExpiredTokenException",
        "InvalidToken",  # S3: malformed or revoked session token
        "TokenRefreshRequired",
        "InvalidClientTokenId",  # CloudFront, STS: no such access key or token
        "UnrecognizedClientException",
        "MissingAuthenticationToken",
        "AuthFailure",
    }
)
CREDENTIAL_LOADING_ERRORS = (
    NoCredentialsError,
    PartialCredentialsError,
    CredentialRetrievalError,
    TokenRetrievalError,
    SSOError,
)


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def describe_aws_error(error: BotoCoreError | ClientError, *, service: str, action: str) -> str:
    """Why `action` failed, in one line naming what to check (bucket, permissions, endpoint)."""
    if isinstance(error, ClientError):
        code = error_code(error)
        message = str(error.response.get("Error", {}).get("Message", "")).strip()
        if code == "NoSuchBucket":
            return f"{action}: the bucket does not exist (create it, or fix --target)"
        if code in CREDENTIALS_REFUSED_CODES:
            return (
                f"{action}: the AWS credentials were refused ({code}): check AWS_ACCESS_KEY_ID "
                "/ the deploy role"
            )
        if code in ACCESS_DENIED_CODES:
            return f"{action}: access denied (check the deploy role's {service} permissions)"
        detail = f"{code}: {message}" if message else code or "unknown error"
        return f"{action}: {service} answered {detail}"
    if isinstance(error, ReadTimeoutError):
        endpoint = error.kwargs.get("endpoint_url")
        return f"{action}: the {service} endpoint {endpoint} did not answer in time (read timeout)"
    if isinstance(error, ConnectTimeoutError):
        endpoint = error.kwargs.get("endpoint_url")
        return f"{action}: cannot connect to the {service} endpoint {endpoint} in time"
    if isinstance(error, EndpointConnectionError):
        return f"{action}: cannot reach the {service} endpoint {error.kwargs.get('endpoint_url')}"
    if isinstance(error, ConnectionError):
        return f"{action}: connection to {service} failed ({_one_line(error)})"
    if isinstance(error, CREDENTIAL_LOADING_ERRORS):
        return f"{action}: no usable AWS credentials ({_one_line(error)})"
    return f"{action}: {service} request failed ({_one_line(error)})"


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())
