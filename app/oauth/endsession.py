"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): GET|POST /connect/endsession.

With an `id_token_hint` this IdP issued, the session cookie is cleared and the browser is
sent to `post_logout_redirect_uri` when that is registered for the hint's client (exact
match), with `state`. The hint is checked against every key the IdP publishes now, so a
hint signed by a retired key still works and one signed by a revoked key does not; each
key verifies with its own algorithm only. Its `exp` is ignored (§2: the hint may have
expired). Without a hint, the person confirms on a page (a form with a CSRF token), so
another site cannot sign them out with a link.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from flask import Blueprint, Response, request

from app.audit.events import USER_SIGNED_OUT, AuditEvent, record
from app.http.middleware import run_inline
from app.oauth.authorize import redirect_to_client, secure
from app.services import IdpServices, idp
from app.storage import StorageUnavailableError
from app.web.pages import answer_errors_with_pages, error_page, render_page
from app.web.session import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    clear_cookie,
    csrf_matches,
    csrf_token,
    new_csrf_binding,
    open_session,
    session_keys,
    set_cookie,
)
from tokenidp_validator import (
    SigningKey,
    TokenValidationError,
    read_unverified,
    signature_verifies,
)

log = logging.getLogger("tokenidp")
bp = Blueprint("endsession", __name__)

END_SESSION_PATH = "/connect/endsession"
MAX_HINT_BYTES = 8192
MAX_STATE_LENGTH = 1000
# Header parameters that would let a token pick its own key or rules (RFC 7515 §4.1).
FORBIDDEN_HEADER_PARAMETERS = frozenset({"jwk", "jku", "x5u", "x5c", "crit"})


@dataclass(frozen=True)
class IdTokenHint:
    """What a verified hint says: who, and for which clients (`aud`)."""

    subject: str
    audiences: tuple[str, ...]
    kid: str


def verify_id_token_hint(
    token: str, *, keys: Mapping[str, SigningKey], revoked: frozenset[str], issuer: str
) -> IdTokenHint | None:
    """The hint if one of `keys` (the published JWKS, parsed: signing, next and retired
    keys) signed it with that key's own algorithm and `iss` is this IdP; else None.
    `exp` is not checked (RP-Initiated Logout §2)."""
    try:
        unverified = read_unverified(token, max_token_bytes=MAX_HINT_BYTES)
    except TokenValidationError:
        return None
    header, claims = unverified.header, unverified.claims
    if FORBIDDEN_HEADER_PARAMETERS.intersection(header):
        return None
    kid, algorithm = header.get("kid"), header.get("alg")
    if not isinstance(kid, str) or kid in revoked:
        return None
    key = keys.get(kid)
    if key is None or algorithm != key.algorithm or not signature_verifies(unverified, key):
        return None
    subject, audience = claims.get("sub"), claims.get("aud")
    audiences = (audience,) if isinstance(audience, str) else audience
    if (
        claims.get("iss") != issuer
        or not isinstance(subject, str)
        or not isinstance(audiences, list | tuple)
        or not audiences
        or not all(isinstance(value, str) for value in audiences)
    ):
        return None
    return IdTokenHint(subject, tuple(audiences), kid)


@bp.route(END_SESSION_PATH, methods=["GET", "POST"])
def end_session() -> Response:
    services = idp()
    parameters = request.form if request.method == "POST" else request.args
    hint_text = parameters.get("id_token_hint")
    redirect_uri = parameters.get("post_logout_redirect_uri")
    state = parameters.get("state")
    if state is not None and len(state) > MAX_STATE_LENGTH:
        return error_page("The request's state is too long.")
    if not hint_text:
        if redirect_uri:
            return error_page("post_logout_redirect_uri needs an id_token_hint.")
        if request.method == "POST":
            return confirmed_sign_out(services)
        return confirm_page()
    state_now = services.key_state()
    hint = verify_id_token_hint(
        hint_text,
        keys=state_now.verification_keys,
        revoked=state_now.keyring.revoked_kids,
        issuer=services.settings.token.issuer,
    )
    if hint is None:
        return error_page("The id_token_hint was not issued by this sign-in service.")
    client_id = parameters.get("client_id")
    if client_id is not None and client_id not in hint.audiences:
        return error_page("The client_id does not match the id_token_hint.")
    if redirect_uri and not registered_for(services, hint, redirect_uri):
        return error_page("The post_logout_redirect_uri is not registered for this application.")
    audit_sign_out(services, subject=hint.subject, client_id=hint.audiences[0])
    if redirect_uri:
        response = redirect_to_client(redirect_uri, {"state": state})
    else:
        response = render_page("signed_out.html")
    clear_cookie(response, SESSION_COOKIE, secure=secure())
    return response


def registered_for(services: IdpServices, hint: IdTokenHint, redirect_uri: str) -> bool:
    """String equality with a URI registered for a client the hint was issued to."""
    for client_id in hint.audiences:
        client = run_inline(services.clients.find(client_id))
        if client is not None and not client.is_disabled:
            if redirect_uri in client.post_logout_redirect_uris:
                return True
    return False


def confirm_page() -> Response:
    """Ask before signing out: a link from another site cannot sign anyone out."""
    binding = request.cookies.get(CSRF_COOKIE)
    fresh = not binding or len(binding) > 100
    if fresh:
        binding = new_csrf_binding()
    response = render_page(
        "sign_out.html",
        action=END_SESSION_PATH,
        csrf_token=csrf_token(binding, key=session_keys().key()),
    )
    if fresh:
        set_cookie(response, CSRF_COOKIE, binding, secure=secure())
    return response


def confirmed_sign_out(services: IdpServices) -> Response:
    """The confirmation form's POST: its CSRF token, then the cookie cleared."""
    keys = session_keys()
    if not csrf_matches(
        request.form.get("csrf_token"), request.cookies.get(CSRF_COOKIE), key=keys.key()
    ):
        return error_page("The sign-out form has expired or did not come from this site.")
    session = open_session(
        request.cookies.get(SESSION_COOKIE), key=keys.key(), now=int(services.clock())
    )
    if session is not None:
        audit_sign_out(services, subject=session.subject, client_id=None)
    response = render_page("signed_out.html")
    clear_cookie(response, SESSION_COOKIE, secure=secure())
    return response


def audit_sign_out(services: IdpServices, *, subject: str, client_id: str | None) -> None:
    """`user.signed_out`; a database that cannot record it does not keep anyone signed in."""
    event = AuditEvent(
        USER_SIGNED_OUT,
        int(services.clock()),
        client_id=client_id,
        subject=subject,
        address=request.remote_addr,
    )
    try:
        with services.storage.transaction() as work:
            record(work, event)
    except StorageUnavailableError as error:
        log.error("sign-out not audited: %s", error)


answer_errors_with_pages(bp, what="sign-out")
