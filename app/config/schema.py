"""Every setting name TokenIDP reads, so that a key it does not know is a misspelling.

One name per setting everywhere: `TokenOptions:Issuer` in JSON is `TokenOptions__Issuer`
in the environment and the same row in the README's settings table.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class TokenSetting:
    """A `TokenOptions` key and the `TokenOptions` attribute that holds its value."""

    key: str
    attribute: str
    secret: bool = False

    @property
    def name(self) -> str:
        return f"TokenOptions:{self.key}"


TOKEN_SETTINGS = (
    TokenSetting("Issuer", "issuer"),
    TokenSetting("Audience", "audience"),
    TokenSetting("CertificateThumbprint", "certificate_thumbprint"),
    TokenSetting("CertificateSubjectName", "certificate_subject_name"),
    TokenSetting("CertificateStoreName", "certificate_store_name"),
    TokenSetting("CertificateStoreLocation", "certificate_store_location"),
    TokenSetting("CertificateStoreRoot", "certificate_store_root"),
    TokenSetting("CertificatePassword", "certificate_password", secret=True),
    TokenSetting("CertificatePasswordFile", "certificate_password_file"),
    TokenSetting("AdditionalValidationCertificates", "additional_validation_certificates"),
    TokenSetting("RevokedCertificateThumbprints", "revoked_certificate_thumbprints"),
    TokenSetting("KeyActivationDelay", "key_activation_delay_seconds"),
    TokenSetting("JwksUri", "jwks_uri"),
    TokenSetting("JwksCacheMaxAge", "jwks_cache_max_age_seconds"),
    TokenSetting("AccessTokenLifetime", "access_token_lifetime_seconds"),
    TokenSetting("RefreshTokenLifetime", "refresh_token_lifetime_seconds"),
    TokenSetting("KeyringRefreshInterval", "keyring_refresh_interval_seconds"),
)
CLIENT_KEYS = (
    "ClientId",
    "ClientSecrets",
    "AllowedGrantTypes",
    "AllowedScopes",
    "RedirectUris",
    "PostLogoutRedirectUris",
    "Public",
)
CLIENT_SECRET_KEYS = ("Value",)
METRICS_KEYS = ("AllowedNetworks", "BearerSecretSha256")
RATE_LIMIT_KEYS = ("FailuresPerAddress", "FailuresPerId")
SECTIONS = ("TokenOptions", "Clients", "Metrics", "RateLimits")
# Settings that hold a secret: masked by `config show`, and warned about when in a file.
SECRET_SETTINGS = ("TokenOptions:CertificatePassword",)


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name a misspelling most resembles, compared without regard to case."""
    by_lower = {candidate.lower(): candidate for candidate in known}
    match = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[match[0]] if match else None


def unknown_setting_warnings(document: object, *, source: str) -> list[str]:
    """A warning for every key of a settings document (or variable) TokenIDP would ignore."""
    if not isinstance(document, dict):
        return []
    warnings = []
    for section, value in document.items():
        lowered = str(section).lower()
        if lowered not in _lower(SECTIONS):
            warnings.append(_unknown(section, closest(str(section), SECTIONS), source))
        elif lowered == "tokenoptions" and isinstance(value, dict):
            keys = [setting.key for setting in TOKEN_SETTINGS]
            warnings += _unknown_keys(value, keys, "TokenOptions", source)
        elif lowered == "metrics" and isinstance(value, dict):
            warnings += _unknown_keys(value, METRICS_KEYS, "Metrics", source)
        elif lowered == "ratelimits" and isinstance(value, dict):
            warnings += _unknown_keys(value, RATE_LIMIT_KEYS, "RateLimits", source)
        elif lowered == "clients":
            for index, client in _items(value):
                prefix = f"Clients:{index}"
                warnings += _unknown_keys(client, CLIENT_KEYS, prefix, source)
                secrets = client.get(_find_key(client, "ClientSecrets")) if client else None
                for secret_index, secret in _items(secrets):
                    warnings += _unknown_keys(
                        secret, CLIENT_SECRET_KEYS, f"{prefix}:ClientSecrets:{secret_index}", source
                    )
    return warnings


def _unknown_keys(node: object, known: Iterable[str], prefix: str, source: str) -> list[str]:
    if not isinstance(node, dict):
        return []
    known = tuple(known)
    return [
        _unknown(f"{prefix}:{key}", _qualified(prefix, closest(str(key), known)), source)
        for key in node
        if str(key).lower() not in _lower(known)
    ]


def _unknown(name: object, suggestion: str | None, source: str) -> str:
    hint = f" (did you mean {suggestion}?)" if suggestion else ""
    return f"{source}: unknown setting {name}{hint}; it is ignored"


def _qualified(prefix: str, key: str | None) -> str | None:
    return f"{prefix}:{key}" if key else None


def _items(node: object) -> list[tuple[str, dict]]:
    """(index, object) pairs of a JSON list or an index-keyed object (`Clients__0__…`)."""
    if isinstance(node, list):
        pairs = list(enumerate(node))
    elif isinstance(node, dict):
        pairs = list(node.items())
    else:
        return []
    return [(str(index), item) for index, item in pairs if isinstance(item, dict)]


def _find_key(node: dict, key: str) -> str | None:
    return next((name for name in node if str(name).lower() == key.lower()), None)


def _lower(names: Iterable[str]) -> set[str]:
    return {name.lower() for name in names}
