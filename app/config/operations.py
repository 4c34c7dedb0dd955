"""The `Metrics` and `RateLimits` sections and `TOKENIDP_REDIS_URL`: every refusal is one
`ConfigError` naming the setting."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from limits import parse_many

from app.client_secrets import configured_digest
from app.config.settings import MetricsOptions, RateLimitOptions
from app.config.values import as_list, shown, text
from app.errors import ConfigError

NETWORKS = "Metrics:AllowedNetworks"
BEARER = "Metrics:BearerSecretSha256"
PROXIES = "TOKENIDP_TRUSTED_PROXIES"
REDIS_SCHEMES = ("redis", "rediss", "unix")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def metrics_options(options: Mapping[str, Any]) -> MetricsOptions:
    """Networks as CIDRs (a bare address is its own /32 or /128); the bearer secret's
    base64 SHA-256, as `tokenidp hash-secret` prints. Networks that cover every address
    without a bearer secret are refused: metrics would be public."""
    default = MetricsOptions()
    raw_networks = as_list(options.get("allowednetworks"), NETWORKS)
    networks = tuple(_network(str(item).strip()) for item in raw_networks)
    networks = networks or default.allowed_networks
    digest = None
    value = text(options, "BearerSecretSha256", BEARER)
    if value is not None:
        try:
            digest = configured_digest(value)
        except ValueError:
            raise ConfigError(
                BEARER, "not a base64 SHA-256 digest; use the value `tokenidp hash-secret` prints"
            ) from None
    if digest is None and any(network.prefixlen == 0 for network in networks):
        raise ConfigError(
            NETWORKS,
            "covers every address and Metrics:BearerSecretSha256 is not set: anyone could "
            "read the metrics; list your scraper's networks or set a bearer secret",
        )
    return MetricsOptions(allowed_networks=networks, bearer_secret_sha256=digest)


def rate_limit_options(options: Mapping[str, Any], environ: Mapping[str, str]) -> RateLimitOptions:
    default = RateLimitOptions()
    return RateLimitOptions(
        per_address=_rate(options, "FailuresPerAddress", default.per_address),
        per_id=_rate(options, "FailuresPerId", default.per_id),
        redis_key_prefix=environ.get("TOKENIDP_REDIS_KEY_PREFIX") or default.redis_key_prefix,
    )


def redis_url(environ: Mapping[str, str]) -> str | None:
    """`TOKENIDP_REDIS_URL`: redis://, rediss:// or unix://; unset counts in memory."""
    value = environ.get("TOKENIDP_REDIS_URL") or None
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in REDIS_SCHEMES or not (parts.hostname or parts.path):
        raise ConfigError(
            "TOKENIDP_REDIS_URL",
            f"{shown(parts.scheme + '://…')} is not a Redis URL; e.g. redis://127.0.0.1:6379/0",
        )
    return value


def trusted_proxies(
    environ: Mapping[str, str], default: tuple[Network, ...]
) -> tuple[Network, ...]:
    """`TOKENIDP_TRUSTED_PROXIES`: networks whose `X-Forwarded-For` names the client
    (default loopback, where the README's nginx is); `none` trusts no proxy."""
    raw = environ.get(PROXIES)
    if raw is None or not raw.strip():
        return default
    if raw.strip().lower() == "none":
        return ()
    return tuple(_network(part.strip(), PROXIES) for part in raw.split(",") if part.strip())


def _network(value: str, setting: str = NETWORKS) -> Network:
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ConfigError(
            setting, f"{shown(value)} is not a network such as 10.0.0.0/8 or ::1/128"
        ) from None


def _rate(options: Mapping[str, Any], key: str, default: str) -> str:
    setting = f"RateLimits:{key}"
    value = text(options, key, setting) or default
    try:
        items = parse_many(value)
    except ValueError:
        items = []
    if len(items) != 1 or items[0].amount < 1:
        raise ConfigError(setting, f"{shown(value)} is not one rate such as 10/minute")
    return value
