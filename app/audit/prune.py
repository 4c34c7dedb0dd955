"""The one way rows leave the audit log: `tokenidp audit prune --before DATE`, itself audited.

The database refuses every DELETE on `audit_events` unless the row is older than a permit
in `audit_prune_permits` (migration 0002). A prune writes the permit, deletes the older
rows, removes the permit and records `audit.pruned`, all in one transaction: a failure
leaves the log and the permit table as they were.

The last MINIMUM_AGE_DAYS are kept unless forced: PCI DSS (10.5.1) asks for the most recent
three months of audit history to stay at hand, and a key compromise found late is
investigated with the weeks before it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, insert, select

from app.audit.events import AUDIT_PRUNED, AuditEvent, record
from app.audit.times import format_time
from app.errors import TokenIdpError
from app.storage.schema import audit_events, audit_prune_permits
from app.storage.unit_of_work import UnitOfWork

MINIMUM_AGE_DAYS = 90
MINIMUM_AGE_SECONDS = MINIMUM_AGE_DAYS * 86400


class PruneRefusedError(TokenIdpError):
    """The date would remove events the log must keep (recent ones, or the future)."""


@dataclass(frozen=True)
class PruneResult:
    count: int  # events removed
    stray_permits: int  # permits found that this prune did not write (removed with its own)


def check_prune_date(before: int, *, now: int, force: bool) -> None:
    """Refuse a date in the future always, and one within MINIMUM_AGE_DAYS unless forced."""
    if before > now:
        raise PruneRefusedError(f"{format_time(before)} UTC is in the future")
    if not force and before > now - MINIMUM_AGE_SECONDS:
        raise PruneRefusedError(
            f"{format_time(before)} UTC is less than {MINIMUM_AGE_DAYS} days ago: the log keeps "
            f"at least {MINIMUM_AGE_DAYS} days (use --force to prune more)"
        )


def count_older(connection: Connection, before: int) -> int:
    """How many events a prune at `before` would remove (for the confirmation)."""
    query = select(func.count()).where(audit_events.c.occurred_at < before)
    return connection.execute(query).scalar_one()


def prune_events(
    work: UnitOfWork, *, before: int, now: int, actor: str, reason: str | None
) -> PruneResult:
    """Delete the events older than `before` through a permit, in the caller's transaction,
    and record who did it, why, and how many went."""
    work.execute(insert(audit_prune_permits).values(before=before))
    count = work.execute(delete(audit_events).where(audit_events.c.occurred_at < before)).rowcount
    permits = work.execute(delete(audit_prune_permits)).rowcount
    event = AuditEvent(
        AUDIT_PRUNED,
        now,
        actor=actor,
        reason=reason,
        detail={"before": before, "count": count},
    )
    record(work, event)
    return PruneResult(count=count, stray_permits=permits - 1)
