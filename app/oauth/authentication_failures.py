"""Client authentication at every client-authenticated endpoint, with its abuse limits.

Before the secret is checked, an address or client id over its limit of failures gets
429 `slow_down` (app/ops/rate_limits.py), audited once per window. A failed
authentication is counted against both, logged, counted in the metrics and audited as
`client.authentication_failed`; the 401 goes out even when the database is down.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from app.audit.events import CLIENT_AUTHENTICATION_FAILED, AuditEvent, recording
from app.clients import Client
from app.http.access import note_client_id
from app.http.messages import OAuthRequest
from app.logs import presented
from app.oauth.client_auth import authenticate_client, presented_client_id
from app.oauth.errors import InvalidClientError, SlowDownError
from app.ops import metrics
from app.services import IdpServices
from app.storage import StorageUnavailableError

log = logging.getLogger("tokenidp")


async def authenticate(
    services: IdpServices,
    request: OAuthRequest,
    form: Mapping[str, str],
    *,
    verify: Callable[[], Awaitable[Client]] | None = None,
) -> Client:
    """The authenticated client, or `slow_down` (429) or `invalid_client` (401).

    `verify` checks the credentials when an endpoint accepts more than a client secret (the
    token endpoint's public clients); by default, `authenticate_client`.
    """
    authorization = request.header(b"authorization")
    limits = services.client_limits
    refusal = limits.check(
        address=request.remote_address, name=lambda: presented_client_id(authorization, form)
    )
    if refusal is not None:
        note_client_id(refusal.name)
        event = limits.refusal_event(refusal, now=int(services.clock()))
        if event is not None:
            await _audit(services, event, "client rate limit")
        raise SlowDownError(refusal.description, retry_after_seconds=refusal.retry_after_seconds)
    try:
        if verify is None:
            client = await authenticate_client(authorization, form, clients=services.clients)
        else:
            client = await verify()
    except InvalidClientError as error:
        limits.record_failure(address=request.remote_address, name=error.presented_client_id)
        await record_failed_authentication(services, error, request)
        raise
    note_client_id(client.client_id)
    return client


async def record_failed_authentication(
    services: IdpServices, error: InvalidClientError, request: OAuthRequest
) -> None:
    metrics.client_authentication_failed(error.reason)
    note_client_id(error.presented_client_id)
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
    await _audit(services, event, "failed client authentication")


async def _audit(services: IdpServices, event: AuditEvent, what: str) -> None:
    try:
        await services.storage.write(recording(event))
    except StorageUnavailableError as unavailable:
        log.error("%s not audited: %s", what, unavailable)
