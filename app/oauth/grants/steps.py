"""Small steps the user-facing grants share: parameters, storage with 503 when it cannot
answer, the person a token is for, the ID token, and revoking what a replay compromised."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TypeVar

from sqlalchemy import Connection

from app.oauth.errors import InvalidGrantError, InvalidRequestError, TemporarilyUnavailableError
from app.oauth.revocation_rules import RuleKind, rule_from_selector
from app.oauth.subjects import OPENID_SCOPE, Person, profile_claims
from app.services import IdpServices
from app.storage import Storage, StorageUnavailableError, UnitOfWork
from app.storage.revocation_rules import insert_rule
from app.tokens.id_token import build_id_token_claims, sign_id_token
from app.tokens.issuer import AccessTokenIssuer

log = logging.getLogger("tokenidp")
T = TypeVar("T")


def required(form: Mapping[str, str], name: str) -> str:
    """A parameter the grant cannot go without, or `invalid_request` (RFC 6749 §5.2)."""
    value = form.get(name)
    if not value:
        raise InvalidRequestError(f"{name} is required")
    return value


async def read_or_unavailable(storage: Storage, query: Callable[[Connection], T]) -> T:
    """`query` in a read transaction, or 503: a grant never guesses what the database holds."""
    try:
        return await storage.read(query)
    except StorageUnavailableError as error:
        log.error("grant refused: %s", error)
        raise TemporarilyUnavailableError("the grant cannot be checked now; retry") from None


async def write_or_unavailable(storage: Storage, unit: Callable[[UnitOfWork], T]) -> T:
    """`unit` committed (a replay's revocation), or 503: never answered before it commits."""
    try:
        return await storage.write(unit)
    except StorageUnavailableError as error:
        log.error("revocation not recorded: %s", error)
        raise TemporarilyUnavailableError("the request could not be recorded; retry") from None


def active_person(person: Person | None) -> Person:
    """The token's subject, still an enabled user, or `invalid_grant`."""
    if person is None or person.is_disabled:
        raise InvalidGrantError("the user of this grant is unknown or disabled")
    return person


def id_token_for(
    services: IdpServices,
    issuer: AccessTokenIssuer,
    *,
    person: Person,
    client_id: str,
    scopes: tuple[str, ...],
    access_token: str,
    issued_at: int,
    auth_time: int | None,
    nonce: str | None,
) -> str | None:
    """An ID token when `openid` was granted, signed by the key that signed `access_token`."""
    if OPENID_SCOPE not in scopes:
        return None
    claims = build_id_token_claims(
        issuer=services.settings.token.issuer,
        subject=person.subject,
        client_id=client_id,
        issued_at=issued_at,
        lifetime_seconds=issuer.lifetime_seconds,
        auth_time=auth_time,
        nonce=nonce,
        access_token=access_token,
        profile=profile_claims(person, scopes),
    )
    return sign_id_token(claims, signer=issuer.signer)


def revoke_access_token(
    work: UnitOfWork, jti: str, *, now: int, lifetime_seconds: int, created_by: str
) -> int:
    """A jti rule covering an access token issued before `now`, until it has expired."""
    rule = rule_from_selector(
        RuleKind.JTI,
        jti,
        issued_before=None,
        now=now,
        access_token_lifetime_seconds=lifetime_seconds,
    )
    return insert_rule(work, rule, created_at=now, created_by=created_by, reason=None)
