"""Times on the audit command line: durations before now, ISO dates and times in UTC."""

from __future__ import annotations

import pytest
from audit_support import at

from app.audit.times import TimeSpecError, format_duration, parse_time

NOW = at("2026-03-02T12:00")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", NOW - 1800),
        ("24h", NOW - 86400),
        ("7d", NOW - 7 * 86400),
        ("2w", NOW - 14 * 86400),
        ("90s", NOW - 90),
        ("2026-03-01", at("2026-03-01T00:00")),
        ("2026-03-01T12:30", at("2026-03-01T12:30")),
        ("2026-03-01 12:30:05Z", at("2026-03-01T12:30:05")),
        ("2026-03-01T14:30+02:00", at("2026-03-01T12:30")),
    ],
)
def test_a_time_is_a_duration_before_now_or_an_iso_time_in_utc(text, expected):
    assert parse_time(text, now=NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "24", "1y", "2026-13-01", ""])
def test_a_time_that_is_neither_is_refused_with_examples(text):
    with pytest.raises(
        TimeSpecError, match=r"is neither a duration \(30m, 24h, 7d\) nor an ISO date or time"
    ):
        parse_time(text, now=NOW)


@pytest.mark.parametrize(
    ("seconds", "shown"), [(86400, "24h"), (7 * 86400, "7d"), (5400, "90m"), (45, "45s")]
)
def test_a_period_is_shown_in_the_unit_an_operator_typed(seconds, shown):
    assert format_duration(seconds) == shown
