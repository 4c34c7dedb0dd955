"""Refresh tokens on SQLite and PostgreSQL: stored as digests, spent exactly once under
concurrency, a retry within the grace window revokes nothing, a later replay names the
family to revoke, and revocation by kid touches exactly the tokens of that key."""

from __future__ import annotations

import threading

from sqlalchemy import select

from app.oauth.refresh_tokens import (
    REUSE_GRACE_SECONDS,
    RefreshGrant,
    RetriedInGrace,
    Reused,
    find_live,
    new_family_id,
    new_refresh_token,
    revoke_family,
    revoke_matching,
    spend,
    store_refresh_token,
)
from app.storage import Storage
from app.storage.schema import refresh_tokens

NOW = 1_800_000_000
DAY = 86400


def grant(kid: str = "KID-A", family: str | None = None) -> RefreshGrant:
    return RefreshGrant(
        family_id=family or new_family_id(),
        client_id="web",
        subject="sub-1",
        scopes=("openid", "offline_access"),
        kid=kid,
        auth_time=NOW - 60,
    )


def stored(storage: Storage, issued: RefreshGrant) -> str:
    token = new_refresh_token()
    with storage.transaction() as work:
        store_refresh_token(work, token, issued, now=NOW, lifetime_seconds=DAY)
    return token


def test_a_refresh_token_is_stored_only_as_its_digest(storage):
    token = stored(storage, grant())
    with storage.reading() as connection:
        [digest] = connection.execute(select(refresh_tokens.c.token_sha256)).scalars().all()
    assert len(digest) == 32 and token.encode() not in bytes(digest)


def test_of_fifty_concurrent_uses_exactly_one_spends_the_token(storage):
    issued = grant()
    token = stored(storage, issued)
    start = threading.Barrier(50)
    outcomes = []

    def use() -> None:
        start.wait()
        with storage.transaction() as work:
            outcomes.append(spend(work, token, now=NOW + 1))

    threads = [threading.Thread(target=use) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [outcome for outcome in outcomes if isinstance(outcome, RefreshGrant)]
    assert len(winners) == 1 and winners[0].family_id == issued.family_id
    assert all(
        isinstance(outcome, RetriedInGrace) for outcome in outcomes if outcome is not winners[0]
    )


def test_a_retry_within_the_grace_window_revokes_nothing_and_a_later_replay_names_the_family(
    storage,
):
    issued = grant()
    token = stored(storage, issued)
    with storage.transaction() as work:
        assert isinstance(spend(work, token, now=NOW + 1), RefreshGrant)
        assert spend(work, token, now=NOW + 1 + REUSE_GRACE_SECONDS) == RetriedInGrace(
            issued.family_id
        )
        replay = spend(work, token, now=NOW + 2 + REUSE_GRACE_SECONDS)
    assert replay == Reused(issued.family_id, "web", "sub-1")


def test_revoking_a_family_kills_every_live_token_in_it(storage):
    issued = grant()
    first, second = stored(storage, issued), stored(storage, issued)
    other = stored(storage, grant())
    with storage.transaction() as work:
        assert revoke_family(work, issued.family_id, now=NOW + 1) == 2
    with storage.reading() as connection:
        assert find_live(connection, first, now=NOW + 2) is None
        assert find_live(connection, second, now=NOW + 2) is None
        assert find_live(connection, other, now=NOW + 2) is not None


def test_revoking_by_kid_touches_exactly_the_tokens_issued_under_that_key(storage):
    compromised = [stored(storage, grant("KID-COMPROMISED")) for _ in range(3)]
    kept = [stored(storage, grant("KID-OK")) for _ in range(2)]
    with storage.transaction() as work:
        assert revoke_matching(work, kid="KID-COMPROMISED", now=NOW + 1) == 3
    with storage.reading() as connection:
        assert [find_live(connection, token, now=NOW + 2) for token in compromised] == [None] * 3
        assert all(find_live(connection, token, now=NOW + 2) for token in kept)


def test_an_expired_refresh_token_cannot_be_spent(storage):
    token = stored(storage, grant())
    with storage.transaction() as work:
        assert spend(work, token, now=NOW + DAY) is None
