"""The authorization endpoint (RFC 6749 §4.1, OpenID Connect Core §3.1.2): GET|POST
/connect/authorize, with the login page.

Named steps: find the client and its redirect URI (an error page when either cannot be
trusted: never a redirect to an unverified address, RFC 6749 §4.1.2.1); check the
request (errors go back to the redirect URI with `error`, `error_description` and
`state`); sign in when there is no usable session, or `prompt=login`, or `max_age` has
passed; store the code (only its SHA-256, app/oauth/codes.py) and send the browser back
with `code` and `state`.

The login form posts back here with the request's parameters in hidden fields, so every
one is checked again; nothing from the first request is kept on the server.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, redirect, request
from werkzeug.datastructures import MultiDict

from app.audit.events import USER_SIGN_IN_FAILED, USER_SIGNED_IN, AuditEvent, record
from app.clients import Client
from app.config import SCOPE
from app.errors import TokenIdpError
from app.http.middleware import run_inline
from app.oauth.codes import CodeGrant, new_code, store_code
from app.oauth.subjects import OPENID_SCOPES  # every client may ask for these, besides its own
from app.ops.logins import login_refusal, record_failed_login
from app.services import IdpServices, idp
from app.storage import StorageUnavailableError
from app.users.accounts import SignIn, User, check_sign_in, find_user_by_subject, store_rehash
from app.web.pages import (
    add_security_headers,
    answer_errors_with_pages,
    error_page,
    render_page,
)
from app.web.session import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    Session,
    cookies_secure,
    csrf_matches,
    csrf_token,
    new_csrf_binding,
    new_session,
    open_session,
    seal_session,
    session_keys,
    set_cookie,
)

log = logging.getLogger("tokenidp")
bp = Blueprint("authorize", __name__)
Parameters = MultiDict[str, str]

AUTHORIZE_PATH = "/connect/authorize"
AUTHORIZATION_CODE = "authorization_code"
RESPONSE_TYPE = "code"
PKCE_METHOD = "S256"
# RFC 7636 §4.2: BASE64URL(SHA256(verifier)) is 43 characters.
S256_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
PROMPTS = frozenset({"none", "login", "consent", "select_account"})
MAX_STATE_LENGTH = 1000
MAX_NONCE_LENGTH = 500  # authorization_codes.nonce
MAX_USERNAME_LENGTH = 200
# The parameters the login form carries back in hidden fields.
CARRIED = (
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
)
SIGN_IN_FAILED = "Incorrect username or password."
# Said the same way whether or not the user exists: the limit counts names, not accounts.
TOO_MANY_FAILURES = "Too many failed sign-ins. Try again in {minutes} min."
SIGN_IN_ACTION = "sign-in"


class UntrustedRedirectError(TokenIdpError):
    """The client or redirect URI cannot be trusted: answer with a page, never redirect."""


class AuthorizationError(TokenIdpError):
    """An error for the client, sent to its redirect URI (RFC 6749 §4.1.2.1)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description


@dataclass(frozen=True)
class AuthorizationRequest:
    """A checked request: what the code will stand for, and how to treat the session."""

    client: Client
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str | None
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    prompt: frozenset[str]
    max_age: int | None

    def carried(self) -> list[tuple[str, str]]:
        """The hidden fields of the login form: the request as the client sent it."""
        values = {
            "client_id": self.client.client_id,
            "redirect_uri": self.redirect_uri,
            "response_type": RESPONSE_TYPE,
            "scope": " ".join(self.scopes),
            "state": self.state,
            "nonce": self.nonce,
            "code_challenge": self.code_challenge,
            "code_challenge_method": self.code_challenge_method,
        }
        return [(name, value) for name, value in values.items() if value is not None]


@bp.route(AUTHORIZE_PATH, methods=["GET", "POST"])
def authorize() -> Response:
    services = idp()
    parameters = request.form if request.method == "POST" else request.args
    try:
        client, redirect_uri = find_client_and_redirect_uri(parameters, services)
    except UntrustedRedirectError as error:
        return error_page(str(error))
    except StorageUnavailableError as error:
        log.error("authorization refused: %s", error)
        return error_page("The sign-in service is temporarily unavailable.", status=503)
    state = parameters.get("state")
    try:
        authorization = check_request(parameters, client, redirect_uri)
        if request.method == "POST" and parameters.get("action") == SIGN_IN_ACTION:
            return sign_in(authorization, services)
        now = int(services.clock())
        session = usable_session(services, authorization, now=now)
        if session is None:
            if "none" in authorization.prompt:
                raise AuthorizationError("login_required", "the user is not signed in")
            return login_page(authorization, username=parameters.get("login_hint", ""))
        return issue_code(authorization, session, services, now=now)
    except AuthorizationError as error:
        return error_redirect(redirect_uri, error, state)
    except StorageUnavailableError as error:
        log.error("authorization not completed: %s", error)
        unavailable = AuthorizationError("temporarily_unavailable", "retry in a moment")
        return error_redirect(redirect_uri, unavailable, state)


