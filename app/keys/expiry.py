"""When a signing certificate is close enough to expiry that an operator must rotate it.

One rule for the IdP's start-up warning and `tokenidp keys status`'s exit status, so the
two never disagree about the same key on the same day.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.keys.keyring import KeyringKey

EXPIRY_WARNING_DAYS = 30


def days_left(key: KeyringKey, *, now: dt.datetime) -> int:
    """Whole days until the certificate's notAfter (negative once it has passed)."""
    return (key.not_after - now).days


def expires_soon(key: KeyringKey, *, now: dt.datetime) -> bool:
    """Fewer than EXPIRY_WARNING_DAYS whole days left: time to rotate (README: Rotating keys)."""
    return days_left(key, now=now) < EXPIRY_WARNING_DAYS
