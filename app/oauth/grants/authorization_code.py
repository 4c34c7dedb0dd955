"""The authorization_code grant (RFC 6749 §4.1.3), with PKCE (RFC 7636) and an ID token.

Named steps: read the code (without redeeming it), check it was issued to this client for
this `redirect_uri` and that the PKCE verifier matches, check the user, sign the access
token, the ID token and the refresh token, and hand the endpoint the record: in the
transaction of the audit event, `redeem_code`'s conditional UPDATE decides whether this
request is the code's one redemption. A code redeemed before is a replay (RFC 6749
§4.1.2): what its redemption issued is revoked (the access token's jti, the refresh token
family), audited, and the answer is `invalid_grant`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from functools import partial

from sqlalchemy import Connection

from app.audit.events import CODE_REPLAYED, AuditEvent, record
from app.clients import Client
from app.oauth.codes import CodeGrant, Replayed, find_code, record_issued, redeem_code
from app.oauth.errors import InvalidGrantError, OAuthError
from app.oauth.grants.steps import (
    active_person,
    id_token_for,
    read_or_unavailable,
    required,
    revoke_access_token,
    write_or_unavailable,
)
from app.oauth.refresh_tokens import (
    RefreshGrant,
    new_family_id,
    new_refresh_token,
    revoke_family,
    store_refresh_token,
)
from app.oauth.subjects import OFFLINE_ACCESS_SCOPE, Person, find_person
from app.services import IdpServices
from app.storage import UnitOfWork
from app.tokens.issuer import IssuedToken
from app.tokens.signer import b64url

S256 = "S256"
# RFC 7636 §4.1: 43 to 128 unreserved characters.
CODE_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
REFRESH_TOKEN_GRANT = "refresh_token"


async def authorization_code_grant(
    client: Client, form: Mapping[str, str], services: IdpServices
) -> IssuedToken:
    """Tokens for a code's one redemption; the redemption itself is decided at commit."""
    code = required(form, "code")
    now = int(services.clock())
    found, person = await read_or_unavailable(services.storage, partial(_read, code=code, now=now))
    if isinstance(found, Replayed):
        await write_or_unavailable(
            services.storage, partial(revoke_replayed, replayed=found, now=now, services=services)
        )
        raise InvalidGrantError("the code has already been used")
    if found is None:
        raise InvalidGrantError("the code is unknown or has expired")
    check_code(found, client=client, form=form)
    person = active_person(person)
    issuer = services.issuer  # one key for the access token, the ID token and the record
    issued = issuer.issue(
        client_id=client.client_id, subject=found.subject, scopes=found.scopes, now=now
    )
    id_token = id_token_for(
        services,
        issuer,
        person=person,
        client_id=client.client_id,
        scopes=found.scopes,
        access_token=issued.access_token,
        issued_at=now,
        auth_time=found.auth_time,
        nonce=found.nonce,
    )
    refresh_token, refresh = None, None
    if OFFLINE_ACCESS_SCOPE in found.scopes and REFRESH_TOKEN_GRANT in client.allowed_grant_types:
        refresh_token = new_refresh_token()
        refresh = RefreshGrant(
            family_id=new_family_id(),
            client_id=client.client_id,
            subject=found.subject,
            scopes=found.scopes,
            kid=issued.kid,
            auth_time=found.auth_time,
        )

    def record_issue(work: UnitOfWork) -> OAuthError | None:
        redeemed = redeem_code(work, code, now=now)
        if isinstance(redeemed, CodeGrant):
            family = refresh.family_id if refresh is not None else None
            record_issued(work, code, jti=issued.jwt_id, refresh_family=family)
            if refresh is not None and refresh_token is not None:
                store_refresh_token(
                    work,
                    refresh_token,
                    refresh,
                    now=now,
                    lifetime_seconds=services.settings.token.refresh_token_lifetime_seconds,
                )
            return None
        if isinstance(redeemed, Replayed):  # redeemed meanwhile by a concurrent request
            revoke_replayed(work, replayed=redeemed, now=now, services=services)
            return InvalidGrantError("the code has already been used")
        return InvalidGrantError("the code is unknown or has expired")

    return issued._replace(record=record_issue, id_token=id_token, refresh_token=refresh_token)


def _read(connection: Connection, *, code: str, now: int) -> tuple[object, Person | None]:
    found = find_code(connection, code, now=now)
    person = find_person(connection, found.subject) if isinstance(found, CodeGrant) else None
    return found, person


def check_code(grant: CodeGrant, *, client: Client, form: Mapping[str, str]) -> None:
    """The code was issued to this client, for this redirect_uri, and PKCE holds."""
    if grant.client_id != client.client_id:
        raise InvalidGrantError("the code was not issued to this client")
    if form.get("redirect_uri") != grant.redirect_uri:
        raise InvalidGrantError("redirect_uri differs from the authorization request's")
    check_pkce(grant, form.get("code_verifier"), client=client)


def check_pkce(grant: CodeGrant, verifier: str | None, *, client: Client) -> None:
    """RFC 7636 §4.6 with S256 only; a public client must have used PKCE; a verifier for a
    code issued without a challenge is refused (RFC 9700 §2.1.1: PKCE downgrade)."""
    if grant.code_challenge is None:
        if client.is_public:
            raise InvalidGrantError("a public client must use PKCE (RFC 7636)")
        if verifier is not None:
            raise InvalidGrantError("code_verifier sent, but the code has no code_challenge")
        return
    if grant.code_challenge_method != S256:
        raise InvalidGrantError("only the S256 code_challenge_method is accepted")
    if verifier is None:
        raise InvalidGrantError("code_verifier is required")
    if CODE_VERIFIER.fullmatch(verifier) is None:
        raise InvalidGrantError("code_verifier must be 43 to 128 unreserved characters")
    expected = b64url(hashlib.sha256(verifier.encode("ascii")).digest())
    if not hmac.compare_digest(expected, grant.code_challenge.encode("ascii", "replace")):
        raise InvalidGrantError("code_verifier does not match the code_challenge")


def revoke_replayed(
    work: UnitOfWork, *, replayed: Replayed, now: int, services: IdpServices
) -> None:
    """RFC 6749 §4.1.2: a code used twice revokes what its first redemption issued."""
    rule_id = None
    if replayed.issued_jti is not None:
        rule_id = revoke_access_token(
            work,
            replayed.issued_jti,
            now=now,
            lifetime_seconds=services.settings.token.access_token_lifetime_seconds,
            created_by="authorization code replay",
        )
    revoked = 0
    if replayed.issued_refresh_family is not None:
        revoked = revoke_family(work, replayed.issued_refresh_family, now=now)
    detail: dict[str, object] = {"count": revoked, "token_type": "authorization_code"}
    if rule_id is not None:
        detail["rule"] = rule_id
    if replayed.issued_refresh_family is not None:
        detail["kind"] = "refresh_family"
        detail["value"] = replayed.issued_refresh_family
    record(
        work,
        AuditEvent(
            CODE_REPLAYED,
            now,
            client_id=replayed.client_id,
            jti=replayed.issued_jti,
            grant_type="authorization_code",
            reason="authorization code used more than once",
            detail=detail,
        ),
    )
