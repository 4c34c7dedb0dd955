"""`tokenidp audit list`: the events of a time window, filtered, in 80 columns or JSON."""

from __future__ import annotations

import time

import pytest
from audit_support import KID_2025, KID_2026, activated, at, failed, issued, plant

from app.audit.events import AuditEvent

WINDOW = ("--since", "2026-03-02", "--until", "2026-03-03")


@pytest.fixture
def a_morning(storage):
    """Tokens for two clients under two kids, a failed authentication and a key change."""
    plant(
        storage,
        issued(at("2026-03-01T23:59"), client="orders-service", kid=KID_2025, jti="yesterday"),
        issued(at("2026-03-02T08:00"), client="orders-service", kid=KID_2025, jti="orders-early"),
        issued(at("2026-03-02T08:30"), client="billing", kid=KID_2025, jti="billing"),
        activated(at("2026-03-02T09:00"), KID_2026, previous=KID_2025),
        issued(at("2026-03-02T09:30"), client="orders-service", kid=KID_2026, jti="orders-late"),
        failed(at("2026-03-02T10:00"), client="orders-service", address="203.0.113.7"),
        issued(at("2026-03-03T00:00"), client="billing", kid=KID_2026, jti="tomorrow"),
    )


def listed(audit, *args):
    status, document = audit.json("list", *args)
    assert status == 0
    return [(event["event"], event["jti"]) for event in document["events"]]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (
            WINDOW,
            [
                ("token.issued", "orders-early-0"),
                ("token.issued", "billing-0"),
                ("key.activated", None),
                ("token.issued", "orders-late-0"),
                ("client.authentication_failed", None),
            ],
        ),
        (
            ("--since", "2026-03-02T08:15", "--until", "2026-03-02T09:30"),
            [("token.issued", "billing-0"), ("key.activated", None)],
        ),
        (
            (*WINDOW, "--event", "token.issued", "--client", "orders-service"),
            [("token.issued", "orders-early-0"), ("token.issued", "orders-late-0")],
        ),
        ((*WINDOW, "--subject", "billing"), [("token.issued", "billing-0")]),
        (
            (*WINDOW, "--kid", KID_2026),
            [("key.activated", None), ("token.issued", "orders-late-0")],
        ),
        (
            (*WINDOW, "--event", "client.*", "--event", "key.activated"),
            [("key.activated", None), ("client.authentication_failed", None)],
        ),
    ],
    ids=["window", "since-until", "event-and-client", "subject", "kid", "prefix-and-name"],
)
def test_list_filters_by_time_event_client_subject_and_kid(a_morning, audit, filters, expected):
    assert listed(audit, *filters) == expected


def test_a_kid_pasted_from_a_certificate_manager_matches(a_morning, audit):
    pasted = " ".join(KID_2026[index : index + 2] for index in range(0, 40, 2)).lower()

    assert listed(audit, *WINDOW, "--event", "token.issued", "--kid", pasted) == [
        ("token.issued", "orders-late-0")
    ]


def test_list_shows_the_latest_events_oldest_first_and_says_more_match(storage, audit):
    plant(storage, issued(at("2026-03-02T08:00"), client="orders-service", kid=KID_2025, count=5))

    result = audit("list", *WINDOW, "--limit", "2")
    status, document = audit.json("list", *WINDOW, "--limit", "2")

    assert result.exit_code == status == 0
    assert [event["jti"] for event in document["events"]] == ["jti-3", "jti-4"]
    assert document["more"] is True
    assert "showing the latest 2" in result.stderr
    assert listed(audit, *WINDOW, "--limit", "0") == [
        ("token.issued", f"jti-{i}") for i in range(5)
    ]


