"""Load settings the way the contract says: JSON files, then `__` environment variables.

Keys are case-insensitive. The result is a frozen `Settings`; nothing else reads
the environment or the files.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.errors import ConfigError

ENVIRONMENTS = ("Development", "Staging", "Production")
STORE_LOCATIONS = ("CurrentUser", "LocalMachine")
GRANT_TYPES = ("client_credentials",)


@dataclass(frozen=True)
class ClientConfig:
    """A registered client: secrets are kept only as SHA-256 digests."""

    client_id: str
    secret_sha256_digests: tuple[bytes, ...]
    allowed_grant_types: tuple[str, ...]
    allowed_scopes: tuple[str, ...]


@dataclass(frozen=True)
class TokenOptions:
    """The `TokenOptions` section, typed and defaulted."""

    issuer: str
    audience: str
    certificate_thumbprint: str | None = None
    certificate_subject_name: str | None = None
    certificate_store_name: str = "My"
    certificate_store_location: str = "CurrentUser"
    certificate_store_root: Path = Path("/etc/tokenidp/certstores")
    certificate_password: str | None = field(default=None, repr=False)
    additional_validation_certificates: tuple[str, ...] = ()
    revoked_certificate_thumbprints: tuple[str, ...] = ()
    key_activation_delay_seconds: int = 3600
    jwks_uri: str = ""
    jwks_cache_max_age_seconds: int = 300
    access_token_lifetime_seconds: int = 3600
    refresh_token_lifetime_seconds: int = 2_592_000

    @property
    def store_folder(self) -> Path:
        """`{CertificateStoreRoot}/{CertificateStoreLocation}/{CertificateStoreName}`."""
        return (
            self.certificate_store_root
            / self.certificate_store_location
            / self.certificate_store_name
        )


@dataclass(frozen=True)
class Settings:
    """Everything the IdP, the publisher and the CLI read from configuration."""

    environment: str
    config_dir: Path
    instance_dir: Path
    token: TokenOptions
    clients: tuple[ClientConfig, ...] = ()
    sources: tuple[str, ...] = ()

    @property
    def is_development(self) -> bool:
        return self.environment == "Development"


def load_config(
    environ: Mapping[str, str] | None = None, *, config_dir: Path | None = None
) -> Settings:
    """Merge appsettings files and environment variables into frozen `Settings`."""
    environ = os.environ if environ is None else environ
    environment = _environment_name(environ.get("TOKENIDP_ENVIRONMENT"))
    config_dir = Path(config_dir or environ.get("TOKENIDP_CONFIG_DIR") or Path.cwd())
    tree: dict[str, Any] = {}
    sources = []
    for name in ("appsettings.json", f"appsettings.{environment}.json"):
        path = config_dir / name
        if path.is_file():
            _merge(tree, _lower_keys(_read_json(path)))
            sources.append(str(path))
    for name, value in environ.items():
        if "__" in name:
            _merge(tree, _env_tree(name.split("__"), value))
    instance_dir = Path(environ.get("TOKENIDP_INSTANCE_DIR") or config_dir / "instance")
    return Settings(
        environment=environment,
        config_dir=config_dir,
        instance_dir=instance_dir,
        token=_token_options(tree.get("tokenoptions", {}), environment, environ),
        clients=_clients(tree.get("clients", {})),
        sources=tuple(sources),
    )


def hash_client_secret(secret: str) -> str:
    """The form a client secret is configured in: base64 of its SHA-256."""
    return base64.b64encode(hashlib.sha256(secret.encode()).digest()).decode()


def _environment_name(raw: str | None) -> str:
    if not raw:
        return "Production"
    for name in ENVIRONMENTS:
        if raw.strip().lower() == name.lower():
            return name
    raise ConfigError("TOKENIDP_ENVIRONMENT", f"{raw!r} is not one of {', '.join(ENVIRONMENTS)}")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(path.name, f"cannot read {path}: {error}") from None
    except json.JSONDecodeError as error:
        raise ConfigError(
            path.name, f"not valid JSON at line {error.lineno} column {error.colno}: {error.msg}"
        ) from None


def _lower_keys(node: Any) -> Any:
    """Case-insensitive keys; lists become index-keyed dicts so env vars can address items."""
    if isinstance(node, dict):
        return {str(key).lower(): _lower_keys(value) for key, value in node.items()}
    if isinstance(node, list):
        return {str(index): _lower_keys(value) for index, value in enumerate(node)}
    return node


def _env_tree(parts: list[str], value: str) -> dict[str, Any]:
    node: Any = value
    for part in reversed(parts):
        node = {part.lower(): node}
    return node


def _merge(base: dict[str, Any], overlay: dict[str, Any]) -> None:
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def _as_list(node: Any, setting: str) -> list[Any]:
    """An index-keyed dict (from JSON lists or `X__0` variables), or a comma-separated string."""
    if node in (None, ""):
        return []
    if isinstance(node, str):
        return [part.strip() for part in node.split(",") if part.strip()]
    if isinstance(node, dict):
        try:
            return [node[key] for key in sorted(node, key=int)]
        except ValueError:
            raise ConfigError(setting, "expected a list") from None
    raise ConfigError(setting, "expected a list")


def _text(section: Mapping[str, Any], key: str, setting: str) -> str | None:
    value = section.get(key.lower())
    if value is None or value == "":
        return None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ConfigError(setting, "expected a string")
    return str(value)


def _seconds(section: Mapping[str, Any], key: str, setting: str, default: int) -> int:
    value = section.get(key.lower())
    if value is None or value == "":
        return default
    try:
        seconds = int(str(value).strip())
    except ValueError:
        raise ConfigError(setting, f"{value!r} is not a whole number of seconds") from None
    if seconds < 0:
        raise ConfigError(setting, f"{seconds} is negative; give a number of seconds >= 0")
    return seconds


def _token_options(
    section: Mapping[str, Any], environment: str, environ: Mapping[str, str]
) -> TokenOptions:
    def text(key: str) -> str | None:
        return _text(section, key, f"TokenOptions:{key}")

    def seconds(key: str, default: int) -> int:
        return _seconds(section, key, f"TokenOptions:{key}", default)

    issuer = text("Issuer")
    if issuer is None:
        if environment != "Development":
            raise ConfigError(
                "TokenOptions:Issuer",
                f"required in {environment}: the URL clients use, e.g. https://id.example.com",
            )
        issuer = f"http://127.0.0.1:{environ.get('PORT', '5000')}"
    issuer = issuer.rstrip("/")
    location = text("CertificateStoreLocation") or "CurrentUser"
    matched = [name for name in STORE_LOCATIONS if name.lower() == location.lower()]
    if not matched:
        raise ConfigError(
            "TokenOptions:CertificateStoreLocation",
            f"{location!r} is not one of {', '.join(STORE_LOCATIONS)}",
        )
    return TokenOptions(
        issuer=issuer,
        audience=text("Audience") or "tokenidp-api",
        certificate_thumbprint=text("CertificateThumbprint"),
        certificate_subject_name=text("CertificateSubjectName"),
        certificate_store_name=text("CertificateStoreName") or "My",
        certificate_store_location=matched[0],
        certificate_store_root=Path(text("CertificateStoreRoot") or "/etc/tokenidp/certstores"),
        certificate_password=text("CertificatePassword"),
        additional_validation_certificates=tuple(
            str(item)
            for item in _as_list(
                section.get("additionalvalidationcertificates"),
                "TokenOptions:AdditionalValidationCertificates",
            )
        ),
        revoked_certificate_thumbprints=tuple(
            str(item)
            for item in _as_list(
                section.get("revokedcertificatethumbprints"),
                "TokenOptions:RevokedCertificateThumbprints",
            )
        ),
        key_activation_delay_seconds=seconds("KeyActivationDelay", 3600),
        jwks_uri=text("JwksUri") or f"{issuer}/.well-known/jwks.json",
        jwks_cache_max_age_seconds=seconds("JwksCacheMaxAge", 300),
        access_token_lifetime_seconds=seconds("AccessTokenLifetime", 3600) or 3600,
        refresh_token_lifetime_seconds=seconds("RefreshTokenLifetime", 2_592_000),
    )


def _clients(node: Any) -> tuple[ClientConfig, ...]:
    clients = []
    seen = set()
    for index, entry in enumerate(_as_list(node, "Clients")):
        where = f"Clients:{index}"
        if not isinstance(entry, dict):
            raise ConfigError(where, "expected an object with ClientId and ClientSecrets")
        client_id = _text(entry, "ClientId", f"{where}:ClientId")
        if not client_id:
            raise ConfigError(f"{where}:ClientId", "required")
        if client_id in seen:
            raise ConfigError(f"{where}:ClientId", f"{client_id!r} is registered twice")
        seen.add(client_id)
        digests = []
        for secret_index, secret in enumerate(
            _as_list(entry.get("clientsecrets"), f"{where}:ClientSecrets")
        ):
            setting = f"{where}:ClientSecrets:{secret_index}:Value"
            value = secret.get("value") if isinstance(secret, dict) else None
            digests.append(_secret_digest(value, setting))
        if not digests:
            raise ConfigError(f"{where}:ClientSecrets", f"client {client_id!r} has no secret")
        grant_types = tuple(
            str(grant)
            for grant in _as_list(entry.get("allowedgranttypes"), f"{where}:AllowedGrantTypes")
        ) or ("client_credentials",)
        for grant in grant_types:
            if grant not in GRANT_TYPES:
                raise ConfigError(
                    f"{where}:AllowedGrantTypes",
                    f"{grant!r} is not supported (supported: {', '.join(GRANT_TYPES)})",
                )
        scopes = tuple(
            str(scope) for scope in _as_list(entry.get("allowedscopes"), f"{where}:AllowedScopes")
        )
        for scope in scopes:
            if not scope or any(ch in scope for ch in ' "\\') or not scope.isprintable():
                raise ConfigError(f"{where}:AllowedScopes", f"{scope!r} is not a valid scope")
        clients.append(ClientConfig(client_id, tuple(digests), grant_types, scopes))
    return tuple(clients)


def _secret_digest(value: Any, setting: str) -> bytes:
    if not isinstance(value, str) or not value:
        raise ConfigError(
            setting, "required: the base64 SHA-256 that `tokenidp hash-secret` prints"
        )
    try:
        digest = base64.b64decode(value, validate=True)
    except ValueError:
        digest = b""
    if len(digest) != 32:
        raise ConfigError(
            setting, "not a base64 SHA-256 digest; use the value `tokenidp hash-secret` prints"
        )
    return digest
