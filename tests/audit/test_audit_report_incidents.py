"""`tokenidp audit report` on the incidents it exists for, on SQLite and PostgreSQL.

Each test plants a day of the log as the IdP writes it (tokens, failed authentications,
key activations, admin actions) and reads the report an operator would get the morning
after: `--since 2026-03-02 --until 2026-03-03`, compared with 2026-03-01.
"""

from __future__ import annotations

import getpass

import pytest
from audit_support import (
    KID_2025,
    KID_2026,
    KID_UNKNOWN,
    activated,
    admin,
    at,
    failed,
    issued,
    plant,
)

from app.keys.records import record_revocation

THE_DAY = ("--since", "2026-03-02", "--until", "2026-03-03")
HOURLY = 3600


def findings_of(document, kind):
    return [finding for finding in document["findings"] if finding["kind"] == kind]


def a_steady_day(day: str) -> list:
    """What orders-service and billing do every day: one token an hour each."""
    return [
        *issued(at(f"{day}T00:10"), client="orders-service", kid=KID_2025, count=24, every=HOURLY),
        *issued(at(f"{day}T00:20"), client="billing", kid=KID_2025, count=24, every=HOURLY),
    ]


def test_a_steady_day_with_a_restart_reports_nothing_and_exits_0(storage, audit):
    plant(
        storage,
        activated(at("2026-02-20T08:00"), KID_2025),
        a_steady_day("2026-03-01"),
        activated(at("2026-03-02T04:00"), KID_2025, previous=KID_2025),  # a restart
        a_steady_day("2026-03-02"),
    )

    result = audit("report", *THE_DAY)

    assert result.exit_code == 0, result.output
    assert "findings: none" in result.stdout
    assert "orders-service  24      24   1.0×" in result.stdout


def test_report_flags_a_client_whose_issuance_spiked_overnight(storage, audit):
    """billing's secret leaked: someone asks for a token every few seconds from 02:00."""
    plant(
        storage,
        activated(at("2026-02-20T08:00"), KID_2025),
        a_steady_day("2026-03-01"),
        a_steady_day("2026-03-02"),
        issued(
            at("2026-03-02T02:00"),
            client="billing",
            kid=KID_2025,
            count=400,
            every=9,
            address="198.51.100.23",
            jti="leaked",
        ),
    )

    status, report = audit.json("report", *THE_DAY)

    assert status == 1
    client_spikes = [f for f in findings_of(report, "issuance_spike") if "client" in f["facts"]]
    assert [spike["facts"] for spike in client_spikes] == [
        {"client": "billing", "previous": 24, "current": 424}
    ], "orders-service issued as many as the day before"
    assert client_spikes[0]["severity"] == "warning"
    assert "424 tokens against 24 in the previous 24h (17.7×)" in client_spikes[0]["summary"]
    assert report["issuance"]["clients"][0] == {
        "client_id": "billing",
        "previous": 24,
        "current": 424,
    }


def test_report_flags_tokens_signed_with_the_old_key_after_the_emergency_rollover(storage, audit):
    """At 10:00 the 2025 key was replaced; one instance was never restarted and kept signing
    with it for 40 minutes."""
    plant(
        storage,
        activated(at("2026-02-20T08:00"), KID_2025),
        a_steady_day("2026-03-01"),
        issued(
            at("2026-03-02T00:10"), client="orders-service", kid=KID_2025, count=10, every=HOURLY
        ),
        activated(at("2026-03-02T10:00"), KID_2026, previous=KID_2025),
        issued(
            at("2026-03-02T10:05"),
            client="orders-service",
            kid=KID_2025,
            count=7,
            every=350,
            jti="stale-instance",
        ),
        issued(
            at("2026-03-02T10:10"), client="orders-service", kid=KID_2026, count=13, every=HOURLY
        ),
    )

    status, report = audit.json("report", *THE_DAY)

    assert status == 1
    [stale] = findings_of(report, "unexpected_kid")
    assert stale["severity"] == "warning"
    assert stale["facts"] == {
        "kid": KID_2025,
        "reason": "retired",
        "count": 7,
        "first_at": at("2026-03-02T10:05"),
        "last_at": at("2026-03-02T10:05") + 6 * 350,
        "clients": ["orders-service"],
        "signing_kids": [KID_2026],
    }
    assert "an instance still signs with the old key" in stale["summary"]
    [change] = findings_of(report, "signing_key_changed")
    assert change["facts"]["previous_kid"] == KID_2025
    assert not findings_of(report, "issuance_spike"), "a rotation moves issuance between kids"


@pytest.mark.parametrize("revoked_in", ["configuration", "database"])
def test_report_flags_tokens_under_a_revoked_kid_as_critical(storage, audit, revoked_in):
    """The 2025 key was compromised and revoked, in the configuration or with `tokenidp keys
    revoke`; tokens signed with it after the rollover are critical, those from before it
    only need replacing."""
    plant(
        storage,
        activated(at("2026-02-20T08:00"), KID_2025),
        issued(at("2026-03-02T07:00"), client="billing", kid=KID_2025, count=3, every=HOURLY),
        activated(at("2026-03-02T10:00"), KID_2026, previous=KID_2025),
        issued(at("2026-03-02T11:00"), client="orders-service", kid=KID_2025, count=2, every=60),
    )

    configured = (KID_2025.lower(),) if revoked_in == "configuration" else ()
    if revoked_in == "database":
        with storage.transaction() as work:
            record_revocation(
                work, KID_2025, now=at("2026-03-02T10:00"), actor="ops", reason="leaked"
            )
    result = audit("report", *THE_DAY, revoked=configured)
    status, report = audit.json("report", *THE_DAY, revoked=configured)

    assert result.exit_code == status == 1
    by_reason = {f["facts"]["reason"]: f for f in findings_of(report, "unexpected_kid")}
    assert by_reason["revoked"]["severity"] == "critical"
    assert by_reason["revoked"]["facts"]["count"] == 2
    assert by_reason["revoked"]["facts"]["clients"] == ["orders-service"]
    assert by_reason["revoked_while_signing"]["severity"] == "warning"
    assert by_reason["revoked_while_signing"]["facts"]["clients"] == ["billing"]
    assert report["findings"][0]["severity"] == "critical", "the worst comes first"
    assert result.stdout.index("CRITICAL  2 tokens signed with revoked key") < result.stdout.index(
        "WARNING"
    )


