"""Revocation rules: access tokens revoked without storing every token (pure, no I/O).

A rule names the tokens it covers (one `jti`; or those of a client, a subject, a signing
`kid`, or every token) issued before a time. A token is covered while its rule holds, and
a rule holds until every token it covers has expired: `issued_before` plus the longest
access-token lifetime plus RULE_LEEWAY_SECONDS. app/storage/revocation_rules.py stores
and selects them; introspection honours them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from app.audit.times import iso_time
from app.errors import TokenIdpError

# A rule outlives the last token it covers by this much: validators accept a token up to
# 30 s after its exp (tokenidp_validator's default leeway), and the machines that issue,
# revoke and introspect may disagree about the time by a few seconds.
RULE_LEEWAY_SECONDS = 60
MAX_VALUE_LENGTH = 200  # revocation_rules.value


class RevocationRuleError(TokenIdpError, ValueError):
    """A rule that cannot be written as asked (the message says why)."""


class RuleKind(StrEnum):
    """What a rule matches on; the values are stored in `revocation_rules.kind`."""

    JTI = "jti"  # one token, whenever it was issued
    CLIENT = "client"  # tokens issued to a client_id
    SUBJECT = "subject"  # tokens whose sub is this
    KID = "kid"  # tokens signed by this key
    ALL = "all"  # every token


_CLAIM_NAMES = {
    RuleKind.JTI: "jti",
    RuleKind.CLIENT: "client_id",
    RuleKind.SUBJECT: "subject",
    RuleKind.KID: "kid",
}


class TokenFacts(NamedTuple):
    """What a rule can match in a verified access token."""

    jti: str
    client_id: str
    subject: str
    kid: str
    issued_at: int


@dataclass(frozen=True)
class RevocationRule:
    """Tokens of `kind` = `value` issued (iat) before `issued_before`; held until `expires_at`.

    A jti rule has no `issued_before` (it names one token); every other kind has one, so
    no rule covers tokens not yet issued: to stop a key from signing, revoke the key.
    """

    kind: RuleKind
    value: str | None
    issued_before: int | None
    expires_at: int

    def __post_init__(self) -> None:
        if (self.kind is RuleKind.ALL) != (self.value is None):
            needs = "takes no" if self.value else "needs a"
            raise RevocationRuleError(f"a {self.kind} rule {needs} value")
        if self.value is not None and not 0 < len(self.value) <= MAX_VALUE_LENGTH:
            raise RevocationRuleError(f"a {self.kind} is 1 to {MAX_VALUE_LENGTH} characters")
        if (self.kind is RuleKind.JTI) != (self.issued_before is None):
            raise RevocationRuleError("a jti rule, and only a jti rule, has no issued_before")

    def covers(self, token: TokenFacts) -> bool:
        """Whether this rule revokes `token` (that the rule still holds is the caller's check)."""
        if self.issued_before is not None and token.issued_at >= self.issued_before:
            return False
        if self.kind is RuleKind.ALL:
            return True
        return self.value == _matched_claim(self.kind, token)

    def matched_fields(self) -> dict[str, str]:
        """The claim this rule matches, by its name (`{"kid": …}`); none for `all`. The
        names are the audit log's columns, and the refresh-token selectors but `jti`."""
        if self.value is None:
            return {}
        return {_CLAIM_NAMES[self.kind]: self.value}

    def describe(self) -> str:
        """The tokens covered, in an operator's words."""
        if self.kind is RuleKind.JTI:
            return f"the access token with jti {self.value}"
        whose = {
            RuleKind.CLIENT: f"of client {self.value}",
            RuleKind.SUBJECT: f"of subject {self.value}",
            RuleKind.KID: f"signed by key {self.value}",
            RuleKind.ALL: "of every client",
        }[self.kind]
        return f"access tokens {whose} issued before {iso_time(self.issued_before or 0)}"


def _matched_claim(kind: RuleKind, token: TokenFacts) -> str:
    return getattr(token, _CLAIM_NAMES[kind])  # TokenFacts' fields bear the claims' names


def is_revoked(token: TokenFacts, rules: Iterable[RevocationRule]) -> bool:
    """Whether any of `rules` covers `token`."""
    return any(rule.covers(token) for rule in rules)


def rule_from_selector(
    kind: RuleKind,
    value: str | None,
    *,
    issued_before: int | None,
    now: int,
    access_token_lifetime_seconds: int,
) -> RevocationRule:
    """The rule `tokens revoke` writes: held until every token it covers has expired.

    `issued_before` defaults to the second after `now`, so tokens issued during the
    current second are covered too; a later time is refused (a rule never covers tokens
    not yet issued). A jti rule takes no `issued_before`: the token was issued by now.
    """
    if kind is RuleKind.JTI:
        if issued_before is not None:
            raise RevocationRuleError("a jti names one token: issued_before does not apply")
        return RevocationRule(
            kind, value, None, now + access_token_lifetime_seconds + RULE_LEEWAY_SECONDS
        )
    if issued_before is None:
        issued_before = now + 1
    elif issued_before > now + 1:
        raise RevocationRuleError(
            f"issued before {iso_time(issued_before)} is in the future: a rule covers tokens "
            "already issued (to stop a client or key from getting new ones, disable or revoke it)"
        )
    expires_at = issued_before + access_token_lifetime_seconds + RULE_LEEWAY_SECONDS
    return RevocationRule(kind, value, issued_before, expires_at)


def jti_rule_for_token(token: TokenFacts, *, expires_at: int) -> RevocationRule:
    """The rule the revocation endpoint writes for one token: held until the token's exp."""
    return RevocationRule(RuleKind.JTI, token.jti, None, expires_at)
