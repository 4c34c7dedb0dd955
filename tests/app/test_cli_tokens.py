"""`tokenidp tokens revoke`: one selector, a rule that holds until the tokens it covers have
expired, what it printed, and the audit events committed with it."""

from __future__ import annotations

import json
import time

import pytest
from idp_support import CLIENT_ID, invoke_tokenidp
from revocation_support import (
    OTHER_CLIENT_ID,
    OTHER_CLIENT_SECRET,
    UNREACHABLE_DATABASE,
    Idp,
    idp_environ,
)

from app.audit.events import operator
from app.oauth.revocation_rules import RULE_LEEWAY_SECONDS, RevocationRule, RuleKind, iso_time
from app.storage.revocation_rules import insert_rule


@pytest.fixture
def environ(store, config_dir, signing_certificate, database_url):
    return idp_environ(
        store, config_dir, database_url, CertificateThumbprint=signing_certificate.thumbprint
    )


@pytest.fixture
def idp(environ, config_dir):
    return Idp(environ, config_dir)


def revoke(environ, *arguments: str):
    return invoke_tokenidp("tokens", "revoke", *arguments, environ=environ)


def test_revoking_a_client_prints_the_rule_and_the_live_tokens_the_audit_log_counts(idp, environ):
    idp.issue()
    idp.issue()
    idp.issue(OTHER_CLIENT_ID, OTHER_CLIENT_SECRET)
    before = int(time.time())
    result = revoke(environ, "--client", CLIENT_ID, "--reason", "secret leaked")
    assert result.exit_code == 0, result.output
    [rule] = idp.rules()
    assert (rule["kind"], rule["value"]) == ("client", CLIENT_ID)
    assert before < rule["issued_before"] <= int(time.time()) + 1
    assert rule["expires_at"] == rule["issued_before"] + 3600 + RULE_LEEWAY_SECONDS
    assert (rule["created_by"], rule["reason"]) == (operator(), "secret leaked")
    assert result.output.splitlines() == [
        f"revoked: access tokens of client {CLIENT_ID} issued before "
        f"{iso_time(rule['issued_before'])}",
        f"rule {rule['id']} holds until {iso_time(rule['expires_at'])} "
        f"(AccessTokenLifetime + {RULE_LEEWAY_SECONDS} s leeway)",
        "still alive: 2 (a count of token.issued events in the audit log)",
        "refresh tokens revoked: 0",
    ]


def test_a_revocation_is_audited_with_the_rule_in_the_same_transaction(idp, environ):
    idp.issue()
    result = revoke(environ, "--client", CLIENT_ID, "--reason", "secret leaked")
    assert result.exit_code == 0, result.output
    [rule] = idp.rules()
    [revoked] = idp.audit("token.revoked")
    assert revoked["client_id"] == CLIENT_ID
    assert revoked["actor"] == operator()
    assert revoked["reason"] == "secret leaked"
    assert json.loads(revoked["detail"]) == {
        "count": 1,
        "issued_before": rule["issued_before"],
        "kind": "client",
        "rule": rule["id"],
        "token_type": "access_token",
        "value": CLIENT_ID,
    }
    [admin] = idp.audit("admin.tokens.revoke")
    assert (admin["actor"], admin["reason"], admin["client_id"]) == (
        operator(),
        "secret leaked",
        CLIENT_ID,
    )
    assert json.loads(admin["detail"])["rule"] == rule["id"]


def test_a_jti_rule_holds_for_one_token_lifetime_from_now(idp, environ):
    now = int(time.time())
    result = revoke(environ, "--jti", "abc123", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["rule"]["kind"] == "jti"
    assert document["rule"]["issued_before"] is None
    assert now + 3600 <= document["rule"]["expires_at"] - RULE_LEEWAY_SECONDS <= now + 3601
    assert document["alive_tokens_in_audit_log"] == 0
    assert idp.audit("token.revoked")[0]["jti"] == "abc123"


def test_issued_before_alone_covers_every_client_and_needs_yes(idp, environ):
    idp.issue()
    idp.issue(OTHER_CLIENT_ID, OTHER_CLIENT_SECRET)
    refused = revoke(environ, "--issued-before", str(int(time.time())))
    assert refused.exit_code == 2
    assert "--yes" in refused.output
    assert idp.rules() == []
    confirmed = revoke(environ, "--issued-before", str(int(time.time()) + 1), "--yes")
    assert confirmed.exit_code == 0, confirmed.output
    assert "access tokens of every client" in confirmed.output
    assert "still alive: 2" in confirmed.output
    assert [rule["kind"] for rule in idp.rules()] == ["all"]


def test_all_needs_yes(idp, environ):
    refused = revoke(environ, "--all")
    assert refused.exit_code == 2
    assert idp.rules() == []
    assert revoke(environ, "--all", "--yes").exit_code == 0


def test_issued_before_narrows_a_kid_rule_and_takes_iso_8601(idp, environ, signing_certificate):
    five_minutes_ago = int(time.time()) - 300
    kid = signing_certificate.thumbprint
    result = revoke(environ, "--kid", kid, "--issued-before", iso_time(five_minutes_ago))
    assert result.exit_code == 0, result.output
    [rule] = idp.rules()
    assert (rule["kind"], rule["value"], rule["issued_before"]) == ("kid", kid, five_minutes_ago)
    assert f"signed by key {kid} issued before {iso_time(five_minutes_ago)}" in result.output


def test_a_rule_whose_tokens_have_all_expired_is_not_written(idp, environ):
    long_ago = int(time.time()) - 3600 - RULE_LEEWAY_SECONDS - 10
    result = revoke(environ, "--client", CLIENT_ID, "--issued-before", str(long_ago))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("nothing to revoke:")
    assert idp.rules() == []
    assert idp.audit("token.revoked") == []


def test_expired_rules_are_deleted_by_the_next_revocation(idp, environ):
    with idp.services.storage.transaction() as work:
        expired = RevocationRule(RuleKind.CLIENT, "gone", 100, 200)
        insert_rule(work, expired, created_at=100, created_by="test", reason=None)
    result = revoke(environ, "--subject", "alice")
    assert result.exit_code == 0, result.output
    assert "deleted 1 expired rule" in result.output
    assert [rule["value"] for rule in idp.rules()] == ["alice"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((), "say which tokens"),
        (("--client", "a", "--subject", "b"), "one selector at a time"),
        (("--jti", "a", "--all"), "one selector at a time"),
        (("--jti", "a", "--issued-before", "5"), "issued_before does not apply"),
        (("--client", "a", "--issued-before", "4102444800"), "is in the future"),
        (("--client", "a", "--issued-before", "2026-01-01T00:00"), "has no time zone"),
        (("--client", "a", "--issued-before", "yesterday"), "neither seconds"),
        (("--client", "x" * 201), "1 to 200 characters"),
    ],
    ids=[
        "no selector",
        "two selectors",
        "jti and all",
        "jti before a time",
        "a future time",
        "a time without a zone",
        "not a time",
        "a value too long",
    ],
)
def test_bad_usage_exits_2_and_writes_nothing(idp, environ, arguments, message):
    result = revoke(environ, *arguments)
    assert result.exit_code == 2
    assert message in result.output
    assert idp.rules() == []


def test_an_unreachable_database_exits_1(store, config_dir, signing_certificate):
    environ = idp_environ(
        store,
        config_dir,
        UNREACHABLE_DATABASE,
        CertificateThumbprint=signing_certificate.thumbprint,
    )
    result = revoke(environ, "--client", CLIENT_ID)
    assert result.exit_code == 1
    assert "database cannot be reached" in result.output
