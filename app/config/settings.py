"""The settings every part of TokenIDP reads: frozen values, built once by `load_config`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from types import MappingProxyType

ENVIRONMENTS = ("Development", "Staging", "Production")
STORE_LOCATIONS = ("CurrentUser", "LocalMachine")


@dataclass(frozen=True)
class ClientConfig:
    """A registered client: secrets are kept only as SHA-256 digests."""

    client_id: str
    secret_sha256_digests: tuple[bytes, ...]
    allowed_grant_types: tuple[str, ...]
    allowed_scopes: tuple[str, ...]
    redirect_uris: tuple[str, ...] = ()
    post_logout_redirect_uris: tuple[str, ...] = ()
    is_public: bool = False  # no secret: authorization code with PKCE only


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
    certificate_password_file: Path | None = None
    additional_validation_certificates: tuple[str, ...] = ()
    revoked_certificate_thumbprints: tuple[str, ...] = ()
    key_activation_delay_seconds: int = 3600
    jwks_uri: str = ""
    jwks_cache_max_age_seconds: int = 300
    access_token_lifetime_seconds: int = 3600
    refresh_token_lifetime_seconds: int = 2_592_000
    keyring_refresh_interval_seconds: int = 10

    @property
    def store_folder(self) -> Path:
        """`{CertificateStoreRoot}/{CertificateStoreLocation}/{CertificateStoreName}`."""
        return (
            self.certificate_store_root
            / self.certificate_store_location
            / self.certificate_store_name
        )


@dataclass(frozen=True)
class MetricsOptions:
    """The `Metrics` section: who may read `GET /metrics`.

    A request must come from one of `allowed_networks` (default loopback only: Prometheus
    scrapes each instance from its own network, and metrics name clients and keys) and,
    when `bearer_secret_sha256` is set, carry `Authorization: Bearer <secret>`.
    """

    allowed_networks: tuple[IPv4Network | IPv6Network, ...] = (
        ip_network("127.0.0.0/8"),
        ip_network("::1/128"),
    )
    bearer_secret_sha256: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class RateLimitOptions:
    """The `RateLimits` section: failed authentications allowed per moving window.

    `per_address`: failures from one remote address (any client id or user name);
    `per_id`: failures naming one client id or user name, from any address.
    """

    per_address: str = "20/minute"
    per_id: str = "10/minute"
    redis_key_prefix: str = "tokenidp"


@dataclass(frozen=True)
class Settings:
    """Everything the IdP, the publisher and the CLI read from configuration.

    `origins` maps each value's setting path (lower case, `tokenoptions:issuer`) to where it
    came from (a file, or `$Variable`), for `tokenidp config show`; `warnings` are the
    misspellings and risky choices to print once at start.
    """

    environment: str
    config_dir: Path
    instance_dir: Path
    token: TokenOptions
    clients: tuple[ClientConfig, ...] = ()
    sources: tuple[str, ...] = ()
    origins: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    warnings: tuple[str, ...] = ()
    database_url: str | None = field(default=None, repr=False)  # may hold a password
    redis_url: str | None = field(default=None, repr=False)  # may hold a password
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = (
        ip_network("127.0.0.0/8"),
        ip_network("::1/128"),
    )
    metrics: MetricsOptions = field(default_factory=MetricsOptions)
    rate_limits: RateLimitOptions = field(default_factory=RateLimitOptions)

    @property
    def is_development(self) -> bool:
        return self.environment == "Development"

    def origin(self, setting: str) -> str:
        """Where `setting` (e.g. `TokenOptions:Issuer`) was set, or `default`."""
        return self.origins.get(setting.lower(), "default")
