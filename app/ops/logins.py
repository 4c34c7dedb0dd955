"""What the login page calls for abuse resistance: the same limits as client
authentication, keyed by the user name typed and the remote address.

    refusal = login_refusal(services, address=address, username=username)
    if refusal is not None:
        answer 429 with Retry-After: refusal.retry_after_seconds (refusal.description)
    ...check the password...
    if it failed:
        record_failed_login(services, address=address, username=username, reason="wrong_password")

Synchronous: the login page is Flask, served from a thread.
"""

from __future__ import annotations

from app.audit.events import record
from app.ops import metrics
from app.ops.rate_limits import Refusal
from app.services import IdpServices
from app.storage import StorageUnavailableError


def login_refusal(services: IdpServices, *, address: str, username: str) -> Refusal | None:
    """A refusal when this address or user name is over its limit of failed logins (the
    first refusal of a window is audited as `login.rate_limited`), else None."""
    limits = services.login_limits
    refusal = limits.check(address=address, name=username)
    if refusal is None:
        return None
    event = limits.refusal_event(refusal, now=int(services.clock()))
    if event is not None:
        try:
            with services.storage.transaction() as work:
                record(work, event)
        except StorageUnavailableError:
            pass  # the refusal stands; the outage is logged where storage fails
    return refusal


def record_failed_login(services: IdpServices, *, address: str, username: str, reason: str) -> None:
    """Count one failed login against the address and the user name, and in the metrics
    (`reason`: a short code such as `unknown_user` or `wrong_password`); this calls
    `metrics.login_failed` itself."""
    services.login_limits.record_failure(address=address, name=username)
    metrics.login_failed(reason)
