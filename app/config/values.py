"""Typed readers for one setting each: every refusal is a ConfigError naming the setting."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from app.errors import ConfigError

MAX_SHOWN = 60
MAX_SECONDS = 10 * 365 * 86400  # beyond ten years a lifetime or delay is a typo


def shown(value: object) -> str:
    """A value as echoed in a message: quoted, and cut to a readable length."""
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= MAX_SHOWN else f"{text[: MAX_SHOWN - 1]}…"


def section(tree: Mapping[str, Any], key: str, name: str) -> Mapping[str, Any]:
    """A settings object such as `TokenOptions`; absent means empty."""
    value = tree.get(key, {})
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise ConfigError(name, f"expected an object of settings, got {shown(value)}")
    return value


def as_list(node: Any, setting: str) -> list[Any]:
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
    raise ConfigError(setting, f"expected a list, got {shown(node)}")


def text(settings: Mapping[str, Any], key: str, setting: str) -> str | None:
    value = settings.get(key.lower())
    if value is None or value == "":
        return None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ConfigError(setting, f"expected a string, got {shown(value)}")
    return str(value)


def seconds(settings: Mapping[str, Any], key: str, setting: str, default: int) -> int:
    value = settings.get(key.lower())
    if value is None or value == "":
        return default
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ConfigError(setting, f"{shown(value)} is not a whole number of seconds") from None
    if number < 0:
        raise ConfigError(setting, f"{number} is negative; give a number of seconds >= 0")
    if number > MAX_SECONDS:
        raise ConfigError(setting, f"{shown(number)} seconds is more than ten years")
    return number


def public_url(
    value: str, setting: str, *, development: bool, allow_query: bool, example: str
) -> str:
    """An absolute https URL (http for loopback hosts, or anywhere in Development).

    Discovery sends clients' secrets to URLs built on the issuer, so plain http to a
    remote host would expose them (OpenID Connect Discovery §3, RFC 8414 §2).
    """
    if any(not char.isprintable() or char.isspace() for char in value):
        raise ConfigError(setting, f"{shown(value)} contains spaces or control characters")
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise ConfigError(setting, f"{shown(value)} has an invalid port") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(setting, f"{shown(value)} is not an absolute URL; e.g. {example}")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(setting, f"{shown(value)} must not carry a user name or password")
    if parts.fragment or (parts.query and not allow_query):
        kind = "a query or fragment" if not allow_query else "a fragment"
        raise ConfigError(setting, f"{shown(value)} must have no {kind}")
    if parts.scheme == "http" and not development and not is_loopback_host(parts.hostname):
        raise ConfigError(
            setting,
            f"{shown(value)} must use https outside Development (http is allowed only for "
            "loopback hosts): clients would send secrets and tokens in clear text",
        )
    return value


def is_loopback_host(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
