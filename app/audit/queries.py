"""Reading the audit log: SQLAlchemy Core queries over `audit_events`, returning plain values.

Every query starts from a time window (`occurred_at >= since AND occurred_at < until`), so
the `occurred_at` index, or `(client_id, occurred_at)` with a client, bounds what is read.
Run them in `storage.reading()`: a read transaction that never takes SQLite's write lock.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, or_, select

from app.audit.events import (
    ADMIN_PREFIX,
    AUDIT_PRUNED,
    CLIENT_AUTHENTICATION_FAILED,
    KEY_ACTIVATED,
    TOKEN_ISSUED,
)
from app.audit.report import (
    AdminAction,
    AuditReport,
    FailureCount,
    IssuanceCount,
    KeyActivation,
    SigningPeriod,
    Window,
    build_report,
    signing_periods,
)
from app.storage.schema import audit_events

WILDCARD = "*"  # `--event 'admin.*'`: every event whose name starts with `admin.`


@dataclass(frozen=True)
class EventFilter:
    """`tokenidp audit list`'s filters; None matches anything. `events` are exact names, or
    prefixes ending in `*`."""

    window: Window
    events: tuple[str, ...] = ()
    client_id: str | None = None
    subject: str | None = None
    kid: str | None = None


@dataclass(frozen=True)
class EventPage:
    records: tuple[AuditRecord, ...]
    more: bool  # events older than the first one shown also matched


@dataclass(frozen=True)
class AuditRecord:
    """One row of the log as read back (unlike AuditEvent, detail keys are not checked: a row
    written by a newer version still reads)."""

    id: int
    occurred_at: int
    event: str
    actor: str | None = None
    client_id: str | None = None
    subject: str | None = None
    kid: str | None = None
    jti: str | None = None
    grant_type: str | None = None
    scopes: tuple[str, ...] = ()
    address: str | None = None
    reason: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def list_events(connection: Connection, filters: EventFilter, *, limit: int | None) -> EventPage:
    """The latest `limit` matching events (all with None), oldest first, and whether more
    matched."""
    query = select(audit_events).where(*_conditions(filters))
    query = query.order_by(audit_events.c.occurred_at.desc(), audit_events.c.id.desc())
    if limit is not None:
        query = query.limit(limit + 1)
    rows = connection.execute(query).all()
    more = limit is not None and len(rows) > limit
    records = [_record(row) for row in (rows[:limit] if limit is not None else rows)]
    records.reverse()
    return EventPage(tuple(records), more)


def read_report(
    connection: Connection, *, window: Window, revoked_kids: frozenset[str]
) -> AuditReport:
    """The report for `window`, compared with the period of the same length before it."""
    both = Window(window.previous().start, window.end)
    activations = key_activations(connection, both)
    periods = signing_periods(activations, window.previous()) + signing_periods(activations, window)
    return build_report(
        window=window,
        issuance=[count for period in periods for count in issuance_counts(connection, period)],
        activations=activations,
        failures=failure_counts(connection, window),
        admin_actions=admin_actions(connection, window),
        revoked_kids=revoked_kids,
    )


def key_activations(connection: Connection, window: Window) -> list[KeyActivation]:
    """Activations within `window`, and the latest before it (the key signing at its start)."""
    is_activation = audit_events.c.event == KEY_ACTIVATED
    columns = (audit_events.c.occurred_at, audit_events.c.kid)
    order = (audit_events.c.occurred_at, audit_events.c.id)
    before = connection.execute(
        select(*columns)
        .where(audit_events.c.occurred_at < window.start, is_activation)
        .order_by(*(column.desc() for column in order))
        .limit(1)
    ).all()
    within = connection.execute(
        select(*columns).where(*_window(window), is_activation).order_by(*order)
    ).all()
    return [KeyActivation(occurred_at, kid) for occurred_at, kid in [*before, *within]]


def issuance_counts(connection: Connection, period: SigningPeriod) -> list[IssuanceCount]:
    """Tokens issued in one signing period, counted per client and kid, with first and last."""
    query = (
        select(
            audit_events.c.client_id,
            audit_events.c.kid,
            func.count(),
            func.min(audit_events.c.occurred_at),
            func.max(audit_events.c.occurred_at),
        )
        .where(*_window(Window(period.start, period.end)), audit_events.c.event == TOKEN_ISSUED)
        .group_by(audit_events.c.client_id, audit_events.c.kid)
    )
    return [
        IssuanceCount(period, client_id, kid, count, first_at, last_at)
        for client_id, kid, count, first_at, last_at in connection.execute(query)
    ]


def failure_counts(connection: Connection, window: Window) -> list[FailureCount]:
    """Failed client authentications per second, presented client id and address, in order."""
    columns = (audit_events.c.occurred_at, audit_events.c.client_id, audit_events.c.address)
    query = (
        select(*columns, func.count())
        .where(*_window(window), audit_events.c.event == CLIENT_AUTHENTICATION_FAILED)
        .group_by(*columns)
        .order_by(audit_events.c.occurred_at)
    )
    return [FailureCount(*row) for row in connection.execute(query)]


def admin_actions(connection: Connection, window: Window) -> list[AdminAction]:
    """Every admin action in `window`, in the order they happened."""
    query = (
        select(audit_events)
        .where(*_window(window), or_(_prefix(ADMIN_PREFIX), audit_events.c.event == AUDIT_PRUNED))
        .order_by(audit_events.c.occurred_at, audit_events.c.id)
    )
    return [_admin_action(_record(row)) for row in connection.execute(query)]


def _conditions(filters: EventFilter) -> Iterator[ColumnElement[bool]]:
    yield from _window(filters.window)  # first: the index on occurred_at serves it
    if filters.events:
        yield or_(*(_event_matches(name) for name in filters.events))
    for column, value in (
        (audit_events.c.client_id, filters.client_id),
        (audit_events.c.subject, filters.subject),
        (audit_events.c.kid, filters.kid),
    ):
        if value is not None:
            yield column == value


def _window(window: Window) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return (audit_events.c.occurred_at >= window.start, audit_events.c.occurred_at < window.end)


def _event_matches(name: str) -> ColumnElement[bool]:
    if name.endswith(WILDCARD):
        return _prefix(name.removesuffix(WILDCARD))
    return audit_events.c.event == name


def _prefix(prefix: str) -> ColumnElement[bool]:
    """`event` starts with `prefix`, taken literally (`_` and `%` are not wildcards)."""
    return func.substr(audit_events.c.event, 1, len(prefix)) == prefix


def _record(row: Any) -> AuditRecord:
    values = row._mapping
    return AuditRecord(
        id=values["id"],
        occurred_at=values["occurred_at"],
        event=values["event"],
        actor=values["actor"],
        client_id=values["client_id"],
        subject=values["subject"],
        kid=values["kid"],
        jti=values["jti"],
        grant_type=values["grant_type"],
        scopes=tuple(values["scopes"].split()) if values["scopes"] else (),
        address=values["address"],
        reason=values["reason"],
        detail=json.loads(values["detail"]) if values["detail"] else {},
    )


def _admin_action(record: AuditRecord) -> AdminAction:
    return AdminAction(
        occurred_at=record.occurred_at,
        action=record.event.removeprefix(ADMIN_PREFIX),
        actor=record.actor,
        reason=record.reason,
        client_id=record.client_id,
        subject=record.subject,
        kid=record.kid,
        detail=record.detail,
    )
