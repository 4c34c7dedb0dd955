"""The refresh_token grant (RFC 6749 §6), rotating on every use (RFC 9700 §4.14.2).

Named steps: read the refresh token (live: neither spent, revoked nor expired), check it
is this client's, that the key that signed what it came with is not revoked, that the user
is still enabled and that the scope asked for narrows, never widens, what it carries; sign
the new tokens with the current key; and hand the endpoint the record: `spend`'s
conditional UPDATE, in the transaction of the audit event, lets exactly one of concurrent
uses through. The others are retries within the grace window: `invalid_grant`, nothing
revoked. A spent token presented after the grace window revokes its whole family, audited.

The successor keeps the family, the scopes (RFC 6749 §6: identical scope) and the expiry
of the first refresh token: `RefreshTokenLifetime` counts from the sign-in, and rotation
never extends it.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from sqlalchemy import Connection

from app.audit.events import REFRESH_TOKEN_REUSED, AuditEvent, record
from app.clients import Client
from app.config import SCOPE
from app.oauth.errors import InvalidGrantError, InvalidScopeError, OAuthError
from app.oauth.grants.steps import (
    active_person,
    id_token_for,
    read_or_unavailable,
    required,
    write_or_unavailable,
)
from app.oauth.refresh_tokens import (
    RefreshGrant,
    RetriedInGrace,
    Reused,
    find_live,
    find_stored,
    new_refresh_token,
    revoke_family,
    spend,
    store_refresh_token,
)
from app.oauth.subjects import Person, find_person
from app.services import IdpServices
from app.storage import UnitOfWork
from app.tokens.issuer import IssuedToken

INVALID = "the refresh token is invalid, expired or revoked"


async def refresh_token_grant(
    client: Client, form: Mapping[str, str], services: IdpServices
) -> IssuedToken:
    """New tokens for a live refresh token; whether this use is its one use is decided at
    commit."""
    token = required(form, "refresh_token")
    now = int(services.clock())
    found, stored, person = await read_or_unavailable(
        services.storage, partial(_read, token=token, now=now)
    )
    if found is None:
        if not stored:
            raise InvalidGrantError(INVALID)
        # Spent, revoked or expired: `spend` tells a retry from a replay, in a transaction.
        refusal = await write_or_unavailable(
            services.storage, partial(_spent_again, token=token, now=now)
        )
        raise refusal
    if found.client_id != client.client_id:
        raise InvalidGrantError("the refresh token was not issued to this client")
    if found.kid in services.keyring.revoked:
        raise InvalidGrantError("the refresh token was issued under a revoked key")
    person = active_person(person)
    scopes = narrowed_scopes(form.get("scope"), granted=found.scopes, client=client)
    issuer = services.issuer  # the current signing key, for every token answered
    issued = issuer.issue(client_id=client.client_id, subject=found.subject, scopes=scopes, now=now)
    id_token = id_token_for(
        services,
        issuer,
        person=person,
        client_id=client.client_id,
        scopes=scopes,
        access_token=issued.access_token,
        issued_at=now,
        auth_time=found.auth_time,
        nonce=None,  # OpenID Connect Core §12.2: no nonce on refresh
    )
    successor_token = new_refresh_token()
    successor = RefreshGrant(
        family_id=found.family_id,
        client_id=found.client_id,
        subject=found.subject,
        scopes=found.scopes,
        kid=issued.kid,
        auth_time=found.auth_time,
    )

    def record_issue(work: UnitOfWork) -> OAuthError | None:
        spent = spend(work, token, now=now)
        if not isinstance(spent, RefreshGrant):
            return refuse_spent(work, spent, now=now)
        expires_at = spent.expires_at if spent.expires_at is not None else now + 1
        store_refresh_token(
            work, successor_token, successor, now=now, lifetime_seconds=max(1, expires_at - now)
        )
        return None

    return issued._replace(record=record_issue, id_token=id_token, refresh_token=successor_token)


def _read(
    connection: Connection, *, token: str, now: int
) -> tuple[RefreshGrant | None, bool, Person | None]:
    """The live grant, whether the token is stored at all, and the person it is for."""
    found = find_live(connection, token, now=now)
    if found is None:
        return None, find_stored(connection, token) is not None, None
    return found, True, find_person(connection, found.subject)


def _spent_again(work: UnitOfWork, *, token: str, now: int) -> OAuthError:
    spent = spend(work, token, now=now)
    if isinstance(spent, RefreshGrant):  # not live when read, so never here; refuse anyway
        return InvalidGrantError(INVALID)
    return refuse_spent(work, spent, now=now)


def refuse_spent(
    work: UnitOfWork, spent: RetriedInGrace | Reused | None, *, now: int
) -> OAuthError:
    """A retry within the grace window revokes nothing; a reuse after it revokes the family
    (RFC 9700 §4.14.2) and is audited."""
    if isinstance(spent, RetriedInGrace):
        return InvalidGrantError("the refresh token has just been used; use its successor")
    if isinstance(spent, Reused):
        revoked = revoke_family(work, spent.family_id, now=now)
        record(
            work,
            AuditEvent(
                REFRESH_TOKEN_REUSED,
                now,
                client_id=spent.client_id,
                subject=spent.subject,
                grant_type="refresh_token",
                reason="a spent refresh token was used again: its family is revoked",
                detail={
                    "kind": "refresh_family",
                    "value": spent.family_id,
                    "count": revoked,
                    "token_type": "refresh_token",
                },
            ),
        )
    return InvalidGrantError(INVALID)


def narrowed_scopes(
    requested: str | None, *, granted: tuple[str, ...], client: Client
) -> tuple[str, ...]:
    """RFC 6749 §6: the scopes asked for, each granted before (narrowing is allowed,
    widening is `invalid_scope`); none asked for: all granted, less any the client has
    since lost."""
    if not requested:
        return tuple(scope for scope in granted if scope in client.allowed_scopes)
    if SCOPE.fullmatch(requested) is None:
        raise InvalidScopeError(
            "scope must be scope tokens separated by single spaces (RFC 6749 §3.3)"
        )
    wanted = tuple(dict.fromkeys(requested.split(" ")))
    refused = [
        scope for scope in wanted if scope not in granted or scope not in client.allowed_scopes
    ]
    if refused:
        raise InvalidScopeError(f"scope not granted to this refresh token: {' '.join(refused)}")
    return wanted
