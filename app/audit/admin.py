"""Admin actions from the command line, audited with who did them and why.

Every `tokenidp` command that changes state records one `admin.<action>` event in the
same transaction as its change: the operating-system user, and `--reason` when given.
"""

from __future__ import annotations

import time
from typing import Any

from app.audit.events import ADMIN_PREFIX, AuditEvent, operator


def admin_event(action: str, *, reason: str | None, **fields: Any) -> AuditEvent:
    """`admin.<action>` by the operator running the command, now; fields as in AuditEvent."""
    return AuditEvent(
        f"{ADMIN_PREFIX}{action}", int(time.time()), actor=operator(), reason=reason, **fields
    )
