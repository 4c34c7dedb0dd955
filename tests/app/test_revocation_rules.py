"""Revocation rules: which tokens a rule covers, how long it holds, and the query that finds
the rules for a token (on SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from app.oauth.revocation_rules import (
    RULE_LEEWAY_SECONDS,
    RevocationRule,
    RevocationRuleError,
    RuleKind,
    TokenFacts,
    is_revoked,
    rule_from_selector,
)
from app.storage.revocation_rules import delete_expired_rules, find_rules_for_token, insert_rule

NOW = 1_800_000_000
LIFETIME = 3600
TOKEN = TokenFacts(jti="j1", client_id="orders", subject="alice", kid="KID1", issued_at=NOW - 10)
NAMING_TOKEN = {
    RuleKind.JTI: "j1",
    RuleKind.CLIENT: "orders",
    RuleKind.SUBJECT: "alice",
    RuleKind.KID: "KID1",
    RuleKind.ALL: None,
}


def rule(kind: RuleKind, value: str | None, *, issued_before: int | None = None) -> RevocationRule:
    return rule_from_selector(
        kind, value, issued_before=issued_before, now=NOW, access_token_lifetime_seconds=LIFETIME
    )


@pytest.mark.parametrize("kind", list(RuleKind))
def test_a_rule_covers_the_token_it_names(kind):
    assert rule(kind, NAMING_TOKEN[kind]).covers(TOKEN)


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (RuleKind.JTI, "j2"),
        (RuleKind.CLIENT, "billing"),
        (RuleKind.SUBJECT, "bob"),
        (RuleKind.KID, "KID2"),
    ],
)
def test_a_rule_leaves_other_tokens_alone(kind, value):
    assert not rule(kind, value).covers(TOKEN)


@pytest.mark.parametrize("kind", [RuleKind.CLIENT, RuleKind.SUBJECT, RuleKind.KID, RuleKind.ALL])
def test_a_rule_covers_tokens_issued_before_its_time_and_not_at_or_after(kind):
    value = NAMING_TOKEN[kind]
    covering = rule(kind, value, issued_before=TOKEN.issued_at + 1)
    assert covering.covers(TOKEN)
    at = rule(kind, value, issued_before=TOKEN.issued_at)
    assert not at.covers(TOKEN)
    assert not is_revoked(TOKEN, [at, rule(RuleKind.CLIENT, "billing")])
    assert is_revoked(TOKEN, [at, covering])


def test_by_default_a_rule_covers_tokens_issued_during_the_current_second():
    assert rule(RuleKind.CLIENT, "orders").covers(TOKEN._replace(issued_at=NOW))


def test_a_jti_rule_covers_its_token_whenever_it_was_issued():
    assert rule(RuleKind.JTI, "j1").covers(TOKEN._replace(issued_at=NOW + 5))


def test_a_rule_holds_until_every_token_it_covers_has_expired():
    before = NOW - 600
    assert rule(RuleKind.CLIENT, "orders", issued_before=before).expires_at == (
        before + LIFETIME + RULE_LEEWAY_SECONDS
    )
    assert rule(RuleKind.JTI, "j1").expires_at == NOW + LIFETIME + RULE_LEEWAY_SECONDS


@pytest.mark.parametrize(
    ("kind", "value", "issued_before"),
    [
        (RuleKind.CLIENT, "orders", NOW + 60),
        (RuleKind.JTI, "j1", NOW - 60),
        (RuleKind.ALL, "orders", None),
        (RuleKind.CLIENT, None, None),
        (RuleKind.SUBJECT, "", None),
        (RuleKind.CLIENT, "x" * 201, None),
    ],
    ids=["future", "jti with a time", "all with a value", "client without one", "empty", "long"],
)
def test_a_rule_that_cannot_hold_is_refused_where_it_is_made(kind, value, issued_before):
    with pytest.raises(RevocationRuleError):
        rule(kind, value, issued_before=issued_before)


def test_the_query_finds_the_rules_naming_the_token_that_still_hold(storage):
    naming = [
        RevocationRule(RuleKind.JTI, "j1", None, NOW + 100),
        RevocationRule(RuleKind.CLIENT, "orders", NOW, NOW + 100),
        RevocationRule(RuleKind.SUBJECT, "alice", NOW, NOW + 100),
        RevocationRule(RuleKind.KID, "KID1", NOW, NOW + 100),
        RevocationRule(RuleKind.ALL, None, NOW, NOW + 100),
    ]
    others = [
        RevocationRule(RuleKind.CLIENT, "orders", NOW - 3600, NOW),  # no longer holds
        RevocationRule(RuleKind.CLIENT, "billing", NOW, NOW + 100),
        RevocationRule(RuleKind.SUBJECT, "orders", NOW, NOW + 100),  # a subject, not a client
        RevocationRule(RuleKind.JTI, "j2", None, NOW + 100),
    ]
    with storage.transaction() as work:
        for each in naming + others:
            insert_rule(work, each, created_at=NOW, created_by="test", reason=None)
    with storage.reading() as connection:
        found = find_rules_for_token(connection, TOKEN, now=NOW)
    assert sorted(found, key=lambda found_rule: found_rule.kind) == sorted(
        naming, key=lambda naming_rule: naming_rule.kind
    )
    with storage.transaction() as work:
        assert delete_expired_rules(work, now=NOW) == 1
