"""Load settings the way the contract says: JSON files, then `__` environment variables.

Keys are case-insensitive. The result is a frozen `Settings`; nothing else reads the
environment or the files. Misspelled keys and risky choices become `Settings.warnings`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from app.client_secrets import configured_digest, hash_client_secret
from app.config.operations import (
    metrics_options,
    rate_limit_options,
    redis_url,
    trusted_proxies,
)
from app.config.schema import SECRET_SETTINGS
from app.config.settings import (
    ENVIRONMENTS,
    STORE_LOCATIONS,
    ClientConfig,
    Settings,
    TokenOptions,
)
from app.config.sources import RawConfig, read_sources
from app.config.values import as_list, public_url, seconds, section, shown, text
from app.errors import ConfigError
from app.oauth.grant_types import GRANT_TYPE_NAMES

__all__ = [
    "ENVIRONMENTS",
    "STORE_LOCATIONS",
    "ClientConfig",
    "Settings",
    "TokenOptions",
    "hash_client_secret",
    "load_config",
    "with_origin_hint",
]

DEFAULT_STORE_ROOT = "/etc/tokenidp/certstores"


def load_config(
    environ: Mapping[str, str] | None = None, *, config_dir: Path | None = None
) -> Settings:
    """Merge appsettings files and environment variables into frozen `Settings`."""
    environ = os.environ if environ is None else environ
    environment = _environment_name(environ.get("TOKENIDP_ENVIRONMENT"))
    config_dir = Path(config_dir or environ.get("TOKENIDP_CONFIG_DIR") or Path.cwd())
    raw = read_sources(config_dir, environment, environ)
    instance_dir = Path(environ.get("TOKENIDP_INSTANCE_DIR") or config_dir / "instance")
    token = _token_options(
        section(raw.tree, "tokenoptions", "TokenOptions"), environment, environ, config_dir
    )
    return Settings(
        environment=environment,
        config_dir=config_dir,
        instance_dir=instance_dir,
        token=token,
        clients=_clients(raw.tree.get("clients")),
        sources=tuple(raw.files),
        origins=MappingProxyType(dict(raw.origins)),
        warnings=tuple(raw.warnings + _secrets_in_files(raw, environment)),
        database_url=environ.get("TOKENIDP_DATABASE_URL") or None,
        redis_url=redis_url(environ),
        trusted_proxies=trusted_proxies(environ, Settings.trusted_proxies),
        metrics=metrics_options(section(raw.tree, "metrics", "Metrics")),
        rate_limits=rate_limit_options(section(raw.tree, "ratelimits", "RateLimits"), environ),
    )


def with_origin_hint(error: ConfigError, settings: Settings) -> ConfigError:
    """In Development, say when the refused value came from `appsettings.json`, which every
    environment reads: Production-only settings belong in `appsettings.Production.json`."""
    origin = settings.origin(error.setting)
    if not settings.is_development or not origin.endswith("appsettings.json"):
        return error
    return ConfigError(
        error.setting,
        f"{error.message} (set in {origin}, which every environment reads: keep "
        "Production settings in appsettings.Production.json)",
    )


def _environment_name(raw: str | None) -> str:
    if not raw:
        return "Production"
    for name in ENVIRONMENTS:
        if raw.strip().lower() == name.lower():
            return name
    raise ConfigError(
        "TOKENIDP_ENVIRONMENT", f"{shown(raw)} is not one of {', '.join(ENVIRONMENTS)}"
    )


def _secrets_in_files(raw: RawConfig, environment: str) -> list[str]:
    """Production keeps secrets out of settings files, which are copied and committed."""
    if environment != "Production":
        return []
    return [
        f"{setting} is set in {origin}: keep secrets out of settings files; use the "
        f"environment ({setting.replace(':', '__')}) or TokenOptions:CertificatePasswordFile"
        for setting in SECRET_SETTINGS
        if not (origin := raw.origins.get(setting.lower(), "$")).startswith("$")
    ]


def _token_options(
    options: Mapping[str, Any], environment: str, environ: Mapping[str, str], config_dir: Path
) -> TokenOptions:
    def read_text(key: str) -> str | None:
        return text(options, key, f"TokenOptions:{key}")

    def read_seconds(key: str, default: int) -> int:
        return seconds(options, key, f"TokenOptions:{key}", default)

    development = environment == "Development"
    issuer = read_text("Issuer")
    if issuer is None:
        if not development:
            raise ConfigError(
                "TokenOptions:Issuer",
                f"required in {environment}: the URL clients use, e.g. https://id.example.com",
            )
        issuer = f"http://127.0.0.1:{environ.get('PORT', '5000')}"
    issuer = public_url(
        issuer.rstrip("/"),
        "TokenOptions:Issuer",
        development=development,
        allow_query=False,
        example="https://id.example.com",
    )
    jwks_uri = public_url(
        read_text("JwksUri") or f"{issuer}/.well-known/jwks.json",
        "TokenOptions:JwksUri",
        development=development,
        allow_query=True,
        example="https://keys.example.com/.well-known/jwks.json",
    )
    location = read_text("CertificateStoreLocation") or "CurrentUser"
    matched = [name for name in STORE_LOCATIONS if name.lower() == location.lower()]
    if not matched:
        raise ConfigError(
            "TokenOptions:CertificateStoreLocation",
            f"{shown(location)} is not one of {', '.join(STORE_LOCATIONS)}",
        )
    max_age = read_seconds("JwksCacheMaxAge", 300)
    activation_delay = read_seconds("KeyActivationDelay", 3600)
    if not development and activation_delay < 2 * max_age:
        raise ConfigError(
            "TokenOptions:KeyActivationDelay",
            f"{activation_delay} s is shorter than twice TokenOptions:JwksCacheMaxAge "
            f"({2 * max_age} s): a validator holding a cached JWKS from the CDN could meet "
            "a new key before its copy has it; raise the delay or lower JwksCacheMaxAge",
        )
    return TokenOptions(
        issuer=issuer,
        audience=read_text("Audience") or "tokenidp-api",
        certificate_thumbprint=read_text("CertificateThumbprint"),
        certificate_subject_name=read_text("CertificateSubjectName"),
        certificate_store_name=read_text("CertificateStoreName") or "My",
        certificate_store_location=matched[0],
        certificate_store_root=Path(read_text("CertificateStoreRoot") or DEFAULT_STORE_ROOT),
        certificate_password=_certificate_password(options, config_dir),
        certificate_password_file=_password_file_path(options, config_dir),
        additional_validation_certificates=_text_list(options, "AdditionalValidationCertificates"),
        revoked_certificate_thumbprints=_text_list(options, "RevokedCertificateThumbprints"),
        key_activation_delay_seconds=activation_delay,
        jwks_uri=jwks_uri,
        jwks_cache_max_age_seconds=max_age,
        access_token_lifetime_seconds=read_seconds("AccessTokenLifetime", 3600) or 3600,
        refresh_token_lifetime_seconds=read_seconds("RefreshTokenLifetime", 2_592_000),
        keyring_refresh_interval_seconds=_refresh_interval(
            read_seconds("KeyringRefreshInterval", 10)
        ),
    )


def _refresh_interval(seconds: int) -> int:
    """Between 1 s and 5 minutes: longer would leave a revoked key signing that long."""
    if not 1 <= seconds <= 300:
        raise ConfigError(
            "TokenOptions:KeyringRefreshInterval",
            f"{seconds} s is outside 1 to 300 s: it bounds how long a revoked key keeps "
            "signing in a running instance",
        )
    return seconds


def _password_file_path(options: Mapping[str, Any], config_dir: Path) -> Path | None:
    file_name = text(options, "CertificatePasswordFile", "TokenOptions:CertificatePasswordFile")
    return config_dir / file_name if file_name is not None else None


def _certificate_password(options: Mapping[str, Any], config_dir: Path) -> str | None:
    """`CertificatePassword`, or the content of `CertificatePasswordFile` (container secrets)."""
    password = text(options, "CertificatePassword", "TokenOptions:CertificatePassword")
    path = _password_file_path(options, config_dir)
    if path is None:
        return password
    if password is not None:
        raise ConfigError(
            "TokenOptions:CertificatePasswordFile",
            "set either TokenOptions:CertificatePassword or TokenOptions:CertificatePasswordFile, "
            "not both",
        )
    try:
        content = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or "not UTF-8 text"
        raise ConfigError(
            "TokenOptions:CertificatePasswordFile", f"cannot read {path}: {reason}"
        ) from None
    return content.removesuffix("\n").removesuffix("\r") or None


def _text_list(options: Mapping[str, Any], key: str) -> tuple[str, ...]:
    return tuple(str(item) for item in as_list(options.get(key.lower()), f"TokenOptions:{key}"))


def _clients(node: Any) -> tuple[ClientConfig, ...]:
    clients = []
    seen = set()
    for index, entry in enumerate(as_list(node, "Clients")):
        where = f"Clients:{index}"
        if not isinstance(entry, dict):
            raise ConfigError(where, "expected an object with ClientId and ClientSecrets")
        client_id = text(entry, "ClientId", f"{where}:ClientId")
        if not client_id:
            raise ConfigError(f"{where}:ClientId", "required")
        if client_id in seen:
            raise ConfigError(f"{where}:ClientId", f"{shown(client_id)} is registered twice")
        seen.add(client_id)
        digests = []
        for secret_index, secret in enumerate(
            as_list(entry.get("clientsecrets"), f"{where}:ClientSecrets")
        ):
            setting = f"{where}:ClientSecrets:{secret_index}:Value"
            value = secret.get("value") if isinstance(secret, dict) else None
            digests.append(_secret_digest(value, setting))
        is_public = _flag(entry.get("public"), f"{where}:Public")
        if is_public and digests:
            raise ConfigError(
                f"{where}:ClientSecrets", f"client {shown(client_id)} is Public: it has no secret"
            )
        if not digests and not is_public:
            raise ConfigError(f"{where}:ClientSecrets", f"client {shown(client_id)} has no secret")
        grant_types = tuple(
            str(grant)
            for grant in as_list(entry.get("allowedgranttypes"), f"{where}:AllowedGrantTypes")
        )
        for grant in grant_types:
            if grant not in GRANT_TYPE_NAMES:
                raise ConfigError(
                    f"{where}:AllowedGrantTypes",
                    f"{shown(grant)} is not supported (supported: {', '.join(GRANT_TYPE_NAMES)})",
                )
        if not grant_types:  # a public client's one grant is the authorization code's
            grant_types = ("authorization_code",) if is_public else ("client_credentials",)
        scopes = tuple(
            str(scope) for scope in as_list(entry.get("allowedscopes"), f"{where}:AllowedScopes")
        )
        for scope in scopes:
            if not is_scope_token(scope):
                raise ConfigError(f"{where}:AllowedScopes", f"{shown(scope)} is not a valid scope")
        if is_public and "client_credentials" in grant_types:
            raise ConfigError(
                f"{where}:AllowedGrantTypes",
                f"client {shown(client_id)} is Public: it cannot use client_credentials",
            )
        clients.append(
            ClientConfig(
                client_id,
                tuple(digests),
                grant_types,
                scopes,
                redirect_uris=_redirect_uris(entry, "RedirectUris", where),
                post_logout_redirect_uris=_redirect_uris(entry, "PostLogoutRedirectUris", where),
                is_public=is_public,
            )
        )
    return tuple(clients)


def _flag(value: Any, setting: str) -> bool:
    """true/false in JSON, or the same words in an environment variable."""
    if value is None or value == "" or value is False:
        return False
    if value is True or str(value).strip().lower() == "true":
        return True
    if str(value).strip().lower() == "false":
        return False
    raise ConfigError(setting, f"{shown(value)} is not true or false")


def _redirect_uris(entry: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    """Absolute https URIs (http for loopback hosts), matched exactly at the endpoints."""
    from app.clients import redirect_uri_problem  # app.clients reads this package

    setting = f"{where}:{key}"
    uris = tuple(str(uri) for uri in as_list(entry.get(key.lower()), setting))
    for uri in uris:
        problem = redirect_uri_problem(uri)
        if problem is not None:
            raise ConfigError(setting, f"{shown(uri)} {problem}")
    return tuple(dict.fromkeys(uris))


# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ); scope = tokens joined by " ".
SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+(?: [\x21\x23-\x5b\x5d-\x7e]+)*")


def is_scope_token(scope: str) -> bool:
    """RFC 6749 §3.3: one scope-token (no space, quote or backslash; printable ASCII)."""
    return SCOPE_TOKEN.fullmatch(scope) is not None


def _secret_digest(value: Any, setting: str) -> bytes:
    if not isinstance(value, str) or not value:
        raise ConfigError(
            setting, "required: the base64 SHA-256 that `tokenidp hash-secret` prints"
        )
    try:
        return configured_digest(value)
    except ValueError:
        raise ConfigError(
            setting, "not a base64 SHA-256 digest; use the value `tokenidp hash-secret` prints"
        ) from None
