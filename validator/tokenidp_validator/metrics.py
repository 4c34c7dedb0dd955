"""Counts of validations, JWKS refreshes and dropped key sets: a snapshot, plus Prometheus."""

from __future__ import annotations

import threading
import weakref
from typing import Any

REFRESH_OUTCOMES = ("fetched", "not_modified", "failed", "cooldown_skipped")
# Why a client emptied its cached key set: older than max_staleness_seconds.
KEY_SET_DROP_REASONS = ("too_stale",)
_DEFAULT = object()
# One set of collectors per registry, so building metrics twice never registers twice.
_collectors_by_registry: weakref.WeakKeyDictionary[Any, tuple[Any, Any, Any]] = (
    weakref.WeakKeyDictionary()
)
_collectors_lock = threading.Lock()


class ValidatorMetrics:
    """Counts per instance for tests and health pages, mirrored to Prometheus counters."""

    def __init__(self, *, registry: Any = _DEFAULT) -> None:
        """`registry`: a prometheus CollectorRegistry, default the global one; None for none."""
        self._lock = threading.Lock()
        self._validations: dict[tuple[str, str], int] = {}
        self._refreshes: dict[str, int] = dict.fromkeys(REFRESH_OUTCOMES, 0)
        self._key_set_drops: dict[str, int] = dict.fromkeys(KEY_SET_DROP_REASONS, 0)
        self._prometheus = _collectors_for(registry)

    def record_validation(self, *, result: str, reason: str) -> None:
        """Count one validation: result valid/invalid/unavailable, reason an error's reason."""
        with self._lock:
            self._validations[(result, reason)] = self._validations.get((result, reason), 0) + 1
        if self._prometheus is not None:
            self._prometheus[0].labels(result=result, reason=reason).inc()

    def record_refresh(self, outcome: str) -> None:
        """Count one JWKS refresh decision: fetched, not_modified, failed or cooldown_skipped."""
        with self._lock:
            self._refreshes[outcome] = self._refreshes.get(outcome, 0) + 1
        if self._prometheus is not None:
            self._prometheus[1].labels(outcome=outcome).inc()

    def record_key_set_drop(self, reason: str) -> None:
        """Count one cached key set emptied on purpose, so an alert can say keys were dropped."""
        with self._lock:
            self._key_set_drops[reason] = self._key_set_drops.get(reason, 0) + 1
        if self._prometheus is not None:
            self._prometheus[2].labels(reason=reason).inc()

    def snapshot(self) -> dict[str, dict[str, int]]:
        """Plain copies: {"validations": {"valid/ok": n, ...}, "refreshes": {"fetched": n, ...},
        "key_set_drops": {"too_stale": n}}."""
        with self._lock:
            return {
                "validations": {f"{r}/{why}": n for (r, why), n in self._validations.items()},
                "refreshes": dict(self._refreshes),
                "key_set_drops": dict(self._key_set_drops),
            }


def _collectors_for(registry: Any) -> tuple[Any, Any, Any] | None:
    """The (validations, refreshes, key set drops) counters on `registry`, made on first use."""
    if registry is None:
        return None
    try:
        import prometheus_client
    except ImportError:  # the validator must work with only jose, cryptography and requests
        return None
    if registry is _DEFAULT:
        registry = prometheus_client.REGISTRY
    with _collectors_lock:
        collectors = _collectors_by_registry.get(registry)
        if collectors is None:
            collectors = (
                prometheus_client.Counter(
                    "tokenidp_validator_validations",
                    "Access token validations by result and reason.",
                    ("result", "reason"),
                    registry=registry,
                ),
                prometheus_client.Counter(
                    "tokenidp_validator_jwks_refreshes",
                    "JWKS refresh decisions by outcome.",
                    ("outcome",),
                    registry=registry,
                ),
                prometheus_client.Counter(
                    "tokenidp_validator_jwks_key_set_drops",
                    "Cached JWKS key sets emptied by reason (too_stale: not refreshed within "
                    "max_staleness_seconds).",
                    ("reason",),
                    registry=registry,
                ),
            )
            _collectors_by_registry[registry] = collectors
        return collectors
