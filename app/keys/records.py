"""The database's records of the key lifecycle, shared by every instance.

When a key was first observed at `JwksUri`, which keys are revoked, which key was activated
in an emergency and when each key signed are rows, not per-process guesses: two instances
sharing a database then decide alike (app/keys/activation.py) and publish the same JWKS.
Writers here run inside a caller's transaction, next to the audit event that explains them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import Any

from sqlalchemy import Connection, desc, insert, select, update

from app.audit.events import KEY_ACTIVATED, AuditEvent, record
from app.storage.schema import (
    audit_events,
    key_emergency_activations,
    key_observations,
    key_revocations,
    key_signing,
)
from app.storage.statements import insert_if_absent
from app.storage.unit_of_work import UnitOfWork

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class Observation:
    """A key first seen in the JWKS at `jwks_uri`: validators may have it since `observed_at`."""

    kid: str
    observed_at: int
    observed_by: str
    jwks_uri: str


@dataclass(frozen=True)
class KeyRevocation:
    kid: str
    revoked_at: int
    revoked_by: str
    reason: str | None


@dataclass(frozen=True)
class EmergencyActivation:
    """An explicit, audited activation that skips the wait for observation."""

    kid: str
    activated_at: int
    activated_by: str
    reason: str | None


@dataclass(frozen=True)
class SigningPeriod:
    """When a key first signed and when an instance last reported signing with it."""

    kid: str
    first_signed_at: int
    last_signed_at: int


@dataclass(frozen=True)
class KeyRecords:
    """Everything the activation rule reads from the database, read in one go."""

    observations: Mapping[str, Observation] = field(default_factory=lambda: _EMPTY)
    revocations: Mapping[str, KeyRevocation] = field(default_factory=lambda: _EMPTY)
    signing: Mapping[str, SigningPeriod] = field(default_factory=lambda: _EMPTY)
    emergency: EmergencyActivation | None = None

    @property
    def revoked_kids(self) -> frozenset[str]:
        return frozenset(self.revocations)


def read_key_records(connection: Connection) -> KeyRecords:
    """The four record kinds; the latest emergency activation is the one that holds."""
    observations = {
        row.kid: Observation(row.kid, row.first_observed_at, row.observed_by, row.jwks_uri)
        for row in connection.execute(select(key_observations))
    }
    revocations = {
        row.kid: KeyRevocation(row.kid, row.revoked_at, row.revoked_by, row.reason)
        for row in connection.execute(select(key_revocations))
    }
    signing = {
        row.kid: SigningPeriod(row.kid, row.first_signed_at, row.last_signed_at)
        for row in connection.execute(select(key_signing))
    }
    latest = connection.execute(
        select(key_emergency_activations)
        .order_by(
            desc(key_emergency_activations.c.activated_at), desc(key_emergency_activations.c.id)
        )
        .limit(1)
    ).first()
    emergency = (
        EmergencyActivation(latest.kid, latest.activated_at, latest.activated_by, latest.reason)
        if latest is not None
        else None
    )
    return KeyRecords(
        observations=MappingProxyType(observations),
        revocations=MappingProxyType(revocations),
        signing=MappingProxyType(signing),
        emergency=emergency,
    )


def record_observations(
    work: UnitOfWork, kids: Iterable[str], *, now: int, observed_by: str, jwks_uri: str
) -> list[str]:
    """First observations of `kids` at `jwks_uri`; a kid seen before keeps its first time.

    Returns the kids observed for the first time, in order.
    """
    first_seen = []
    for kid in kids:
        row = {
            "kid": kid,
            "first_observed_at": now,
            "observed_by": observed_by,
            "jwks_uri": jwks_uri,
        }
        if insert_if_absent(work.connection, key_observations, row):
            first_seen.append(kid)
    return first_seen


def record_revocation(work: UnitOfWork, kid: str, *, now: int, actor: str, reason: str) -> bool:
    """Revoke `kid` for good; False when it already was (the first revocation stands)."""
    row = {"kid": kid, "revoked_at": now, "revoked_by": actor, "reason": reason}
    return insert_if_absent(work.connection, key_revocations, row)


def record_emergency_activation(
    work: UnitOfWork, kid: str, *, now: int, actor: str, reason: str
) -> None:
    work.execute(
        insert(key_emergency_activations).values(
            kid=kid, activated_at=now, activated_by=actor, reason=reason
        )
    )


def record_signing(work: UnitOfWork, kid: str, *, now: int) -> None:
    """`kid` signs at `now`: its first signature if it never signed, else its latest."""
    row = {"kid": kid, "first_signed_at": now, "last_signed_at": now}
    if not insert_if_absent(work.connection, key_signing, row):
        work.execute(
            update(key_signing)
            .where(key_signing.c.kid == kid, key_signing.c.last_signed_at < now)
            .values(last_signed_at=now)
        )


def last_activated_kid(connection: Connection) -> str | None:
    """The kid of the latest `key.activated` event, or None before the first."""
    query = (
        select(audit_events.c.kid)
        .where(audit_events.c.event == KEY_ACTIVATED)
        .order_by(desc(audit_events.c.occurred_at), desc(audit_events.c.id))
        .limit(1)
    )
    return connection.execute(query).scalar()


def record_activation(work: UnitOfWork, *, kid: str, now: int, source: str) -> bool:
    """`key.activated` for `kid`, naming the key that signed before; nothing when the latest
    activation already names it (every instance switching records it once, mostly)."""
    previous = last_activated_kid(work.connection)
    if previous == kid and source != "start-up":
        return False
    detail = {"source": source}
    if previous is not None and previous != kid:
        detail["previous_kid"] = previous
    record(work, AuditEvent(KEY_ACTIVATED, now, kid=kid, detail=detail))
    return True


# A new deployment's database: nothing observed, revoked, activated or signed yet.
NO_RECORDS = KeyRecords()


def records_document(records: KeyRecords) -> dict[str, Any]:
    """The records as JSON-ready data, for the instance folder's last known copy."""
    return {
        "observations": [asdict(item) for item in records.observations.values()],
        "revocations": [asdict(item) for item in records.revocations.values()],
        "signing": [asdict(item) for item in records.signing.values()],
        "emergency": asdict(records.emergency) if records.emergency else None,
    }


def records_from_document(document: Mapping[str, Any]) -> KeyRecords:
    """`records_document` read back; KeyError, TypeError or ValueError when it is not one."""
    emergency = document["emergency"]
    return KeyRecords(
        observations=_by_kid(Observation(**item) for item in document["observations"]),
        revocations=_by_kid(KeyRevocation(**item) for item in document["revocations"]),
        signing=_by_kid(SigningPeriod(**item) for item in document["signing"]),
        emergency=EmergencyActivation(**emergency) if emergency else None,
    )


def _by_kid(items: Iterable[Any]) -> Mapping[str, Any]:
    return MappingProxyType({item.kid: item for item in items})
