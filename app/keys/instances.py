"""Which keyring each running instance uses: one heartbeat row per gunicorn worker.

Every worker writes its row when it re-evaluates its keyring, so a command can tell when
every live instance has switched (`keys status`, `keys verify-rotation`, the emergency
rollover's wait). A row whose heartbeat is older than three refresh intervals belongs to
an instance that stopped without saying so; it is not live, and is removed after a day.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass

from sqlalchemy import Connection, delete, select

from app.storage.schema import instances
from app.storage.statements import upsert
from app.storage.unit_of_work import UnitOfWork

FORGET_AFTER_SECONDS = 86400
MISSED_HEARTBEATS = 3  # an instance is live while its last heartbeat is this recent


@dataclass(frozen=True)
class Instance:
    """One worker's last report: which key it signs with and what its JWKS holds."""

    instance_id: str
    host: str
    pid: int
    started_at: int
    heartbeat_at: int
    signing_kid: str | None
    jwks_sha256: str
    published_kids: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.host}:{self.pid}"


def new_instance_id() -> str:
    """Host, process and a random part: a restarted worker with the same pid is new."""
    return f"{socket.gethostname()[:120]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def write_heartbeat(work: UnitOfWork, instance: Instance) -> None:
    upsert(
        work.connection,
        instances,
        {
            "instance_id": instance.instance_id,
            "host": instance.host,
            "pid": instance.pid,
            "started_at": instance.started_at,
            "heartbeat_at": instance.heartbeat_at,
            "signing_kid": instance.signing_kid,
            "jwks_sha256": instance.jwks_sha256,
            "published_kids": " ".join(instance.published_kids),
        },
    )
    work.execute(
        delete(instances).where(
            instances.c.heartbeat_at < instance.heartbeat_at - FORGET_AFTER_SECONDS
        )
    )


def remove_instance(work: UnitOfWork, instance_id: str) -> None:
    """A worker that stops says so, so it is not waited for."""
    work.execute(delete(instances).where(instances.c.instance_id == instance_id))


def live_instances(
    connection: Connection, *, now: int, refresh_interval_seconds: int
) -> list[Instance]:
    """Instances whose last heartbeat is recent enough to be running, by host and pid."""
    oldest = now - MISSED_HEARTBEATS * refresh_interval_seconds - 1
    rows = connection.execute(
        select(instances)
        .where(instances.c.heartbeat_at >= oldest)
        .order_by(instances.c.host, instances.c.pid, instances.c.instance_id)
    )
    return [
        Instance(
            instance_id=row.instance_id,
            host=row.host,
            pid=row.pid,
            started_at=row.started_at,
            heartbeat_at=row.heartbeat_at,
            signing_kid=row.signing_kid,
            jwks_sha256=row.jwks_sha256,
            published_kids=tuple(row.published_kids.split()),
        )
        for row in rows
    ]
