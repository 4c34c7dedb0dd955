"""Prometheus series for the IdP, correct under several gunicorn workers.

Under gunicorn, `PROMETHEUS_MULTIPROC_DIR` is set before prometheus_client is imported
(app/serving.py), so every worker writes its counts to its own files and a scrape served
by any worker adds them up; without it (tests, a WSGI host) the counts live in memory.

The functions below are what other modules call; each costs one dictionary lookup and
one increment (about a microsecond), so the token endpoint and the JWKS stay fast. Label
values are bounded: a client id is only ever an authenticated one, a reason one of a
handful of codes, and a kid one this IdP publishes. A presented (unauthenticated) client
id is never a label: anyone could mint series with it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from time import perf_counter
from typing import TYPE_CHECKING

from app.http.messages import Endpoint, OAuthRequest, OAuthResponse
from app.process_id import process_id

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.core import GaugeMetricFamily

    from app.keys.live import LiveKeys

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
TOKEN_SECONDS_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
)  # fmt: skip


class Series:
    """Every series, made on first use: prometheus_client decides once, when it is imported,
    whether counts go to files (`PROMETHEUS_MULTIPROC_DIR`), and gunicorn's settings name
    that folder only after the `app` package is imported."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, values

        if is_multiprocess():
            # The same files, named by the same pid, without a getpid call per increment.
            values.ValueClass = values.MultiProcessValue(process_identifier=process_id)
        self.registry = registry = CollectorRegistry(auto_describe=False)
        self.tokens_issued = Counter(
            "tokenidp_tokens_issued",
            "Tokens issued, by grant type, client and signing kid.",
            ("grant_type", "client_id", "kid"),
            registry=registry,
        )
        self.client_authentication_failures = Counter(
            "tokenidp_client_authentication_failures",
            "Failed client authentications, by reason.",
            ("reason",),
            registry=registry,
        )
        self.login_failures = Counter(
            "tokenidp_login_failures",
            "Failed logins at the login page, by reason.",
            ("reason",),
            registry=registry,
        )
        self.rate_limited = Counter(
            "tokenidp_rate_limited_requests",
            "Requests refused with 429 after too many failed authentications, by kind and "
            "by the limit that refused them.",
            ("kind", "limit"),
            registry=registry,
        )
        self.rate_limit_storage_errors = Counter(
            "tokenidp_rate_limit_storage_errors",
            "Rate-limit checks that could not reach Redis and counted in this process instead.",
            registry=registry,
        )
        self.token_seconds = Histogram(
            "tokenidp_token_request_duration_seconds",
            "Time the token endpoint spends on a request, from its form to its answer.",
            buckets=TOKEN_SECONDS_BUCKETS,
            registry=registry,
        )
        self.document_requests = Counter(
            "tokenidp_document_requests",
            "Discovery and JWKS requests, by document and status (304: the client's copy "
            "was current).",
            ("document", "status"),
            registry=registry,
        )
        self.refresh_reuse = Counter(
            "tokenidp_refresh_token_reuse_detections",
            "Spent refresh tokens presented again (the family is revoked), by client.",
            ("client_id",),
            registry=registry,
        )
        self.storage_errors = Counter(
            "tokenidp_storage_errors",
            "Database operations that failed: unreachable, locked or timeout.",
            ("kind",),
            registry=registry,
        )
        self.keyring_info = Gauge(
            "tokenidp_keyring_info",
            "1 for the keyring each worker (pid) uses now: its signing kid and the SHA-256 "
            "of its JWKS.",
            ("signing_kid", "jwks_sha256"),
            multiprocess_mode="liveall",
            registry=registry,
        )


_series: Series | None = None
_issued: dict[tuple[str, str, str], Callable[[], None]] = {}
_keyring_labels: tuple[str, str] | None = None


def series() -> Series:
    global _series
    if _series is None:
        _series = Series()
    return _series


def token_issued(grant_type: str, client_id: str, kid: str) -> None:
    """Count one token the endpoint returned (after its records committed)."""
    key = (grant_type, client_id, kid)
    increment = _issued.get(key)
    if increment is None:
        increment = _issued[key] = series().tokens_issued.labels(*key).inc
    increment()


def client_authentication_failed(reason: str) -> None:
    """Count one failed client authentication; `reason` is a short code, never input."""
    series().client_authentication_failures.labels(reason).inc()


