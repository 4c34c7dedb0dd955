"""Authorization codes on SQLite and PostgreSQL: single use even under concurrent
redemption, short-lived, stored only as digests, and a replay names what to revoke."""

from __future__ import annotations

import threading

from sqlalchemy import select

from app.oauth.codes import (
    CODE_LIFETIME_SECONDS,
    CodeGrant,
    Replayed,
    new_code,
    record_issued,
    redeem_code,
    store_code,
)
from app.storage.schema import authorization_codes

NOW = 1_800_000_000
GRANT = CodeGrant(
    client_id="web",
    subject="sub-1",
    redirect_uri="https://app.example/callback",
    scopes=("openid", "profile"),
    auth_time=NOW - 5,
    nonce="n-1",
    code_challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    code_challenge_method="S256",
)


def test_a_code_is_stored_as_a_digest_and_redeemed_once(storage):
    code = new_code()
    with storage.transaction() as work:
        store_code(work, code, GRANT, now=NOW)
    with storage.reading() as connection:
        stored = connection.execute(select(authorization_codes)).one()
    assert code.encode() not in bytes(stored.code_sha256) and len(stored.code_sha256) == 32
    with storage.transaction() as work:
        assert redeem_code(work, code, now=NOW + 1) == GRANT
        record_issued(work, code, jti="jti-1", refresh_family="family-1")
    with storage.transaction() as work:
        assert redeem_code(work, code, now=NOW + 2) == Replayed("web", "jti-1", "family-1")


def test_an_expired_or_unknown_code_redeems_nothing(storage):
    code = new_code()
    with storage.transaction() as work:
        store_code(work, code, GRANT, now=NOW)
    with storage.transaction() as work:
        assert redeem_code(work, code, now=NOW + CODE_LIFETIME_SECONDS) is None
        assert redeem_code(work, new_code(), now=NOW) is None


def test_of_concurrent_redemptions_exactly_one_succeeds(storage):
    code = new_code()
    with storage.transaction() as work:
        store_code(work, code, GRANT, now=NOW)
    start = threading.Barrier(16)
    outcomes = []

    def redeem() -> None:
        start.wait()
        with storage.transaction() as work:
            outcomes.append(redeem_code(work, code, now=NOW + 1))

    threads = [threading.Thread(target=redeem) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(outcome == GRANT for outcome in outcomes) == 1
    assert all(isinstance(outcome, Replayed) for outcome in outcomes if outcome != GRANT)
