"""The report's thresholds at their edges, on the pure functions; the README that states them."""

from __future__ import annotations

import pytest
from audit_support import KID_2025, KID_2026, at
from idp_support import ROOT

from app.audit.prune import MINIMUM_AGE_DAYS
from app.audit.report import (
    BURST_MIN_FAILURES,
    BURST_SECONDS,
    SPIKE_MIN_TOKENS,
    SPIKE_RATIO,
    FailureCount,
    IssuanceCount,
    KeyActivation,
    SigningPeriod,
    Window,
    build_report,
    failed_authentication_bursts,
    signing_periods,
)

DAY = Window(at("2026-03-02T00:00"), at("2026-03-03T00:00"))
BEFORE = DAY.previous()


def tokens(window: Window, client: str, count: int, kid: str = KID_2025) -> IssuanceCount:
    period = SigningPeriod(window.start, window.end, kid)
    return IssuanceCount(period, client, kid, count, window.start, window.start + count)


def report(*counts: IssuanceCount, activations=(), failures=()):
    return build_report(
        window=DAY,
        issuance=counts,
        activations=list(activations) or [KeyActivation(BEFORE.start - 1, KID_2025)],
        failures=failures,
        admin_actions=(),
        revoked_kids=frozenset(),
    )


@pytest.mark.parametrize(
    ("previous", "current", "flagged"),
    [
        (16, 48, False),  # three times as many, but fewer than 50 tokens
        (20, 59, False),  # 50 or more, but not three times as many
        (20, 60, True),
        (0, SPIKE_MIN_TOKENS - 1, False),  # a new client with little volume
        (0, SPIKE_MIN_TOKENS, True),  # a new client with volume
        (500, 20, False),  # a drop is not a spike
    ],
)
def test_a_spike_needs_three_times_the_previous_period_and_fifty_tokens(previous, current, flagged):
    counts = [tokens(DAY, "billing", current)]
    if previous:
        counts.append(tokens(BEFORE, "billing", previous))

    findings = report(*counts).findings

    by_client = [f.facts["client"] for f in findings if "client" in f.facts]
    assert (by_client == ["billing"]) is flagged


def test_a_rotation_moves_issuance_to_the_new_kid_without_a_spike():
    rotation = KeyActivation(at("2026-03-01T23:00"), KID_2026)
    counts = [
        tokens(BEFORE, "orders-service", 2000, KID_2025),
        tokens(DAY, "orders-service", 2000, KID_2026),
    ]

    result = report(*counts, activations=[KeyActivation(BEFORE.start - 1, KID_2025), rotation])

    assert not [f for f in result.findings if f.kind == "issuance_spike"]
    assert not result.flagged


@pytest.mark.parametrize(
    ("failures", "spread_seconds", "burst"),
    [
        (BURST_MIN_FAILURES - 1, 10, False),
        (BURST_MIN_FAILURES, 10, True),
        (BURST_MIN_FAILURES, BURST_SECONDS - 1, True),
        (BURST_MIN_FAILURES, BURST_SECONDS, False),  # the first has left the window
    ],
    ids=["nine-in-10s", "ten-in-10s", "ten-in-299s", "ten-in-300s"],
)
def test_a_burst_is_ten_failures_within_five_minutes(failures, spread_seconds, burst):
    start = at("2026-03-02T03:14")
    moments = [start + spread_seconds * index // (failures - 1) for index in range(failures)]
    rows = [FailureCount(moment, "orders-service", "203.0.113.7", 1) for moment in moments]

    found = failed_authentication_bursts(rows)

    assert bool(found) is burst


def test_failures_counted_in_the_same_second_add_up():
    rows = [FailureCount(at("2026-03-02T03:14"), None, "203.0.113.7", BURST_MIN_FAILURES)]

    [by_client, by_address] = failed_authentication_bursts(rows)

    assert by_client.facts["client"] is None and "(none presented)" in by_client.summary
    assert by_address.facts["peak"] == BURST_MIN_FAILURES


def test_a_restart_with_the_same_key_does_not_cut_the_signing_period():
    activations = [
        KeyActivation(at("2026-02-20T08:00"), KID_2025),
        KeyActivation(at("2026-03-02T04:00"), KID_2025),  # restart
        KeyActivation(at("2026-03-02T10:00"), KID_2026),  # rollover
        KeyActivation(at("2026-03-03T00:00"), KID_2025),  # after the window
    ]

    assert signing_periods(activations, DAY) == (
        SigningPeriod(DAY.start, at("2026-03-02T10:00"), KID_2025),
        SigningPeriod(at("2026-03-02T10:00"), DAY.end, KID_2026),
    )


def test_before_the_first_activation_the_signing_key_is_unknown():
    activations = [KeyActivation(at("2026-03-02T10:00"), KID_2026)]

    assert signing_periods(activations, DAY) == (
        SigningPeriod(DAY.start, at("2026-03-02T10:00"), None),
        SigningPeriod(at("2026-03-02T10:00"), DAY.end, KID_2026),
    )


def test_an_activation_applies_to_tokens_issued_in_the_same_second():
    """ "The signing key at that time" is the latest activation at or before the issuance."""
    switch = at("2026-03-02T10:00")
    periods = signing_periods(
        [KeyActivation(BEFORE.start, KID_2025), KeyActivation(switch, KID_2026)], DAY
    )
    new_key = periods[1]
    token = IssuanceCount(new_key, "orders-service", KID_2026, 1, switch, switch)

    result = report(
        token, activations=[KeyActivation(BEFORE.start, KID_2025), KeyActivation(switch, KID_2026)]
    )

    assert new_key.start == switch
    assert not [f for f in result.findings if f.kind == "unexpected_kid"]


def test_the_readme_states_the_thresholds_the_report_uses():
    """One source of truth: the README's table of findings says what the code does."""
    section = (ROOT / "README.md").read_text().split("## The audit log", 1)[1].split("\n## ")[0]
    text = " ".join(section.split())

    minutes = BURST_SECONDS // 60
    assert f"at least {SPIKE_RATIO}× as many tokens" in text
    assert (
        f"at least {SPIKE_MIN_TOKENS}; one that issued none before, from {SPIKE_MIN_TOKENS}" in text
    )
    assert (
        f"{BURST_MIN_FAILURES} or more failed client authentications within {minutes} min" in text
    )
    assert f"keeps the last {MINIMUM_AGE_DAYS} days unless `--force`" in text