def login_failed(reason: str) -> None:
    """Count one failed login (the login page calls this); `reason` is a short code such as
    `unknown_user`, `wrong_password`, `disabled`, never what the user typed."""
    series().login_failures.labels(reason).inc()


def rate_limited(kind: str, limit: str) -> None:
    """Count one request refused with 429: kind `client` or `login`, limit `address` or `id`."""
    series().rate_limited.labels(kind, limit).inc()


def rate_limit_storage_error() -> None:
    """Count one rate-limit operation that Redis did not answer (counted in memory instead)."""
    series().rate_limit_storage_errors.inc()


def refresh_reuse_detected(client_id: str) -> None:
    """Count a spent refresh token presented again (the refresh grant calls this)."""
    series().refresh_reuse.labels(client_id).inc()


def storage_error(kind: str) -> None:
    """Count one database failure: `unreachable`, `locked` or `timeout`."""
    series().storage_errors.labels(kind).inc()


def document_counters(document: str) -> tuple[Callable[[], None], Callable[[], None]]:
    """The two increments a document endpoint makes, 200 and 304, looked up once."""
    return (
        series().document_requests.labels(document, "200").inc,
        series().document_requests.labels(document, "304").inc,
    )


def token_request_observer() -> Callable[[float], None]:
    """What the token endpoint's timer calls with each request's seconds."""
    return series().token_seconds.observe


def keyring_in_use(signing_kid: str | None, jwks_sha256: str) -> None:
    """This process now serves this keyring: its series is 1, the previous one's 0."""
    global _keyring_labels
    labels = (signing_kid or "", jwks_sha256)
    if labels == _keyring_labels:
        return
    if _keyring_labels is not None:
        series().keyring_info.labels(*_keyring_labels).set(0)
    series().keyring_info.labels(*labels).set(1)
    _keyring_labels = labels


class KeyCollector:
    """Per published key, read from the live keyring at each scrape: days until its
    certificate expires, and seconds since it was first observed at `JwksUri`.

    Collected at scrape time rather than stored per worker: a key that leaves the JWKS
    leaves the metrics at once, and every worker reads the same keyring.
    """

    def __init__(self, keys: LiveKeys, *, clock: Callable[[], float]) -> None:
        self.keys = keys
        self.clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from prometheus_client.core import GaugeMetricFamily

        now = self.clock()
        moment = dt.datetime.fromtimestamp(now, dt.UTC)
        keyring = self.keys.keyring
        observations = self.keys.records.observations
        expiry = GaugeMetricFamily(
            "tokenidp_key_expiry_days",
            "Days until each published key's certificate expires (negative once expired).",
            labels=("kid", "role"),
        )
        observed = GaugeMetricFamily(
            "tokenidp_key_observed_seconds",
            "Seconds since each published key was first observed at JwksUri.",
            labels=("kid",),
        )
        for key in keyring.keys:
            days = (key.not_after - moment).total_seconds() / 86400
            expiry.add_metric((key.kid, str(key.role)), round(days, 3))
            observation = observations.get(key.kid)
            if observation is not None:
                observed.add_metric((key.kid,), max(0, int(now) - observation.observed_at))
        yield expiry
        yield observed


def is_multiprocess() -> bool:
    """Whether prometheus_client writes to files: it decided once, when it was imported."""
    from prometheus_client import values

    return values.ValueClass is not values.MutexValue


def render(keys: CollectorRegistry) -> bytes:
    """The exposition text: every worker's counts (multiprocess) or this process's, then
    the key gauges from `keys`, a registry holding this app's `KeyCollector`."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    if is_multiprocess():
        merged = CollectorRegistry(auto_describe=False)
        MultiProcessCollector(merged)
        counts = generate_latest(merged)
    else:
        counts = generate_latest(series().registry)
    return counts + generate_latest(keys)


class TimedEndpoint:
    """An endpoint whose every answer (errors too) is observed in a latency histogram."""

    def __init__(self, endpoint: Endpoint, observe: Callable[[float], None]) -> None:
        self.endpoint = endpoint
        self.reads_body = endpoint.reads_body
        self.observe = observe

    async def handle(self, request: OAuthRequest) -> OAuthResponse:
        started = perf_counter()
        try:
            return await self.endpoint.handle(request)
        finally:
            self.observe(perf_counter() - started)
