"""The token endpoint (RFC 6749 §3.2): a list of small steps, then the grant's own module.

A framework-free handler behind both adapters (app/http): read the form, authenticate
the client, pick the grant, issue, answer. Every failure is an OAuth JSON error, raised
for the adapter to render.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import unquote_plus

from app.audit.events import TOKEN_ISSUED, AuditEvent, record, recording
from app.clients import Client
from app.http.messages import JSON_TYPE, NO_STORE, OAuthRequest, OAuthResponse
from app.oauth.authentication_failures import authenticate
from app.oauth.client_auth import authenticate_client, authenticate_public_client
from app.oauth.errors import (
    InvalidRequestError,
    MethodNotAllowedError,
    OAuthError,
    TemporarilyUnavailableError,
    UnauthorizedClientError,
    UnsupportedGrantTypeError,
)
from app.oauth.grant_types import PUBLIC_CLIENT_GRANTS
from app.oauth.grants import GRANTS, Grant
from app.ops import metrics
from app.services import IdpServices
from app.storage import Storage, StorageUnavailableError
from app.storage.unit_of_work import UnitOfWork
from app.tokens.issuer import GrantRecord, IssuedToken

log = logging.getLogger("tokenidp")
FORM_TYPE = "application/x-www-form-urlencoded"
TOKEN_HEADERS = (JSON_TYPE, *NO_STORE)


class TokenEndpoint:
    """POST /connect/token."""

    reads_body = True

    def __init__(self, services: IdpServices) -> None:
        self.services = services

    async def handle(self, request: OAuthRequest) -> OAuthResponse:
        if request.method != "POST":
            raise MethodNotAllowedError(request.method, allowed="POST")
        form = read_token_form(request)
        client = await authenticate(
            self.services, request, form, verify=lambda: self.authenticate(request, form)
        )
        grant_type, grant = find_grant(form, client)
        issued = await grant(client, form, self.services)  # signed: no transaction held
        event = AuditEvent(
            TOKEN_ISSUED,
            issued.issued_at,
            client_id=issued.client_id,
            subject=issued.subject,
            kid=issued.kid,
            jti=issued.jwt_id,
            grant_type=grant_type,
            scopes=issued.scopes,
            address=request.remote_address,
        )
        refusal = await commit_or_unavailable(self.services.storage, issued.record, event)
        if refusal is not None:
            raise refusal  # what the grant wrote instead (a replay's revocation) is committed
        metrics.token_issued(grant_type, issued.client_id, issued.kid)
        return token_response(issued)

    async def authenticate(self, request: OAuthRequest, form: Mapping[str, str]) -> Client:
        """A secret where the client has one; a public client by client_id alone, only on
        the grants that allow it (app/oauth/grant_types.py)."""
        authorization = request.header(b"authorization")
        if form.get("grant_type") in PUBLIC_CLIENT_GRANTS:
            public = await authenticate_public_client(
                authorization, form, clients=self.services.clients
            )
            if public is not None:
                return public
        return await authenticate_client(authorization, form, clients=self.services.clients)


async def commit_or_unavailable(
    storage: Storage, grant_record: GrantRecord | None, event: AuditEvent
) -> OAuthError | None:
    """The grant's records and its audit event, committed together, or 503: a token whose
    records are not committed is thrown away, never returned.

    A grant's record may find, in the transaction, that the token must not be issued (a
    code or refresh token spent meanwhile): it writes what that calls for and returns the
    error to answer; then no `token.issued` event is recorded.
    """

    def with_grant_records(work: UnitOfWork) -> OAuthError | None:
        refusal = grant_record(work)
        if refusal is None:
            record(work, event)
        return refusal

    # The event alone (client_credentials) is a row appended: app/storage/appends.py.
    unit = recording(event) if grant_record is None else with_grant_records
    try:
        return await storage.write(unit)
    except StorageUnavailableError as error:
        log.error("token not issued: %s", error)
        raise TemporarilyUnavailableError("the token could not be recorded; retry") from None


def read_token_form(request: OAuthRequest) -> dict[str, str]:
    """Form-encoded parameters, each at most once (RFC 6749 §3.2)."""
    content_type = (request.header(b"content-type") or "").partition(";")[0].strip().lower()
    if content_type != FORM_TYPE:
        raise InvalidRequestError(f"the body must be {FORM_TYPE}")
    try:
        pairs = form_pairs(request.body.decode())
    except UnicodeDecodeError:
        raise InvalidRequestError("the body is not UTF-8") from None
    form = dict(pairs)
    if len(form) != len(pairs):
        names = [name for name, _ in pairs]
        repeated = next(name for name in names if names.count(name) > 1)
        raise InvalidRequestError(f"parameter {repeated[:40]!r} is repeated")
    return form


def form_pairs(text: str) -> list[tuple[str, str]]:
    """`application/x-www-form-urlencoded` name/value pairs, as `parse_qsl` keeping blanks.

    Only fields with `%` or `+` are unescaped: a token request's fields seldom are.
    """
    pairs = []
    for field in text.split("&"):
        if not field:
            continue
        name, _, value = field.partition("=")
        if "%" in field or "+" in field:
            name, value = unquote_plus(name), unquote_plus(value)
        pairs.append((name, value))
    return pairs


def find_grant(form: Mapping[str, str], client: Client) -> tuple[str, Grant]:
    grant_type = form.get("grant_type")
    if not grant_type:
        raise InvalidRequestError("grant_type is required")
    grant = GRANTS.get(grant_type)
    if grant is None:
        raise UnsupportedGrantTypeError(f"{grant_type[:40]!r} is not supported")
    if grant_type not in client.allowed_grant_types:
        raise UnauthorizedClientError(f"this client may not use {grant_type}")
    return grant_type, grant


def token_response(issued: IssuedToken) -> OAuthResponse:
    """RFC 6749 §5.1, written directly as bytes: the tokens are base64url and dots, and scopes
    are scope-tokens (RFC 6749 §3.3: no quote, no backslash), so nothing needs escaping."""
    scope = b',"scope":"%s"' % " ".join(issued.scopes).encode() if issued.scopes else b""
    if issued.refresh_token is not None:
        scope += b',"refresh_token":"%s"' % issued.refresh_token.encode("ascii")
    if issued.id_token is not None:
        scope += b',"id_token":"%s"' % issued.id_token.encode("ascii")
    body = b'{"access_token":"%s","token_type":"Bearer","expires_in":%d%s}' % (
        issued.access_token.encode("ascii"),
        issued.expires_in,
        scope,
    )
    return OAuthResponse(200, (*TOKEN_HEADERS, (b"content-length", b"%d" % len(body))), body)