def find_client_and_redirect_uri(
    parameters: Parameters, services: IdpServices
) -> tuple[Client, str]:
    """The client and its redirect URI, matched by string equality with a registered one
    (RFC 6749 §3.1.2.3, RFC 9700 §4.1.3); `redirect_uri` is required (OIDC Core §3.1.2.1)."""
    client_id = single_or_page(parameters, "client_id")
    if not client_id:
        raise UntrustedRedirectError("The request names no application (client_id is missing).")
    client = run_inline(services.clients.find(client_id))
    if client is None or client.is_disabled:
        raise UntrustedRedirectError("The application is not registered here.")
    redirect_uri = single_or_page(parameters, "redirect_uri")
    if not redirect_uri:
        raise UntrustedRedirectError("The request has no redirect_uri.")
    if redirect_uri not in client.redirect_uris:
        raise UntrustedRedirectError("The redirect_uri is not registered for this application.")
    return client, redirect_uri


def check_request(
    parameters: Parameters, client: Client, redirect_uri: str
) -> AuthorizationRequest:
    """RFC 6749 §4.1.1 with PKCE (RFC 7636) and OpenID Connect's additions."""
    repeated = [name for name in parameters if len(parameters.getlist(name)) > 1]
    if repeated:
        raise AuthorizationError(
            "invalid_request", f"parameter {repeated[0][:40]!r} is repeated (RFC 6749 §3.1)"
        )
    for name, error in (
        ("request", "request_not_supported"),
        ("request_uri", "request_uri_not_supported"),
    ):
        if name in parameters:
            raise AuthorizationError(error, f"{name} is not supported")
    response_type = parameters.get("response_type")
    if not response_type:
        raise AuthorizationError("invalid_request", "response_type is required")
    if response_type != RESPONSE_TYPE:
        raise AuthorizationError(
            "unsupported_response_type", "only response_type=code is supported"
        )
    if parameters.get("response_mode", "query") != "query":
        raise AuthorizationError("invalid_request", "only response_mode=query is supported")
    if AUTHORIZATION_CODE not in client.allowed_grant_types:
        raise AuthorizationError(
            "unauthorized_client", "this client may not use the authorization code grant"
        )
    state = parameters.get("state")
    if state is not None and len(state) > MAX_STATE_LENGTH:
        raise AuthorizationError("invalid_request", f"state is longer than {MAX_STATE_LENGTH}")
    nonce = parameters.get("nonce") or None
    if nonce is not None and len(nonce) > MAX_NONCE_LENGTH:
        raise AuthorizationError("invalid_request", f"nonce is longer than {MAX_NONCE_LENGTH}")
    challenge, method = pkce(parameters, client)
    return AuthorizationRequest(
        client=client,
        redirect_uri=redirect_uri,
        scopes=requested_scopes(parameters.get("scope"), client),
        state=state,
        nonce=nonce,
        code_challenge=challenge,
        code_challenge_method=method,
        prompt=prompt_values(parameters.get("prompt")),
        max_age=max_age(parameters.get("max_age")),
    )


def requested_scopes(scope: str | None, client: Client) -> tuple[str, ...]:
    """The OpenID scopes and the client's own allowed scopes; anything else is refused."""
    if not scope:
        raise AuthorizationError("invalid_scope", "scope is required (openid, for OpenID Connect)")
    if SCOPE.fullmatch(scope) is None:
        raise AuthorizationError(
            "invalid_scope", "scope must be scope tokens separated by single spaces"
        )
    wanted = tuple(dict.fromkeys(scope.split(" ")))
    refused = [name for name in wanted if name not in OPENID_SCOPES + client.allowed_scopes]
    if refused:
        raise AuthorizationError(
            "invalid_scope", f"scope not allowed for this client: {' '.join(refused)[:200]}"
        )
    return wanted


