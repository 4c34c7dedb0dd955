"""Failed authentications, counted per remote address and per presented name (a client id,
or a user name at the login page), with the `limits` library's moving window.

The rule, which tests/ops/test_rate_limits.py proves:

- Only failures count; a success neither counts nor resets anything.
- An address with `RateLimits:FailuresPerAddress` failures in the window gets 429 for
  every attempt, the correct secret included, until its oldest failure leaves the window.
- A name with `RateLimits:FailuresPerId` failures in the window gets 429, but only at
  addresses that failed themselves within the per-address window. An address with no
  recent failure always has its secret checked: someone else's failures never lock a
  client out, and a client sharing an address with the attacker is locked out no longer
  than the window after the last failure from there.
- 429 answers are not failures: they never extend a block.

Why a moving window: it counts exactly the failures of the last window, so neither
limit lets through twice its rate across a window boundary as a fixed window does, and
`Retry-After` is exact (the oldest failure's age). It stores one timestamp per counted
failure, at most the limit per key: a few dozen entries.

Counted in Redis when `TOKENIDP_REDIS_URL` is set (every instance and worker counts
together), in this process's memory otherwise. A round trip to Redis costs about 100 µs,
a quarter of a token, so a process remembers for `CLEAN_SECONDS` that an address had no
recent failure, and forgets it at that address's first failure here: failures another
instance counts are seen here within that second, which lets an address over its limit
try at most once more per worker and second. When Redis cannot be reached the check
fails open to this process's memory counters (still a limit, per process) for
`REDIS_RETRY_SECONDS`, with one log line and `tokenidp_rate_limit_storage_errors_total`:
failing closed would turn a Redis outage into refusing every client, and a Redis that
times out must not stall the token endpoint (its socket waits are bounded).
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import MovingWindowRateLimiter, RateLimiter
from redis.exceptions import RedisError

from app.audit.events import CLIENT_RATE_LIMITED, LOGIN_RATE_LIMITED, AuditEvent
from app.config.settings import RateLimitOptions
from app.ops import metrics

log = logging.getLogger("tokenidp")
T = TypeVar("T")
REDIS_TIMEOUT_SECONDS = 0.25
REDIS_RETRY_SECONDS = 5.0
CLEAN_SECONDS = 1.0
MAX_REMEMBERED_CLEAN = 10_000
EVENTS = {"client": CLIENT_RATE_LIMITED, "login": LOGIN_RATE_LIMITED}


@dataclass(frozen=True)
class Refusal:
    """Why an attempt is refused before its secret is checked, and for how long."""

    kind: str  # "client" or "login"
    limit: str  # "address" or "id"
    rule: str  # e.g. "20 per 1 minute"
    retry_after_seconds: int
    address: str
    name: str | None

    @property
    def description(self) -> str:
        whose = (
            "from this address"
            if self.limit == "address"
            else "for this " + ("client" if self.kind == "client" else "account")
        )
        return (
            f"too many failed authentications {whose} ({self.rule}); "
            f"retry after {self.retry_after_seconds} s"
        )


class LimitStorage:
    """A moving-window limiter over Redis (shared) or memory, and the memory fallback."""

    def __init__(self, redis_url: str | None, *, key_prefix: str) -> None:
        self.redis_url = redis_url
        self.key_prefix = key_prefix
        self._lock = threading.Lock()
        self.after_fork()

    def after_fork(self) -> None:
        """In a new worker: its own connections and memory counters, none of the parent's."""
        self.memory: RateLimiter = MovingWindowRateLimiter(MemoryStorage())
        self.shared: RateLimiter | None = None
        if self.redis_url is not None:
            storage = RedisStorage(
                self.redis_url,
                key_prefix=self.key_prefix,
                wrap_exceptions=True,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            )
            self.shared = MovingWindowRateLimiter(storage)
        self._down_until = 0.0
        self._reported_down = False

    @property
    def is_shared(self) -> bool:
        return self.shared is not None

    def run(self, operation: Callable[[RateLimiter], T]) -> T:
        """`operation` on Redis when configured and answering, else on memory."""
        shared = self.shared
        if shared is not None and time.monotonic() >= self._down_until:
            try:
                result = operation(shared)
            except (StorageError, RedisError, OSError) as error:
                self._redis_failed(error)
            else:
                if self._reported_down:
                    self._reported_down = False
                    log.info("rate limits: Redis answers again; counting there again")
                return result
        return operation(self.memory)

    def _redis_failed(self, error: Exception) -> None:
        metrics.rate_limit_storage_error()
        with self._lock:
            self._down_until = time.monotonic() + REDIS_RETRY_SECONDS
            if self._reported_down:
                return
            self._reported_down = True
        cause = getattr(error, "storage_error", None) or error
        reason = " ".join(str(cause).split())[:200] or type(cause).__name__
        log.error(
            "rate limits: Redis cannot be reached (%s): counting failed authentications in "
            "this process until it answers (retried every %g s)",
            reason,
            REDIS_RETRY_SECONDS,
        )


