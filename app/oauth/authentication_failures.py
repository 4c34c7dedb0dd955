"""A failed client authentication, at any client-authenticated endpoint: a log line and a
`client.authentication_failed` audit event; the 401 goes out even when the database is down."""

from __future__ import annotations

import logging
from functools import partial

from app.audit.events import CLIENT_AUTHENTICATION_FAILED, AuditEvent, record
from app.http.messages import OAuthRequest
from app.logs import presented
from app.oauth.errors import InvalidClientError
from app.ops import metrics
from app.services import IdpServices
from app.storage import StorageUnavailableError

log = logging.getLogger("tokenidp")


async def record_failed_authentication(
    services: IdpServices, error: InvalidClientError, request: OAuthRequest
) -> None:
    metrics.client_authentication_failed(error.reason)
    log.warning(
        "client authentication failed: client_id=%s address=%s: %s",
        presented(error.presented_client_id),
        request.remote_address,
        error.description,
    )
    event = AuditEvent(
        CLIENT_AUTHENTICATION_FAILED,
        int(services.clock()),
        client_id=error.presented_client_id,
        address=request.remote_address,
        reason=error.description,
    )
    try:
        await services.storage.write(partial(record, event=event))
    except StorageUnavailableError as unavailable:
        log.error("failed client authentication not audited: %s", unavailable)
