"""Observing keys at `JwksUri`: the public copy validators fetch, checked key by key.

A key counts as observed only when the JWK under its kid at `JwksUri` is the very key of
the certificate in the keyring (same type, modulus and exponent, or curve point), so a
stale or foreign document cannot start a key's activation delay. The publisher records
observations after its CDN invalidation; `keys status` and `keys verify-rotation` record
what they see too, since every fetch of the public address is as good an observation.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

from app.diagnosis.sources import CDN, JwksResponse, fetch_jwks
from app.documents import public_jwk
from app.keys.keyring import Keyring
from app.keys.records import record_observations
from app.storage import Storage

# The members that make a JWK the same public key (RFC 7638 §3.2's required members).
KEY_MEMBERS = {"RSA": ("kty", "n", "e"), "EC": ("kty", "crv", "x", "y")}


@dataclass(frozen=True)
class PublicKeys:
    """What `JwksUri` served: every kid, and those whose key is the keyring's own."""

    url: str
    kids: frozenset[str]
    matching: frozenset[str]
    error: str | None
    response: JwksResponse

    def holds(self, kid: str) -> bool:
        return kid in self.matching


def fetch_public_keys(url: str, keyring: Keyring, *, timeout_seconds: float = 5.0) -> PublicKeys:
    """GET `url` once, as a validator would, and compare it with the keyring's keys."""
    response = fetch_jwks(url, label=f"JwksUri {url}", role=CDN, timeout_seconds=timeout_seconds)
    if response.error is not None or response.body is None:
        return PublicKeys(url, frozenset(), frozenset(), response.error or "no body", response)
    try:
        document = json.loads(response.body)
        entries = [entry for entry in document["keys"] if isinstance(entry, dict)]
    except (ValueError, KeyError, TypeError):
        return PublicKeys(url, frozenset(), frozenset(), "not a JWK Set", response)
    kids = frozenset(str(entry["kid"]) for entry in entries if "kid" in entry)
    matching = frozenset(
        str(entry["kid"]) for entry in entries if "kid" in entry and _is_ours(entry, keyring)
    )
    return PublicKeys(url, kids, matching, None, response)


def observe_public_keys(
    storage: Storage,
    keyring: Keyring,
    url: str,
    *,
    observed_by: str,
    expect: Collection[str] = (),
    attempts: int = 1,
    wait_seconds: float = 1.0,
    timeout_seconds: float = 5.0,
    retry_errors: bool = True,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[PublicKeys, list[str]]:
    """Fetch `url` until it holds every kid in `expect` (at most `attempts` times) and
    record the first observation of each of the keyring's keys found there. A failed fetch
    is tried again only with `retry_errors`.

    Returns the last fetch and the kids observed for the first time.
    """
    observed: list[str] = []
    for attempt in range(max(1, attempts)):
        if attempt:
            sleep(wait_seconds)
        public = fetch_public_keys(url, keyring, timeout_seconds=timeout_seconds)
        if public.matching:
            with storage.transaction() as work:
                observed += record_observations(
                    work,
                    sorted(public.matching),
                    now=int(clock()),
                    observed_by=observed_by,
                    jwks_uri=url,
                )
        if all(public.holds(kid) for kid in expect):
            break
        if public.error is not None and not retry_errors:
            break
    return public, observed


def _is_ours(entry: dict, keyring: Keyring) -> bool:
    key = keyring.find(str(entry.get("kid")))
    if key is None:
        return False
    ours = public_jwk(key)
    members = KEY_MEMBERS.get(ours["kty"], ())
    return bool(members) and all(entry.get(name) == ours[name] for name in members)