def pkce(parameters: Parameters, client: Client) -> tuple[str | None, str | None]:
    """RFC 7636: S256 only (RFC 9700 §2.1.1: `plain` protects nothing the S256 method does
    not); required of public clients, accepted from confidential ones."""
    challenge = parameters.get("code_challenge") or None
    method = parameters.get("code_challenge_method") or None
    if challenge is None:
        if method is not None:
            raise AuthorizationError(
                "invalid_request", "code_challenge_method without code_challenge"
            )
        if client.is_public:
            raise AuthorizationError(
                "invalid_request", "PKCE is required: send code_challenge with method S256"
            )
        return None, None
    if method != PKCE_METHOD:
        # RFC 7636 §4.3: an absent method means plain, which is refused too.
        raise AuthorizationError(
            "invalid_request", "code_challenge_method must be S256 (plain is not accepted)"
        )
    if S256_CHALLENGE.fullmatch(challenge) is None:
        raise AuthorizationError(
            "invalid_request", "code_challenge must be the 43-character base64url SHA-256"
        )
    return challenge, method


def prompt_values(prompt: str | None) -> frozenset[str]:
    """OpenID Connect Core §3.1.2.1: `none` alone, or any of the others."""
    values = frozenset((prompt or "").split())
    unknown = values - PROMPTS
    if unknown:
        raise AuthorizationError("invalid_request", f"prompt {min(unknown)[:40]!r} is not known")
    if "none" in values and len(values) > 1:
        raise AuthorizationError("invalid_request", "prompt=none cannot be combined")
    return values


def max_age(value: str | None) -> int | None:
    """OpenID Connect Core §3.1.2.1: the seconds since sign-in a session may be reused."""
    if value is None or value == "":
        return None
    if not value.isdigit() or len(value) > 10:
        raise AuthorizationError("invalid_request", "max_age must be a number of seconds")
    return int(value)


def usable_session(
    services: IdpServices, authorization: AuthorizationRequest, *, now: int
) -> Session | None:
    """The browser's session, unless the request asks to sign in again, or the session
    is too old, or its user is disabled or changed their password after signing in."""
    if "login" in authorization.prompt:
        return None
    session = open_session(request.cookies.get(SESSION_COOKIE), key=session_keys().key(), now=now)
    if session is None:
        return None
    max_age = authorization.max_age
    if max_age is not None and (max_age == 0 or now - session.auth_time > max_age):
        return None  # max_age=0 is prompt=login (OpenID Connect Core §3.1.2.1)
    with services.storage.reading() as connection:
        user = find_user_by_subject(connection, session.subject)
    if user is None or user.is_disabled or user.password_changed_at > session.auth_time:
        return None
    return session


def login_page(
    authorization: AuthorizationRequest, *, username: str = "", error: str | None = None
) -> Response:
    """The form, with a CSRF token bound to this browser's CSRF cookie (set if absent)."""
    keys = session_keys()
    binding = request.cookies.get(CSRF_COOKIE)
    fresh = not binding or len(binding) > 100
    if fresh:
        binding = new_csrf_binding()
    response = render_page(
        "login.html",
        status=200 if error is None else 401,
        form_action=(origin(authorization.redirect_uri),),
        action=AUTHORIZE_PATH,
        client_id=authorization.client.client_id,
        carried=authorization.carried(),
        csrf_token=csrf_token(binding, key=keys.key()),
        username=username[:MAX_USERNAME_LENGTH],
        error=error,
    )
    if fresh:
        set_cookie(response, CSRF_COOKIE, binding, secure=secure())
    return response


