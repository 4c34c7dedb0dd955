"""The `revocation_rules` table: write a rule, find the rules that could cover a token, and
drop the rules that no longer cover anything.

Finding is one indexed query, (kind, value) for each claim a rule can match plus the
`all` rules, never a scan; which of them covers the token is the rules' own decision
(`RevocationRule.covers`).
"""

from __future__ import annotations

from sqlalchemy import Connection, and_, delete, insert, or_, select

from app.oauth.revocation_rules import RevocationRule, RuleKind, TokenFacts
from app.storage.schema import revocation_rules
from app.storage.unit_of_work import UnitOfWork

_RULE_COLUMNS = (
    revocation_rules.c.kind,
    revocation_rules.c.value,
    revocation_rules.c.issued_before,
    revocation_rules.c.expires_at,
)
REASON_LENGTH = 500
CREATED_BY_LENGTH = 200


def insert_rule(
    work: UnitOfWork,
    rule: RevocationRule,
    *,
    created_at: int,
    created_by: str | None,
    reason: str | None,
) -> int:
    """Write `rule` in the caller's transaction; returns its id."""
    result = work.execute(
        insert(revocation_rules).values(
            kind=str(rule.kind),
            value=rule.value,
            issued_before=rule.issued_before,
            created_at=created_at,
            expires_at=rule.expires_at,
            created_by=created_by[:CREATED_BY_LENGTH] if created_by else None,
            reason=reason[:REASON_LENGTH] if reason else None,
        )
    )
    return int(result.inserted_primary_key[0])


def find_rules_for_token(
    connection: Connection, token: TokenFacts, *, now: int
) -> list[RevocationRule]:
    """The rules still holding at `now` that name one of the token's claims, or all tokens."""
    kind, value = revocation_rules.c.kind, revocation_rules.c.value
    matches = [
        and_(kind == str(RuleKind.JTI), value == token.jti),
        and_(kind == str(RuleKind.CLIENT), value == token.client_id),
        and_(kind == str(RuleKind.SUBJECT), value == token.subject),
        and_(kind == str(RuleKind.KID), value == token.kid),
        kind == str(RuleKind.ALL),
    ]
    rows = connection.execute(
        select(*_RULE_COLUMNS).where(revocation_rules.c.expires_at > now, or_(*matches))
    )
    return [
        RevocationRule(RuleKind(row.kind), row.value, row.issued_before, row.expires_at)
        for row in rows
    ]


def delete_expired_rules(work: UnitOfWork, *, now: int) -> int:
    """Drop the rules every covered token has outlived; returns how many."""
    result = work.execute(delete(revocation_rules).where(revocation_rules.c.expires_at <= now))
    return result.rowcount