class FailureLimits:
    """The two limits on one kind of failed authentication (`client` or `login`)."""

    def __init__(self, kind: str, options: RateLimitOptions, storage: LimitStorage) -> None:
        self.kind = kind
        self.per_address = parse(options.per_address)
        self.per_id = parse(options.per_id)
        self.audited = {
            "address": _once_per(self.per_address),
            "id": _once_per(self.per_id),
        }
        self.storage = storage
        self._clean: dict[str, float] = {}  # address -> until when it is known clean
        self._audited: dict[tuple[str, str], float] = {}  # (limit, key) -> until when

    def check(self, *, address: str, name: str | None | Callable[[], str | None]) -> Refusal | None:
        """A refusal when a limit holds for this attempt, before its secret is checked.

        `name` may be a function: it is called only for an address with recent failures,
        so a clean address costs one lookup and no parsing.
        """
        now = time.monotonic()
        if self._clean.get(address, 0.0) > now:
            return None
        remaining, reset = self._window(self.per_address, "address", address)
        if remaining <= 0:
            return self._refuse("address", self.per_address, reset, address, name)
        if remaining >= self.per_address.amount:
            self._remember_clean(address, now)
            return None  # no recent failure from here: others' failures do not lock it out
        presented = name() if callable(name) else name
        if not presented:
            return None
        remaining, reset = self._window(self.per_id, "id", _digest(presented))
        if remaining <= 0:
            return self._refuse("id", self.per_id, reset, address, presented)
        return None

    def record_failure(self, *, address: str, name: str | None) -> None:
        """Count one failed authentication against the address and the presented name."""
        self._clean.pop(address, None)

        def hit(limiter: RateLimiter) -> None:
            limiter.hit(self.per_address, self.kind, "address", address)
            if name:
                limiter.hit(self.per_id, self.kind, "id", _digest(name))

        self.storage.run(hit)

    def refusal_event(self, refusal: Refusal, *, now: int) -> AuditEvent | None:
        """The `client.rate_limited` (or `login.rate_limited`) event for the first refusal
        of a limit's window, else None: an attacker's flood is audited once per window."""
        key = refusal.address if refusal.limit == "address" else _digest(refusal.name or "")
        now_monotonic = time.monotonic()
        if self._audited.get((refusal.limit, key), 0.0) > now_monotonic:
            return None  # this process knows it is audited: no storage call per refusal
        item = self.audited[refusal.limit]
        first = self.storage.run(
            lambda limiter: limiter.hit(item, self.kind, "audited", refusal.limit, key)
        )
        if len(self._audited) >= MAX_REMEMBERED_CLEAN:
            self._audited.clear()
        # Audited here or elsewhere: no need to ask again while this refusal lasts.
        self._audited[(refusal.limit, key)] = now_monotonic + refusal.retry_after_seconds
        if not first:
            return None
        log.warning(
            "%s rate limited: %s=%s address=%s: %s",
            self.kind,
            "client_id" if self.kind == "client" else "user",
            _shown(refusal.name),
            refusal.address,
            refusal.description,
        )
        return AuditEvent(
            EVENTS[self.kind],
            now,
            client_id=refusal.name if self.kind == "client" else None,
            subject=refusal.name if self.kind == "login" else None,
            address=refusal.address,
            reason=refusal.description,
            detail={"rule": f"{refusal.limit}: {refusal.rule}"},
        )

    def _remember_clean(self, address: str, now: float) -> None:
        if len(self._clean) >= MAX_REMEMBERED_CLEAN:
            self._clean.clear()  # bounded: many addresses only cost lookups again
        self._clean[address] = now + CLEAN_SECONDS

    def _window(self, item: RateLimitItem, limit: str, key: str) -> tuple[int, float]:
        stats = self.storage.run(
            lambda limiter: limiter.get_window_stats(item, self.kind, limit, key)
        )
        return stats.remaining, stats.reset_time

    def _refuse(
        self,
        limit: str,
        item: RateLimitItem,
        reset: float,
        address: str,
        name: str | None | Callable[[], str | None],
    ) -> Refusal:
        metrics.rate_limited(self.kind, limit)
        presented = name() if callable(name) else name
        return Refusal(
            kind=self.kind,
            limit=limit,
            rule=_rule(item),
            retry_after_seconds=max(1, math.ceil(reset - time.time())),
            address=address,
            name=presented,
        )


def _once_per(item: RateLimitItem) -> RateLimitItem:
    """One per the window of `item`: the audit's deduplication."""
    return type(item)(1, item.multiples)


def _rule(item: RateLimitItem) -> str:
    unit = item.GRANULARITY.name
    return f"{item.amount} per {item.multiples} {unit}{'s' if item.multiples != 1 else ''}"


def _digest(name: str) -> str:
    """A fixed-length key for a name anyone may invent (no unbounded keys, nothing echoed)."""
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _shown(name: str | None) -> str:
    from app.logs import presented

    return presented(name)
