"""After publishing: look at `JwksUri` as a validator would and record what it serves.

A key may sign only some time after it was first observed at `JwksUri` (the activation
delay, app/keys/activation.py), so the deploy hook that put it there is the natural
observer: its CDN invalidation has completed, and one GET shows whether validators can
have the key. A fetch that fails is reported, not retried; a document that does not hold
every published key yet (a CDN edge still serving the old copy) is fetched again until
`--observe-timeout`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from app.audit.times import format_time
from app.config import Settings
from app.keys.keyring import Keyring, format_duration
from app.keys.live import serves_own_jwks
from app.keys.observe import observe_public_keys
from app.keys.records import read_key_records
from app.storage import open_current_storage

DEFAULT_OBSERVE_TIMEOUT_SECONDS = 30.0
OBSERVED_BY = "publisher"


def observe_after_publishing(
    settings: Settings,
    keyring: Keyring,
    *,
    timeout_seconds: float,
    say: Callable[[str], None],
    warn: Callable[[str], None],
    clock: Callable[[], float] = time.time,
) -> list[str]:
    """Record the first observation of every published key `JwksUri` serves; return them.

    Skipped when the IdP serves its own JWKS (each instance then observes what it serves)
    or when `timeout_seconds` is 0.
    """
    url = settings.token.jwks_uri
    if timeout_seconds <= 0 or not url or serves_own_jwks(settings):
        return []
    expect = keyring.published_kids
    wait_seconds = 1.0
    attempts = 1 + int(timeout_seconds // wait_seconds)
    storage = open_current_storage(settings)
    try:
        public, observed = observe_public_keys(
            storage,
            keyring,
            url,
            observed_by=OBSERVED_BY,
            expect=expect,
            attempts=attempts,
            wait_seconds=wait_seconds,
            retry_errors=False,
            clock=clock,
        )
        with storage.reading() as connection:
            records = read_key_records(connection)
    finally:
        storage.engine.dispose()
    if public.error is not None:
        warn(
            f"could not observe the keys at TokenOptions:JwksUri {url}: {public.error}; "
            "a new key cannot sign until it has been observed there (run the publisher "
            "again, or see `tokenidp keys status`)"
        )
        return observed
    delay = settings.token.key_activation_delay_seconds
    for kid in observed:
        since = records.observations[kid].observed_at if kid in records.observations else None
        when = f"{format_time(since + delay)} UTC" if since is not None else "later"
        say(
            f"Observed {kid} at {url} for the first time: it may sign from {when} "
            f"(activation delay {format_duration(delay)})"
        )
    missing = [kid for kid in expect if not public.holds(kid)]
    if missing:
        warn(
            f"{url} does not serve {', '.join(missing)} after {format_duration(timeout_seconds)}; "
            "validators fetching it cannot have that key yet, and it cannot sign until it "
            "has been observed there (run the publisher again, or see `tokenidp keys status`)"
        )
    return observed
