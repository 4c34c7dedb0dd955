"""One issuer's JWKS: cached per Cache-Control, refreshed at most once per cool-down,
dropped when it could not be refreshed for longer than the maximum staleness."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import requests

from tokenidp_validator.cache_control import freshness_lifetime_seconds
from tokenidp_validator.errors import (
    JWKSFetchError,
    KeySetTooStaleError,
    KeySetUnavailableError,
    UnknownKeyError,
    ValidatorConfigError,
)
from tokenidp_validator.keyset import SigningKey, build_key_set
from tokenidp_validator.metrics import ValidatorMetrics

logger = logging.getLogger(__name__)

_NO_KEYS: Mapping[str, SigningKey] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class JWKSClientStatus:
    """What the cache holds now, for health pages and tests."""

    kids: tuple[str, ...]
    fresh_for_seconds: float
    etag: str | None
    consecutive_failures: int
    last_error: str | None
    # Seconds since the last successful fetch or 304 revalidation; None before the first.
    age_seconds: float | None = None
    # True from dropping a key set older than max_staleness_seconds until the next success.
    keys_dropped_as_stale: bool = False


class JWKSClient:
    """Resolves a kid to a prebuilt key; serves the last good key set while the issuer is
    down, for at most `max_staleness_seconds` after the last successful fetch."""

    def __init__(
        self,
        jwks_uri: str,
        *,
        minimum_lifetime_seconds: float = 60.0,
        maximum_lifetime_seconds: float = 86400.0,
        refresh_cooldown_seconds: float = 30.0,
        max_staleness_seconds: float = 86400.0,
        timeout_seconds: float = 5.0,
        max_document_bytes: int = 1 << 20,
        now: Callable[[], float] = time.monotonic,
        session: requests.Session | None = None,
        metrics: ValidatorMetrics | None = None,
        allow_development_keys: bool = False,
    ) -> None:
        """`now` is a monotonic clock in seconds; inject one to test the policy without sleeping.

        `max_staleness_seconds` bounds how long a key set is trusted without a successful
        fetch (or 304), so a validator cut off from the JWKS stops trusting a key the issuer
        has revoked; past it the keys are dropped and lookups raise KeySetTooStaleError.
        `float("inf")` turns this off (the last good keys are then trusted forever).

        `allow_development_keys=True` trusts keys whose x5c is marked as development material:
        for local use against a development IdP, never in production.
        """
        if not jwks_uri.startswith(("https://", "http://")):
            raise ValidatorConfigError(f"jwks_uri: {jwks_uri!r} is not an http(s) URL")
        if not 0 < minimum_lifetime_seconds <= maximum_lifetime_seconds:
            raise ValidatorConfigError(
                "minimum_lifetime_seconds/maximum_lifetime_seconds: need "
                f"0 < minimum <= maximum, got {minimum_lifetime_seconds}, "
                f"{maximum_lifetime_seconds}"
            )
        if refresh_cooldown_seconds < 0:
            raise ValidatorConfigError("refresh_cooldown_seconds: must not be negative")
        if not max_staleness_seconds > 0:  # also refuses NaN
            raise ValidatorConfigError(
                f"max_staleness_seconds: must be a positive number of seconds, "
                f"got {max_staleness_seconds}"
            )
        if max_staleness_seconds < minimum_lifetime_seconds:
            raise ValidatorConfigError(
                f"max_staleness_seconds: {max_staleness_seconds} s is shorter than "
                f"minimum_lifetime_seconds ({minimum_lifetime_seconds} s), so keys would be "
                "dropped before the JWKS may be fetched again; raise max_staleness_seconds "
                "or lower minimum_lifetime_seconds"
            )
        self.jwks_uri = jwks_uri
        self.minimum_lifetime_seconds = minimum_lifetime_seconds
        self.maximum_lifetime_seconds = maximum_lifetime_seconds
        self.refresh_cooldown_seconds = refresh_cooldown_seconds
        self.max_staleness_seconds = max_staleness_seconds
        self.timeout_seconds = timeout_seconds
        self.max_document_bytes = max_document_bytes
        self.metrics = metrics if metrics is not None else ValidatorMetrics(registry=None)
        self.allow_development_keys = allow_development_keys
        if allow_development_keys:
            logger.warning(
                "JWKS %s: development keys are accepted (allow_development_keys=True); "
                "never do this in production",
                jwks_uri,
            )
        self._now = now
        self._session = session if session is not None else requests.Session()
        self._lock = threading.Lock()
        # Read without the lock on the fast path: each is replaced whole, never mutated.
        self._keys: Mapping[str, SigningKey] = _NO_KEYS
        self._fresh_until = float("-inf")
        self._etag: str | None = None
        self._last_attempt_at: float | None = None
        self._last_success_at: float | None = None
        self._has_key_set = False
        self._dropped_as_stale = False
        self._consecutive_failures = 0
        self._last_error: JWKSFetchError | None = None

    def get_signing_key(self, kid: str) -> SigningKey:
        """The key for `kid`; refreshes when stale or unknown; UnknownKeyError if still absent."""
        if self._now() < self._fresh_until:
            signing_key = self._keys.get(kid)
            if signing_key is not None:
                return signing_key
        return self._get_signing_key_after_refresh(kid)

    def refresh(self) -> str:
        """Fetch now unless within the cool-down; returns the refresh outcome."""
        with self._lock:
            return self._refresh_locked()

    def status(self) -> JWKSClientStatus:
        """A snapshot of the cache; a key set past its maximum staleness is dropped first,
        so a health page never lists keys that would no longer be trusted."""
        if self._lock.acquire(blocking=False):  # else a refresh in flight checks it itself
            try:
                self._drop_keys_if_too_stale_locked()
            finally:
                self._lock.release()
        now = self._now()
        last_success_at = self._last_success_at
        return JWKSClientStatus(
            kids=tuple(sorted(self._keys)),
            fresh_for_seconds=max(0.0, self._fresh_until - now),
            etag=self._etag,
            consecutive_failures=self._consecutive_failures,
            last_error=str(self._last_error) if self._last_error else None,
            age_seconds=None if last_success_at is None else now - last_success_at,
            keys_dropped_as_stale=self._dropped_as_stale,
        )

    def _get_signing_key_after_refresh(self, kid: str) -> SigningKey:
        """Slow path: one thread fetches while the others wait, then all re-read the cache."""
        with self._lock:
            signing_key = self._keys.get(kid)
            if signing_key is not None and self._now() < self._fresh_until:
                return signing_key
            self._refresh_locked()
            signing_key = self._keys.get(kid)
            if signing_key is not None:
                return signing_key
            # Decided under the lock, so a fetch finishing meanwhile cannot turn "no keys"
            # into "unknown kid".
            if self._dropped_as_stale and self._last_success_at is not None:
                age_seconds = self._now() - self._last_success_at
                raise KeySetTooStaleError(
                    f"JWKS {self.jwks_uri} not refreshed for {age_seconds:.0f} s, longer than "
                    f"max_staleness_seconds ({self.max_staleness_seconds:g}): its keys were "
                    f"dropped; last error: {self._last_error}",
                    age_seconds=age_seconds,
                    max_staleness_seconds=self.max_staleness_seconds,
                ) from self._last_error
            if not self._has_key_set:
                raise KeySetUnavailableError(
                    f"no JWKS fetched yet from {self.jwks_uri}: {self._last_error}"
                ) from self._last_error
        raise UnknownKeyError(f"no signing key with kid {kid!r} in the issuer's JWKS")

    def _refresh_locked(self) -> str:
        """At most one fetch attempt per cool-down; failures keep the last good key set
        until it is older than the maximum staleness."""
        started_at = self._now()
        if (
            self._last_attempt_at is not None
            and started_at - self._last_attempt_at < self.refresh_cooldown_seconds
        ):
            self.metrics.record_refresh("cooldown_skipped")
            self._drop_keys_if_too_stale_locked()
            return "cooldown_skipped"
        self._last_attempt_at = started_at
        try:
            outcome = self._fetch_and_apply()
        except JWKSFetchError as e:
            self._consecutive_failures += 1
            self._last_error = e
            self.metrics.record_refresh("failed")
            if not self._drop_keys_if_too_stale_locked():
                logger.warning(
                    "JWKS refresh failed (%d in a row), keeping %d cached keys: %s",
                    self._consecutive_failures,
                    len(self._keys),
                    e,
                )
            return "failed"
        self._consecutive_failures = 0
        self._last_error = None
        self.metrics.record_refresh(outcome)
        return outcome

    def _drop_keys_if_too_stale_locked(self) -> bool:
        """Empty the cache once no fetch has succeeded for max_staleness_seconds, so a
        validator cut off from the JWKS stops trusting keys the issuer may have revoked."""
        if not self._has_key_set or self._last_success_at is None:
            return False
        age_seconds = self._now() - self._last_success_at
        if age_seconds <= self.max_staleness_seconds:
            return False
        dropped = len(self._keys)
        self._fresh_until = float("-inf")
        self._keys = _NO_KEYS
        self._etag = None
        self._has_key_set = False
        self._dropped_as_stale = True
        logger.warning(
            "JWKS %s not refreshed for %.0f s, longer than max_staleness_seconds (%g): "
            "dropped %d cached keys; no token can be validated until a fetch succeeds; "
            "last error: %s",
            self.jwks_uri,
            age_seconds,
            self.max_staleness_seconds,
            dropped,
            self._last_error,
        )
        self.metrics.record_key_set_drop("too_stale")
        return True

    def _fetch_and_apply(self) -> str:
        """GET the JWKS (conditionally); on 200 rebuild changed keys, on 304 extend freshness."""
        headers = {"Accept": "application/json"}
        if self._etag is not None and self._has_key_set:
            headers["If-None-Match"] = self._etag
        status_code, response_headers, body = self._get(headers)
        lifetime = freshness_lifetime_seconds(
            response_headers.get("Cache-Control"),
            response_headers.get("Age"),
            minimum_seconds=self.minimum_lifetime_seconds,
            maximum_seconds=self.maximum_lifetime_seconds,
        )
        # Never fresh past the maximum staleness, whatever max-age says, so the fast path
        # cannot serve a key set that should have been dropped.
        lifetime = min(lifetime, self.max_staleness_seconds)
        if status_code == 304 and self._has_key_set:
            self._mark_fetched(lifetime)
            return "not_modified"
        if status_code != 200:
            raise JWKSFetchError(f"GET {self.jwks_uri}: HTTP {status_code}")
        try:
            key_set = build_key_set(
                json.loads(body),
                previous=self._keys,
                allow_development_keys=self.allow_development_keys,
            )
        except ValueError as e:  # includes json.JSONDecodeError
            raise JWKSFetchError(f"GET {self.jwks_uri}: not a usable JWKS ({e})") from e
        for reason in key_set.ignored:
            logger.warning("JWKS %s: ignoring %s", self.jwks_uri, reason)
        if not key_set.keys:
            raise JWKSFetchError(f"GET {self.jwks_uri}: no usable signing keys in the JWKS")
        self._keys = key_set.keys
        self._etag = response_headers.get("ETag")
        self._has_key_set = True
        self._mark_fetched(lifetime)
        return "fetched"

    def _mark_fetched(self, lifetime_seconds: float) -> None:
        """A 200 or a 304: fresh for `lifetime_seconds`, and staleness counts from now."""
        fetched_at = self._now()
        self._last_success_at = fetched_at
        self._dropped_as_stale = False
        self._fresh_until = fetched_at + lifetime_seconds

    def _get(self, headers: Mapping[str, str]) -> tuple[int, Mapping[str, str], bytes]:
        """One bounded GET; every transport problem becomes JWKSFetchError."""
        try:
            with self._session.get(
                self.jwks_uri, headers=dict(headers), timeout=self.timeout_seconds, stream=True
            ) as response:
                body = bytearray()
                for chunk in response.iter_content(chunk_size=65536):
                    body += chunk
                    if len(body) > self.max_document_bytes:
                        raise JWKSFetchError(
                            f"GET {self.jwks_uri}: document larger than "
                            f"{self.max_document_bytes} bytes"
                        )
                return response.status_code, response.headers, bytes(body)
        except requests.RequestException as e:
            raise JWKSFetchError(f"GET {self.jwks_uri}: {e}") from e
