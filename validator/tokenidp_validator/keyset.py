"""Turn a JWKS document into verification keys, each pinned to one algorithm."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from jose import jwk
from jose.backends.base import Key

from tokenidp_validator.development import x5c_is_development_material
from tokenidp_validator.roca import has_roca_fingerprint

# The algorithms each key shape may verify. A JWKS entry's own `alg` picks one of
# them; without `alg` the first is assumed. RFC 7518 §3.1.
ALGORITHMS_BY_KEY_SHAPE: Mapping[tuple[str, str | None], tuple[str, ...]] = MappingProxyType(
    {
        ("RSA", None): ("RS256", "RS384", "RS512"),
        ("EC", "P-256"): ("ES256",),
    }
)
ACCEPTED_ALGORITHMS = frozenset(
    alg for algorithms in ALGORITHMS_BY_KEY_SHAPE.values() for alg in algorithms
)
MINIMUM_RSA_KEY_BITS = 2048
# Private members (RFC 7518 §6.2.2, §6.3.2, §6.4.1): a public JWKS must never carry them.
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A JWKS entry constructed once, verifying with exactly one algorithm."""

    kid: str
    algorithm: str
    key_type: str
    key: Key
    jwk: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class KeySet:
    """The usable keys of one JWKS document, and why any entry was skipped."""

    keys: Mapping[str, SigningKey]
    ignored: tuple[str, ...]


_NO_PREVIOUS_KEYS: Mapping[str, SigningKey] = MappingProxyType({})


def parse_jwks(body: bytes | str, *, allow_development_keys: bool = False) -> KeySet:
    """A JWKS document's bytes as usable keys, for one-off checks; ValueError if not a JWKS.

    `allow_development_keys=True` accepts keys whose x5c is marked as development material:
    for local use against a development IdP, never in production.
    """
    return build_key_set(
        json.loads(body), previous=_NO_PREVIOUS_KEYS, allow_development_keys=allow_development_keys
    )


class IgnoredEntry(Exception):
    """Internal: one JWKS entry we will not use, with the reason."""


def build_key_set(
    document: object, *, previous: Mapping[str, SigningKey], allow_development_keys: bool
) -> KeySet:
    """Parse a JWKS, reusing keys already built for unchanged entries (construct once per kid)."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError('JWKS document is not a JSON object with a "keys" list')
    entries = document["keys"]
    kid_counts: dict[object, int] = {}
    for entry in entries:
        if isinstance(entry, dict):
            kid_counts[entry.get("kid")] = kid_counts.get(entry.get("kid"), 0) + 1

    keys: dict[str, SigningKey] = {}
    ignored: list[str] = []
    for index, entry in enumerate(entries):
        try:
            signing_key = _signing_key_from_entry(
                entry,
                kid_counts=kid_counts,
                previous=previous,
                allow_development_keys=allow_development_keys,
            )
        except IgnoredEntry as skipped:
            ignored.append(f"keys[{index}]: {skipped}")
            continue
        keys[signing_key.kid] = signing_key
    return KeySet(keys=MappingProxyType(keys), ignored=tuple(ignored))


def _signing_key_from_entry(
    entry: object,
    *,
    kid_counts: Mapping[object, int],
    previous: Mapping[str, SigningKey],
    allow_development_keys: bool,
) -> SigningKey:
    """Check one entry against our policy and build (or reuse) its key object."""
    if not isinstance(entry, dict):
        raise IgnoredEntry("not a JSON object")
    kid = entry.get("kid")
    if not isinstance(kid, str) or not kid:
        raise IgnoredEntry("no kid")
    if kid_counts.get(kid, 0) > 1:
        raise IgnoredEntry(f"kid {kid} appears more than once; none of them is trusted")
    if entry.get("use") != "sig":
        use = entry.get("use")
        raise IgnoredEntry(
            f"kid {kid}: use is {use!r}, not 'sig'" if use is not None else f"kid {kid}: no use"
        )
    key_ops = entry.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        raise IgnoredEntry(f"kid {kid}: key_ops {key_ops!r} does not allow 'verify'")
    if PRIVATE_MEMBERS.intersection(entry):
        raise IgnoredEntry(f"kid {kid}: carries private key members; refused")
    algorithm = pinned_algorithm(entry)

    reusable = previous.get(kid)
    if reusable is not None and reusable.jwk == entry:
        return reusable  # the same entry passed the checks below when it was built
    if "x5c" in entry:
        _check_x5c(kid, entry["x5c"], allow_development_keys=allow_development_keys)
    try:
        key = jwk.construct(entry, algorithm)
    except Exception as e:  # jose raises JWKError, ValueError, KeyError... for bad numbers
        raise IgnoredEntry(f"kid {kid}: cannot build a {algorithm} key ({e})") from e
    if entry["kty"] == "RSA":
        _check_rsa_key(kid, key.prepared_key)
    return SigningKey(
        kid=kid,
        algorithm=algorithm,
        key_type=entry["kty"],
        key=key,
        jwk=MappingProxyType(dict(entry)),
    )


def _check_x5c(kid: str, x5c: object, *, allow_development_keys: bool) -> None:
    """A readable chain, and no development certificate in it unless the caller opted in."""
    try:
        development = x5c_is_development_material(x5c)
    except ValueError as e:
        raise IgnoredEntry(f"kid {kid}: {e}") from e
    if development and not allow_development_keys:
        raise IgnoredEntry(
            f"kid {kid}: its x5c certificate is marked as a development key; refused "
            "(allow_development_keys=True accepts it, for local use only)"
        )


def _check_rsa_key(kid: str, public_key: Any) -> None:
    """Long enough, and not from a generator whose keys can be factored (ROCA)."""
    if public_key.key_size < MINIMUM_RSA_KEY_BITS:
        raise IgnoredEntry(f"kid {kid}: RSA key of {public_key.key_size} bits is too short")
    if has_roca_fingerprint(public_key.public_numbers().n):
        raise IgnoredEntry(
            f"kid {kid}: RSA modulus has the ROCA fingerprint (CVE-2017-15361), "
            "so it can be factored; refused"
        )


def pinned_algorithm(entry: Mapping[str, Any]) -> str:
    """The one algorithm a JWKS entry may verify: its `alg` if allowed for its kty/crv."""
    key_type = entry.get("kty")
    curve = entry.get("crv") if key_type == "EC" else None
    allowed = ALGORITHMS_BY_KEY_SHAPE.get((key_type, curve))
    if allowed is None:
        shape = f"kty {key_type!r}" if key_type is not None else "no kty"
        if curve is not None:
            shape += f" crv {curve!r}"
        elif key_type == "EC":
            shape += " and no crv"
        raise IgnoredEntry(f"kid {entry.get('kid')}: {shape}: not accepted")
    algorithm = entry.get("alg", allowed[0])
    if algorithm not in allowed:
        raise IgnoredEntry(
            f"kid {entry.get('kid')}: alg {algorithm!r} not accepted for {key_type} keys"
        )
    return algorithm