def test_list_defaults_to_the_last_24_hours(storage, audit):
    now = int(time.time())
    plant(
        storage,
        issued(now - 25 * 3600, client="orders-service", kid=KID_2025, jti="old"),
        issued(now - 60, client="orders-service", kid=KID_2025, jti="recent"),
        issued(now, client="orders-service", kid=KID_2025, jti="this-second"),
    )

    assert [jti for _, jti in listed(audit)] == ["recent-0", "this-second-0"]


def test_the_table_fits_80_columns_and_wide_prints_every_value_in_full(storage, audit):
    client = "a-client-whose-id-is-much-longer-than-any-column-could-hold"
    plant(
        storage,
        issued(at("2026-03-02T08:00"), client=client, kid=KID_2026, jti="0123456789abcdef"),
        failed(at("2026-03-02T08:01"), client="orders-service", address="203.0.113.7"),
    )

    narrow = audit("list", *WINDOW)
    wide = audit("list", *WINDOW, "--wide")

    assert narrow.exit_code == wide.exit_code == 0
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 80
    assert narrow.stdout.splitlines()[0].split() == ["TIME", "(UTC)", "EVENT", "CLIENT", "KID"]
    assert "2026-03-02 08:00:00  token.issued" in narrow.stdout
    assert "…" in narrow.stdout
    assert "  details  jti=0123456789abcdef-0 scopes=orders.read from=10.0.0.5" in narrow.stdout
    assert "subject=" not in narrow.stdout, "a client's own subject is not repeated"
    assert client in wide.stdout and KID_2026 in wide.stdout
    assert "jti=0123456789abcdef-0" in wide.stdout
    assert 'from=203.0.113.7 reason="client authentication failed"' in wide.stdout


def test_a_client_id_holding_terminal_escapes_is_printed_escaped(storage, audit):
    """Anyone can present a client id; the operator's terminal must not obey it."""
    hostile = "orders\x1b]0;pwned\x07\x1b[2J"
    plant(storage, failed(at("2026-03-02T08:00"), client=hostile, address="203.0.113.7"))

    table = audit("list", *WINDOW, "--wide")
    status, document = audit.json("list", *WINDOW)

    assert "\x1b" not in table.stdout and "\x07" not in table.stdout
    assert "orders\\x1b]0;pwned\\x07\\x1b[2J" in table.stdout
    assert document["events"][0]["client_id"] == hostile


def test_an_admin_action_shows_who_did_it_and_why(storage, audit):
    plant(
        storage,
        AuditEvent(
            "admin.clients.add",
            at("2026-03-02T09:30"),
            actor="alice",
            client_id="billing",
            reason="onboarding billing",
            detail={"grant_types": "client_credentials"},
        ),
    )

    result = audit("list", *WINDOW, "--event", "admin.*", "--wide")

    assert result.exit_code == 0
    assert 'by=alice reason="onboarding billing" grant_types=client_credentials' in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "yesterday"), "neither a duration (30m, 24h, 7d) nor an ISO date"),
        (("--since", "2026-03-03", "--until", "2026-03-02"), "is not before --until"),
        (("--limit", "-1"), "-1 is not in the range x>=0"),
    ],
)
def test_a_time_or_limit_it_cannot_use_is_bad_usage_exit_2(audit, args, message):
    result = audit("list", *args)

    assert result.exit_code == 2
    assert message in result.stderr


def test_an_empty_window_says_so(storage, audit):
    result = audit("list", *WINDOW)

    assert result.exit_code == 0
    assert (
        result.stdout
        == "no audit events match from 2026-03-02 00:00:00 to 2026-03-03 00:00:00 UTC\n"
    )


def test_a_subject_other_than_the_client_is_shown(storage, audit):
    plant(
        storage,
        AuditEvent(
            "token.issued",
            at("2026-03-02T08:00"),
            client_id="web",
            subject="user-42",
            kid=KID_2026,
            jti="abc",
            grant_type="authorization_code",
        ),
    )

    result = audit("list", *WINDOW, "--wide")

    assert "jti=abc subject=user-42 grant=authorization_code" in result.stdout
