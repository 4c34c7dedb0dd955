"""What the audit log says about issued tokens: how many a revocation rule covers that are
still alive. A count of `token.issued` events, not of tokens held anywhere: tokens are not
stored, and events older than a prune (`tokenidp audit prune`) are gone."""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from app.audit.events import TOKEN_ISSUED
from app.oauth.revocation_rules import RevocationRule, RuleKind
from app.storage.schema import audit_events

_MATCHED_COLUMN = {
    RuleKind.JTI: audit_events.c.jti,
    RuleKind.CLIENT: audit_events.c.client_id,
    RuleKind.SUBJECT: audit_events.c.subject,
    RuleKind.KID: audit_events.c.kid,
}


def count_alive_tokens_covered(
    connection: Connection, rule: RevocationRule, *, now: int, lifetime_seconds: int
) -> int:
    """`token.issued` events that `rule` covers, issued within the last `lifetime_seconds`
    (so not yet expired)."""
    occurred_at = audit_events.c.occurred_at  # a token.issued event occurs at the token's iat
    conditions = [audit_events.c.event == TOKEN_ISSUED, occurred_at > now - lifetime_seconds]
    if rule.issued_before is not None:
        conditions.append(occurred_at < rule.issued_before)
    if rule.kind is not RuleKind.ALL:
        conditions.append(_MATCHED_COLUMN[rule.kind] == rule.value)
    query = select(func.count()).select_from(audit_events).where(*conditions)
    return int(connection.execute(query).scalar_one())
