"""Audit events: one typed record per thing that happened, written with the change it records.

Only the fields below exist, and `detail` accepts only the keys in DETAIL_KEYS, so no
secret, token or request body can reach the table by accident. Values are cut to the
column sizes instead of failing the change they record.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.storage.appends import AppendRows
from app.storage.schema import audit_events
from app.storage.unit_of_work import UnitOfWork

TOKEN_ISSUED = "token.issued"
CLIENT_AUTHENTICATION_FAILED = "client.authentication_failed"
CLIENT_RATE_LIMITED = "client.rate_limited"  # once per window of a limit (app/ops/rate_limits)
LOGIN_RATE_LIMITED = "login.rate_limited"
TOKEN_REVOKED = "token.revoked"
# A code redeemed twice (RFC 6749 §4.1.2), a spent refresh token after its grace window
# (RFC 9700 §4.14.2): what the first use issued is revoked.
CODE_REPLAYED = "authorization_code.replayed"
REFRESH_TOKEN_REUSED = "refresh_token.reused"
KEY_ACTIVATED = "key.activated"
AUDIT_PRUNED = "audit.pruned"
USER_SIGNED_IN = "user.signed_in"
USER_SIGN_IN_FAILED = "user.sign_in_failed"
USER_SIGNED_OUT = "user.signed_out"
ADMIN_PREFIX = "admin."  # admin.clients.add, admin.tokens.revoke, …: every CLI change

# The only keys `detail` may hold: identifiers, counts and settings, never credentials.
DETAIL_KEYS = frozenset(
    {
        "before",
        "count",
        "environment",
        "grant_types",
        "issued_before",
        "kind",
        "post_logout_redirect_uris",
        "previous_kid",
        "reason_code",
        "redirect_uris",
        "rule",
        "scopes",
        "secret_overlap_seconds",
        "source",
        "token_type",
        "username",
        "value",
    }
)
LIMITS = {
    "actor": 200,
    "client_id": 200,
    "subject": 200,
    "kid": 64,
    "jti": 64,
    "grant_type": 64,
    "scopes": 2000,
    "address": 64,
    "reason": 500,
}


@dataclass(slots=True)
class AuditEvent:
    """One thing that happened; `occurred_at` in seconds since the epoch.

    Not frozen: one is made per token, and a frozen dataclass's `__init__` costs an
    `object.__setattr__` per field. Nothing changes it after it is made.
    """

    event: str
    occurred_at: int
    actor: str | None = None
    client_id: str | None = None
    subject: str | None = None
    kid: str | None = None
    jti: str | None = None
    grant_type: str | None = None
    scopes: tuple[str, ...] = ()
    address: str | None = None
    reason: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.detail and not DETAIL_KEYS.issuperset(self.detail):
            unknown = ", ".join(sorted(set(self.detail) - DETAIL_KEYS))
            raise ValueError(f"audit detail keys not allowed: {unknown}")

    def row(self) -> tuple[Any, ...]:
        """The values in the order of `audit_events`' columns (app/storage/schema.py)."""
        return (
            self.occurred_at,
            self.event,
            _cut(self.actor, "actor"),
            _cut(self.client_id, "client_id"),
            _cut(self.subject, "subject"),
            _cut(self.kid, "kid"),
            _cut(self.jti, "jti"),
            _cut(self.grant_type, "grant_type"),
            _cut(" ".join(self.scopes), "scopes") if self.scopes else None,
            _cut(self.address, "address"),
            _cut(self.reason, "reason"),
            json.dumps(dict(self.detail), sort_keys=True) if self.detail else None,
        )


def record(work: UnitOfWork, event: AuditEvent) -> None:
    """Append one event to the caller's transaction (inserted with the others at commit)."""
    work.append(audit_events, event.row())


def recording(event: AuditEvent) -> AppendRows:
    """The event as a write of its own, `await storage.write(recording(event))`: a unit that
    only appends its row, which writers commit in batches without SQLAlchemy's transaction
    machinery (app/storage/appends.py). Inside another unit, `record(work, event)`."""
    return AppendRows(audit_events, (event.row(),))


def record_all(work: UnitOfWork, events: Iterable[AuditEvent]) -> None:
    for event in events:
        record(work, event)


def operator() -> str:
    """Who runs an admin command: the operating-system user (SUDO_USER when under sudo)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid {os.getuid()}"
    sudo = os.environ.get("SUDO_USER")
    return f"{sudo} (as {user})" if sudo and sudo != user else user


def _cut(value: str | None, column: str) -> str | None:
    limit = LIMITS[column]
    if value is None or len(value) <= limit:
        return value
    return value[: limit - 1] + "…"
