"""The refresh_token grant: rotation on every use; a retry within the grace window refused
with nothing revoked; reuse after it revokes the family (audited); scope narrowing only;
the current key signs and the successor remembers it; refused for a revoked key, a
disabled user, a disabled client or another client's token. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading

import pytest
from clients_support import MovableClock
from grants_support import (
    ALL_SCOPES,
    PUBLIC_CLIENT_ID,
    WEB_CLIENT_ID,
    add_user,
    asgi_post_many,
    code_flow_tokens,
    refresh_form,
)
from idp_support import invoke_tokenidp
from revocation_support import Idp, claims_of, header_of
from sqlalchemy import select, update

from app.documents import TOKEN_PATH
from app.keys.records import record_observations
from app.oauth.refresh_tokens import (
    REUSE_GRACE_SECONDS,
    RefreshGrant,
    new_family_id,
    new_refresh_token,
    store_refresh_token,
    token_digest,
)
from app.storage.schema import refresh_tokens, users


def refresh(idp, web_secret, token: str, **extra: str):
    return idp.post(TOKEN_PATH, refresh_form(token, **extra), auth=(WEB_CLIENT_ID, web_secret))


def stored_row(idp, token: str) -> dict:
    with idp.services.storage.reading() as connection:
        row = connection.execute(
            select(refresh_tokens).where(refresh_tokens.c.token_sha256 == token_digest(token))
        ).first()
    return dict(row._mapping)


def test_each_refresh_rotates_the_refresh_token(idp, web_secret, clock):
    first = code_flow_tokens(idp, web_secret, now=clock())
    clock.advance(30)
    second = refresh(idp, web_secret, first["refresh_token"])
    assert second.status == 200, second.body
    body = second.json()
    assert body["refresh_token"] != first["refresh_token"]
    assert body["scope"] == " ".join(ALL_SCOPES)
    assert claims_of(body["access_token"])["iat"] == int(clock())
    id_claims = claims_of(body["id_token"])
    assert id_claims["auth_time"] == claims_of(first["id_token"])["auth_time"]
    assert "nonce" not in id_claims
    successor, spent = (
        stored_row(idp, body["refresh_token"]),
        stored_row(idp, first["refresh_token"]),
    )
    assert successor["family_id"] == spent["family_id"]
    assert successor["expires_at"] == spent["expires_at"]  # rotation never extends the family
    assert spent["used_at"] == int(clock())
    [_, issued] = idp.audit("token.issued")
    assert issued["grant_type"] == "refresh_token"
    assert issued["jti"] == claims_of(body["access_token"])["jti"]


def test_a_retry_within_the_grace_window_is_refused_and_revokes_nothing(idp, web_secret, clock):
    first = code_flow_tokens(idp, web_secret, now=clock())
    successor = refresh(idp, web_secret, first["refresh_token"]).json()["refresh_token"]
    clock.advance(REUSE_GRACE_SECONDS)
    retry = refresh(idp, web_secret, first["refresh_token"])
    assert retry.status == 400
    assert retry.json()["error"] == "invalid_grant"
    assert refresh(idp, web_secret, successor).status == 200
    assert idp.audit("refresh_token.reused") == []


def test_reuse_after_the_grace_window_revokes_the_whole_family(idp, web_secret, clock):
    first = code_flow_tokens(idp, web_secret, now=clock())
    other_family = code_flow_tokens(idp, web_secret, now=clock())["refresh_token"]
    successor = refresh(idp, web_secret, first["refresh_token"]).json()["refresh_token"]
    clock.advance(REUSE_GRACE_SECONDS + 1)
    replay = refresh(idp, web_secret, first["refresh_token"])
    assert replay.json()["error"] == "invalid_grant"
    assert refresh(idp, web_secret, successor).json()["error"] == "invalid_grant"
    assert refresh(idp, web_secret, other_family).status == 200  # another sign-in's family
    [reused] = idp.audit("refresh_token.reused")
    assert reused["client_id"] == WEB_CLIENT_ID
    assert first["refresh_token"] not in str(reused) and successor not in str(reused)
    assert '"count": 2' in reused["detail"]  # the spent token and its successor


def test_scope_may_narrow_but_never_widen(idp, web_secret, clock):
    first = code_flow_tokens(
        idp, web_secret, now=clock(), scopes=("openid", "offline_access", "orders.read")
    )
    narrowed = refresh(idp, web_secret, first["refresh_token"], scope="orders.read").json()
    assert narrowed["scope"] == "orders.read"
    assert "id_token" not in narrowed  # openid was not asked for this time
    assert claims_of(narrowed["access_token"])["scope"] == "orders.read"
    again = refresh(idp, web_secret, narrowed["refresh_token"]).json()
    assert again["scope"] == "openid offline_access orders.read"  # the family keeps its scopes
    widened = refresh(idp, web_secret, again["refresh_token"], scope="orders.read profile")
    assert widened.status == 400
    assert widened.json()["error"] == "invalid_scope"
    assert refresh(idp, web_secret, again["refresh_token"]).status == 200  # not spent by that


def test_another_clients_refresh_token_is_refused(idp, web_secret, clock):
    tokens = code_flow_tokens(idp, web_secret, now=clock())
    answer = idp.post(
        TOKEN_PATH, refresh_form(tokens["refresh_token"], client_id=PUBLIC_CLIENT_ID), auth=None
    )
    assert answer.json()["error"] == "invalid_grant"
    assert refresh(idp, web_secret, tokens["refresh_token"]).status == 200


def test_a_disabled_user_cannot_refresh(idp, web_secret, clock):
    tokens = code_flow_tokens(idp, web_secret, now=clock())
    with idp.services.storage.transaction() as work:
        work.execute(update(users).values(disabled_at=int(clock())))
    assert refresh(idp, web_secret, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_a_disabled_client_cannot_refresh(idp, environ, web_secret, clock):
    tokens = code_flow_tokens(idp, web_secret, now=clock())
    result = invoke_tokenidp("clients", "disable", WEB_CLIENT_ID, environ=environ)
    assert result.exit_code == 0, result.output
    clock.advance(6)  # the registry reads the database's clients again after 5 s
    answer = refresh(idp, web_secret, tokens["refresh_token"])
    assert answer.status == 401
    assert answer.json()["error"] == "invalid_client"


def test_a_refresh_token_issued_under_a_revoked_key_is_refused(
    store, config_dir, environ, web_secret, other_rsa_key, clock
):
    compromised = store.add(key=other_rsa_key, subject="CN=compromised")
    environ = {**environ, "TokenOptions__RevokedCertificateThumbprints": compromised.thumbprint}
    idp = Idp(environ, config_dir, clock=clock)
    add_user(idp.services.storage)
    token = new_refresh_token()
    grant = RefreshGrant(
        new_family_id(), WEB_CLIENT_ID, "u-7f3a9c", ALL_SCOPES, compromised.thumbprint
    )
    with idp.services.storage.transaction() as work:
        store_refresh_token(work, token, grant, now=int(clock()), lifetime_seconds=3600)
    assert refresh(idp, web_secret, token).json()["error"] == "invalid_grant"
    answer = idp.introspect(token, auth=(WEB_CLIENT_ID, web_secret))
    assert answer.json() == {"active": False}


def test_tokens_from_a_refresh_carry_the_kid_signing_now(
    store, config_dir, environ, web_secret, other_rsa_key, signing_certificate, clock
):
    """Key A signed the sign-in; after the switch to key B, a refresh is signed by B, and
    the successor refresh token and the audit log record B."""
    first_idp = Idp(environ, config_dir, clock=clock)
    add_user(first_idp.services.storage)
    tokens = code_flow_tokens(first_idp, web_secret, now=clock())
    key_a = signing_certificate.thumbprint
    assert stored_row(first_idp, tokens["refresh_token"])["kid"] == key_a
    key_b = store.add(key=other_rsa_key, subject="CN=next signing").thumbprint
    with first_idp.services.storage.transaction() as work:  # the publisher saw B 2 h ago
        record_observations(
            work,
            [key_b],
            now=int(clock()) - 7200,
            observed_by="publisher",
            jwks_uri=first_idp.services.settings.token.jwks_uri,
        )
    second_idp = Idp(
        {**environ, "TokenOptions__CertificateThumbprint": key_b}, config_dir, clock=clock
    )
    body = refresh(second_idp, web_secret, tokens["refresh_token"]).json()
    assert header_of(body["access_token"])["kid"] == key_b
    assert header_of(body["id_token"])["kid"] == key_b
    assert stored_row(second_idp, body["refresh_token"])["kid"] == key_b
    kids = [(row["grant_type"], row["kid"]) for row in second_idp.audit("token.issued")]
    assert kids == [("authorization_code", key_a), ("refresh_token", key_b)]


CONCURRENT = 50


def outcomes(answers: list[tuple[int, dict]]) -> tuple[list[dict], list[str]]:
    won = [body for status, body in answers if status == 200]
    lost = [body.get("error") for status, body in answers if status != 200]
    return won, lost


def assert_one_won_and_a_later_replay_revokes_the_family(idp, web_secret, clock, token, answers):
    won, lost = outcomes(answers)
    assert len(won) == 1, [error for error in lost]
    assert lost == ["invalid_grant"] * (CONCURRENT - 1)
    assert idp.audit("refresh_token.reused") == []  # the losers were retries in grace
    successor = won[0]["refresh_token"]
    assert idp.introspect(successor, auth=(WEB_CLIENT_ID, web_secret)).json()["active"] is True
    clock.advance(REUSE_GRACE_SECONDS + 1)
    assert refresh(idp, web_secret, token).json()["error"] == "invalid_grant"
    assert idp.introspect(successor, auth=(WEB_CLIENT_ID, web_secret)).json() == {"active": False}
    assert len(idp.audit("refresh_token.reused")) == 1
    issued = [row for row in idp.audit("token.issued") if row["grant_type"] == "refresh_token"]
    assert len(issued) == 1


def test_fifty_simultaneous_refreshes_on_threads_give_one_success(idp, web_secret, clock):
    """Threads through the WSGI adapter, each request its own transaction on the database."""
    token = code_flow_tokens(idp, web_secret, now=clock())["refresh_token"]
    barrier = threading.Barrier(CONCURRENT)
    answers: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def use() -> None:
        client = idp.flask_app.test_client()
        barrier.wait()
        response = client.post(
            TOKEN_PATH, data=refresh_form(token), auth=(WEB_CLIENT_ID, web_secret)
        )
        with lock:
            answers.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=use) for _ in range(CONCURRENT)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == CONCURRENT
    assert_one_won_and_a_later_replay_revokes_the_family(idp, web_secret, clock, token, answers)


def test_fifty_simultaneous_refreshes_under_the_event_loop_give_one_success(idp, web_secret, clock):
    """All in flight at once on gunicorn's ASGI path, committed by the batching writers."""
    token = code_flow_tokens(idp, web_secret, now=clock())["refresh_token"]
    answers = asyncio.run(
        asgi_post_many(
            idp.application.asgi,
            TOKEN_PATH,
            refresh_form(token),
            auth=(WEB_CLIENT_ID, web_secret),
            count=CONCURRENT,
        )
    )
    assert_one_won_and_a_later_replay_revokes_the_family(idp, web_secret, clock, token, answers)


def test_the_grace_window_follows_the_idps_clock():
    clock = MovableClock()
    start = clock()
    clock.advance(REUSE_GRACE_SECONDS)
    assert clock() - start == REUSE_GRACE_SECONDS


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"grant_type": "refresh_token", "refresh_token": "never-issued"}, "invalid_grant"),
        ({"grant_type": "refresh_token"}, "invalid_request"),
        (
            {"grant_type": "refresh_token", "refresh_token": "x", "scope": " openid"},
            "invalid_grant",
        ),
    ],
    ids=["unknown", "missing", "unknown-with-bad-scope"],
)
def test_bad_refresh_requests_get_oauth_errors(idp, web_secret, form, error):
    answer = idp.post(TOKEN_PATH, form, auth=(WEB_CLIENT_ID, web_secret))
    assert answer.status == 400
    assert answer.json()["error"] == error
    assert idp.audit("refresh_token.reused") == []


def test_an_expired_refresh_token_is_refused(idp, web_secret, clock):
    tokens = code_flow_tokens(idp, web_secret, now=clock())
    clock.advance(2_592_000)
    answer = refresh(idp, web_secret, tokens["refresh_token"])
    assert answer.json()["error"] == "invalid_grant"
    assert idp.audit("refresh_token.reused") == []