def test_report_flags_tokens_under_a_kid_that_was_never_the_signing_key(storage, audit):
    plant(
        storage,
        activated(at("2026-02-20T08:00"), KID_2025),
        issued(at("2026-03-02T09:00"), client="orders-service", kid=KID_2025, count=5, every=60),
        issued(at("2026-03-02T13:00"), client="orders-service", kid=KID_UNKNOWN, count=1),
    )

    status, report = audit.json("report", *THE_DAY)

    assert status == 1
    [finding] = findings_of(report, "unexpected_kid")
    assert finding["severity"] == "critical"
    assert finding["facts"]["reason"] == "never_signing"
    assert finding["facts"]["kid"] == KID_UNKNOWN
    assert f"(it was {KID_2025})" in finding["summary"]


def test_report_flags_a_burst_of_failed_authentications_from_one_address(storage, audit):
    """At 03:14 someone at 203.0.113.7 tried 40 secrets for orders-service in 200 seconds;
    a consumer with a typo failed three times over the day and is not a burst."""
    plant(
        storage,
        failed(at("2026-03-02T03:14"), client="orders-service", address="203.0.113.7", count=40),
        failed(at("2026-03-02T09:00"), client="billing", address="10.0.0.8", count=3, every=3000),
    )

    result = audit("report", *THE_DAY)
    status, report = audit.json("report", *THE_DAY)

    assert result.exit_code == status == 1
    bursts = findings_of(report, "failed_authentication_burst")
    assert [(b["facts"].get("client"), b["facts"].get("address")) for b in bursts] == [
        ("orders-service", None),
        (None, "203.0.113.7"),
    ]
    by_address = bursts[1]["facts"]
    assert by_address["count"] == 40
    assert by_address["peak"] == 40
    assert (by_address["peak_start"], by_address["peak_end"]) == (
        at("2026-03-02T03:14"),
        at("2026-03-02T03:14") + 39 * 5,
    )
    assert by_address["clients"] == ["orders-service"]
    assert "address 203.0.113.7: 40 failed client authentications, 40 within 5m" in (
        " ".join(result.stdout.split())
    )
    assert "10.0.0.8" not in result.stdout


def test_report_lists_every_admin_action_with_who_and_why(storage, audit):
    plant(
        storage,
        admin(
            at("2026-03-02T09:30"),
            "clients.add",
            actor="alice",
            reason="onboarding billing",
            client_id="billing",
        ),
        admin(
            at("2026-03-02T10:00"), "keys.revoke", actor="bob (as root)", reason=None, kid=KID_2025
        ),
        admin(
            at("2026-03-01T10:00"),
            "clients.disable",
            actor="carol",
            reason="the day before",
            client_id="legacy",
        ),
    )

    result = audit("report", *THE_DAY)
    status, report = audit.json("report", *THE_DAY)

    assert result.exit_code == status == 0, "admin actions are listed, not alerted on"
    actions = [f["facts"] for f in findings_of(report, "admin_action")]
    assert [(a["actor"], a["action"], a["reason"]) for a in actions] == [
        ("alice", "clients.add", "onboarding billing"),
        ("bob (as root)", "keys.revoke", None),
    ]
    text = " ".join(result.stdout.split())
    assert (
        "2026-03-02 09:30:00 UTC alice ran clients.add (client billing); reason: onboarding billing"
        in text
    )
    assert f"bob (as root) ran keys.revoke (kid {KID_2025}); no reason given" in text


def test_report_says_when_no_key_activation_tells_which_key_was_signing(storage, audit):
    """A log from before key activations were recorded: say so rather than guess."""
    plant(storage, issued(at("2026-03-02T09:00"), client="orders-service", kid=KID_2025, count=4))

    status, report = audit.json("report", *THE_DAY)

    assert status == 0
    [unchecked] = findings_of(report, "unchecked_kid")
    assert unchecked["severity"] == "info"
    assert unchecked["facts"]["count"] == 4
    assert "before any key.activated event" in unchecked["summary"]


def test_a_prune_shows_in_the_next_report_as_an_admin_action(storage, audit):
    plant(storage, issued(at("2025-01-01T00:00"), client="orders-service", kid=KID_2025))
    pruned = audit("prune", "--before", "2025-06-01", "--reason", "retention policy", "--yes")
    assert pruned.exit_code == 0, pruned.output

    status, report = audit.json("report")  # the last 24 hours

    assert status == 0
    [action] = [f["facts"] for f in findings_of(report, "admin_action")]
    assert action["action"] == "audit.pruned"
    assert getpass.getuser() in action["actor"]
    assert action["reason"] == "retention policy"
    assert action["detail"] == {"before": at("2025-06-01T00:00"), "count": 1}
    assert report["until"] - report["since"] == 24 * 3600
