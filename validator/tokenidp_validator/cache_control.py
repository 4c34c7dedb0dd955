"""How long a fetched JWKS may be trusted, from its HTTP caching headers (RFC 9111)."""

from __future__ import annotations


def freshness_lifetime_seconds(
    cache_control: str | None,
    age: str | None,
    *,
    minimum_seconds: float,
    maximum_seconds: float,
) -> float:
    """`max-age` minus `Age` (RFC 9111 §4.2.3), clamped; no-store/no-cache/missing → minimum."""
    max_age = max_age_seconds(cache_control)
    if max_age is None:
        return minimum_seconds
    lifetime = max_age - age_seconds(age)
    return float(min(max(lifetime, minimum_seconds), maximum_seconds))


def max_age_seconds(cache_control: str | None) -> int | None:
    """The max-age directive, or None when absent, invalid, or overridden by no-store/no-cache."""
    if not cache_control:
        return None
    max_age = None
    for directive in cache_control.split(","):
        name, _, value = directive.strip().partition("=")
        name = name.strip().lower()
        if name in ("no-store", "no-cache"):
            return None
        if name == "max-age":
            value = value.strip().strip('"')
            if not value.isdigit():
                return None
            max_age = int(value)
    return max_age


def age_seconds(age: str | None) -> int:
    """The Age header a CDN adds (RFC 9111 §5.1); junk counts as zero."""
    if age is None or not age.strip().isdigit():
        return 0
    return int(age.strip())
