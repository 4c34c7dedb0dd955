"""`tokenidp audit prune --before DATE`: the one deletion, through a permit, itself audited."""

from __future__ import annotations

import getpass
import time

import pytest
from audit_support import KID_2025, issued, plant
from sqlalchemy import insert, select

from app.audit.prune import prune_events
from app.storage.schema import audit_events, audit_prune_permits

DAY = 86400


@pytest.fixture
def a_year_of_log(storage):
    """Tokens 200, 100, 91 and 89 days ago and yesterday; returns `now` as planted."""
    now = int(time.time())
    for age_days in (200, 100, 91, 89, 1):
        plant(
            storage,
            issued(now - age_days * DAY, client="orders-service", kid=KID_2025, jti=f"{age_days}d"),
        )
    return now


def remaining(storage):
    with storage.reading() as connection:
        rows = connection.execute(
            select(audit_events.c.event, audit_events.c.jti).order_by(audit_events.c.id)
        ).all()
        permits = connection.execute(select(audit_prune_permits.c.id)).all()
    return [tuple(row) for row in rows], permits


def test_prune_removes_exactly_the_older_events_and_records_who_why_and_how_many(
    storage, audit, a_year_of_log
):
    result = audit("prune", "--before", "90d", "--reason", "retention: 90 days", "--yes")

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("pruned 3 audit events before ")
    events, permits = remaining(storage)
    assert events == [
        ("token.issued", "89d-0"),
        ("token.issued", "1d-0"),
        ("audit.pruned", None),
    ]
    assert permits == [], "the permit went with the transaction that used it"
    status, listing = audit.json("list", "--event", "audit.pruned")
    [pruned] = listing["events"]
    assert getpass.getuser() in pruned["actor"]
    assert pruned["reason"] == "retention: 90 days"
    assert pruned["detail"]["count"] == 3
    assert abs(pruned["detail"]["before"] - (a_year_of_log - 90 * DAY)) <= 5


def test_prune_refuses_a_date_within_90_days_unless_forced(storage, audit, a_year_of_log):
    refused = audit("prune", "--before", "30d", "--yes")

    assert refused.exit_code == 2
    assert "less than 90 days ago: the log keeps at least 90 days (use --force" in refused.stderr
    assert len(remaining(storage)[0]) == 5, "nothing was deleted or recorded"

    forced = audit("prune", "--before", "30d", "--yes", "--force")

    assert forced.exit_code == 0, forced.output
    assert [jti for _, jti in remaining(storage)[0]] == ["1d-0", None]


def test_prune_refuses_a_date_in_the_future_even_forced(storage, audit, a_year_of_log):
    result = audit("prune", "--before", "2999-01-01", "--yes", "--force")

    assert result.exit_code == 2
    assert "is in the future" in result.stderr
    assert len(remaining(storage)[0]) == 5


def test_prune_asks_first_and_an_answer_of_no_deletes_nothing(storage, audit, a_year_of_log):
    declined = audit("prune", "--before", "90d", stdin="n\n")

    assert declined.exit_code == 1
    assert "Delete 3 audit events before" in declined.stdout
    assert len(remaining(storage)[0]) == 5

    confirmed = audit("prune", "--before", "90d", stdin="y\n")

    assert confirmed.exit_code == 0
    assert len(remaining(storage)[0]) == 3


def test_a_prune_with_nothing_to_remove_changes_nothing(storage, audit, a_year_of_log):
    result = audit("prune", "--before", "365d", "--yes")

    assert result.exit_code == 0
    assert "nothing pruned" in result.stdout
    assert len(remaining(storage)[0]) == 5


def test_a_prune_that_fails_leaves_the_log_and_the_permits_as_they_were(storage, a_year_of_log):
    """One transaction: if anything after the delete fails, the rows and the permit table
    are as before (the permit never lingers to let other deletes through)."""
    with pytest.raises(RuntimeError, match="the disk filled up"), storage.transaction() as work:
        prune_events(
            work, before=a_year_of_log - 90 * DAY, now=a_year_of_log, actor="alice", reason=None
        )
        raise RuntimeError("the disk filled up")

    events, permits = remaining(storage)
    assert len(events) == 5
    assert permits == []


def test_a_permit_written_outside_prune_is_removed_and_reported(storage, audit, a_year_of_log):
    """A permit row lets deletes through; one that prune did not write is closed and named."""
    with storage.transaction() as work:
        work.execute(insert(audit_prune_permits).values(before=1))

    result = audit("prune", "--before", "90d", "--yes")

    assert result.exit_code == 0, result.output
    assert "removed 1 prune permit(s) this command did not write" in result.stderr
    assert remaining(storage)[1] == []