def sign_in(authorization: AuthorizationRequest, services: IdpServices) -> Response:
    """Check the CSRF token, then the password; the same message for every failure."""
    form = request.form
    if not csrf_matches(
        form.get("csrf_token"), request.cookies.get(CSRF_COOKIE), key=session_keys().key()
    ):
        return error_page(
            "The sign-in form has expired or did not come from this site. "
            "Go back to the application and start again."
        )
    username = form.get("username", "")[:MAX_USERNAME_LENGTH]
    password = form.get("password", "")
    address = request.remote_addr or ""
    refusal = login_refusal(services, address=address, username=username)
    if refusal is not None:  # before the password is checked: guessing costs nothing more
        response = login_page(
            authorization,
            username=username,
            error=TOO_MANY_FAILURES.format(minutes=-(-refusal.retry_after_seconds // 60)),
        )
        response.status_code = 429
        response.headers["Retry-After"] = str(refusal.retry_after_seconds)
        return response
    with services.storage.reading() as connection:
        outcome = check_sign_in(connection, username, password)
    now = int(services.clock())
    if outcome.user is None:
        record_failed_login(
            services, address=address, username=username, reason=outcome.failure or "failed"
        )
        audit_failed_sign_in(services, authorization, username, outcome, now=now)
        return login_page(authorization, username=username, error=SIGN_IN_FAILED)
    session = new_session(outcome.user.subject, now=now)
    response = issue_code(
        authorization,
        session,
        services,
        now=now,
        signed_in=(outcome, signed_in_event(authorization, outcome.user, username, now=now)),
    )
    set_cookie(
        response, SESSION_COOKIE, seal_session(session, key=session_keys().key()), secure=secure()
    )
    return response


def signed_in_event(
    authorization: AuthorizationRequest, user: User, username: str, *, now: int
) -> AuditEvent:
    """`user.signed_in`, committed with the code it leads to."""
    return AuditEvent(
        USER_SIGNED_IN,
        now,
        client_id=authorization.client.client_id,
        subject=user.subject,
        scopes=authorization.scopes,
        address=request.remote_addr,
        detail={"username": username},
    )


def audit_failed_sign_in(
    services: IdpServices,
    authorization: AuthorizationRequest,
    username: str,
    outcome: SignIn,
    *,
    now: int,
) -> None:
    """The attempted username and why (never the password); logged when not auditable."""
    log.warning(
        "sign-in failed: client_id=%s address=%s reason=%s",
        authorization.client.client_id,
        request.remote_addr,
        outcome.failure,
    )
    event = AuditEvent(
        USER_SIGN_IN_FAILED,
        now,
        client_id=authorization.client.client_id,
        address=request.remote_addr,
        reason="incorrect username or password",
        detail={"username": username, "reason_code": outcome.failure},
    )
    try:
        with services.storage.transaction() as work:
            record(work, event)
    except StorageUnavailableError as error:
        log.error("failed sign-in not audited: %s", error)


def issue_code(
    authorization: AuthorizationRequest,
    session: Session,
    services: IdpServices,
    *,
    now: int,
    signed_in: tuple[SignIn, AuditEvent] | None = None,
) -> Response:
    """Store the code's digest (with the sign-in's audit event and rehash, if any), then
    send the browser back with the code (RFC 6749 §4.1.2)."""
    code = new_code()
    grant = CodeGrant(
        client_id=authorization.client.client_id,
        subject=session.subject,
        redirect_uri=authorization.redirect_uri,
        scopes=authorization.scopes,
        auth_time=session.auth_time,
        nonce=authorization.nonce,
        code_challenge=authorization.code_challenge,
        code_challenge_method=authorization.code_challenge_method,
    )
    with services.storage.transaction() as work:
        store_code(work, code, grant, now=now)
        if signed_in is not None:
            outcome, event = signed_in
            store_rehash(work, outcome)
            record(work, event)
    return redirect_to_client(
        authorization.redirect_uri, {"code": code, "state": authorization.state}
    )


def error_redirect(redirect_uri: str, error: AuthorizationError, state: str | None) -> Response:
    """RFC 6749 §4.1.2.1: `error`, `error_description` and the client's `state`."""
    return redirect_to_client(
        redirect_uri,
        {"error": error.error, "error_description": error.description, "state": state},
    )


def redirect_to_client(redirect_uri: str, values: Mapping[str, str | None]) -> Response:
    """The parameters added to the registered URI's own query (RFC 6749 §3.1.2); 303 after
    a POST, so the browser follows with a GET."""
    query = urlencode({name: value for name, value in values.items() if value is not None})
    if not query:
        location = redirect_uri
    elif urlsplit(redirect_uri).query:
        location = f"{redirect_uri}&{query}"
    else:
        location = f"{redirect_uri.removesuffix('?')}?{query}"
    response = redirect(location, code=303 if request.method == "POST" else 302)
    response.autocorrect_location_header = False
    return add_security_headers(response)


def origin(uri: str) -> str:
    """scheme://host[:port], as CSP source expressions name an origin."""
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


def secure() -> bool:
    """Whether this IdP's cookies carry `Secure` (not for a loopback issuer)."""
    return cookies_secure(idp().settings.token.issuer)


def single_or_page(parameters: Parameters, name: str) -> str | None:
    """A parameter that decides where errors go: repeated, it cannot be trusted."""
    if len(parameters.getlist(name)) > 1:
        raise UntrustedRedirectError(f"The request repeats {name}.")
    return parameters.get(name)


answer_errors_with_pages(bp, what="authorization")
