"""`tokenidp tokens revoke`: revoke access tokens by writing a rule, never by storing tokens,
and the refresh tokens the same selector matches (they are stored, as digests).

One selector per command: `--jti J` (one access token), `--client C`, `--subject S`,
`--kid K` (tokens issued before `--issued-before T`, default now), or every client's
tokens (`--issued-before T` alone, or `--all` for "before now"; both need `--yes`). The
rule, the refresh tokens' revocation, their `token.revoked` events and an
`admin.tokens.revoke` event commit together; the rules nothing is covered by any more are
deleted in the same transaction. A refresh token matches `--kid K` when K signed the
tokens issued with it; `--jti` names an access token, so it revokes no refresh token.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import click

from app.audit.admin import admin_event
from app.audit.events import TOKEN_REVOKED, AuditEvent, operator, record
from app.audit.issued import count_alive_tokens_covered
from app.audit.times import iso_time
from app.cli import cli, command_settings, command_storage, reason_option
from app.oauth.refresh_tokens import revoke_covered
from app.oauth.revocation_rules import (
    RULE_LEEWAY_SECONDS,
    RevocationRule,
    RevocationRuleError,
    RuleKind,
    rule_from_selector,
)
from app.storage import UnitOfWork
from app.storage.revocation_rules import delete_expired_rules, insert_rule

SELECTORS = "--jti, --client, --subject, --kid, --issued-before or --all"


class EpochOrIsoTime(click.ParamType):
    """Seconds since the epoch, or an ISO 8601 time with its zone (2026-11-26T14:00:00Z)."""

    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip()
        if text.isdigit():
            return int(text)
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            self.fail(f"{text!r} is neither seconds since the epoch nor an ISO 8601 time")
        if moment.tzinfo is None:
            self.fail(f"{text!r} has no time zone: add one, e.g. Z for UTC (2026-11-26T14:00:00Z)")
        return int(moment.timestamp())


@cli.group()
def tokens() -> None:
    """Access and refresh tokens: revoke them (introspection answers active: false)."""


@tokens.command("revoke")
@click.option("--jti", metavar="J", help="the token with this jti")
@click.option("--client", "client_id", metavar="C", help="tokens issued to this client_id")
@click.option("--subject", metavar="S", help="tokens whose sub is S")
@click.option("--kid", metavar="K", help="tokens signed by the key with this kid")
@click.option(
    "--issued-before",
    type=EpochOrIsoTime(),
    metavar="T",
    help="only tokens issued before T (seconds since the epoch or ISO 8601 with a zone; "
    "default: now); alone, every client's tokens",
)
@click.option("--all", "every", is_flag=True, help="every client's tokens issued until now")
@click.option("--yes", is_flag=True, help="confirm a rule that covers every client's tokens")
@reason_option
@click.option("--json", "as_json", is_flag=True, help="one JSON object, for scripts")
def revoke(
    jti: str | None,
    client_id: str | None,
    subject: str | None,
    kid: str | None,
    issued_before: int | None,
    every: bool,
    yes: bool,
    reason: str | None,
    as_json: bool,
) -> None:
    """Revoke access tokens until they expire, and the matching refresh tokens: introspection
    answers active: false for them.

    Prints the rule, until when it holds (when every access token it covers has expired),
    how many of those are still alive according to the audit log, and how many refresh
    tokens were revoked.
    """
    kind, value = _selected(jti=jti, client_id=client_id, subject=subject, kid=kid, every=every)
    if kind is None:
        if issued_before is None:
            raise click.UsageError(f"say which tokens to revoke: {SELECTORS}")
        kind = RuleKind.ALL
    settings = command_settings()
    lifetime = settings.token.access_token_lifetime_seconds
    now = int(time.time())
    try:
        rule = rule_from_selector(
            kind,
            value,
            issued_before=issued_before,
            now=now,
            access_token_lifetime_seconds=lifetime,
        )
    except RevocationRuleError as error:
        raise click.UsageError(str(error)) from None
    if kind is RuleKind.ALL and not yes:
        raise click.UsageError(f"this revokes {rule.describe()}: add --yes to confirm")
    access_expired = rule.expires_at <= now
    with command_storage().transaction() as work:
        refresh_revoked = _revoke_refresh_tokens(work, rule, now=now, reason=reason)
        if access_expired:
            rule_id, alive, dropped = None, 0, 0
        else:
            dropped = delete_expired_rules(work, now=now)
            rule_id = insert_rule(work, rule, created_at=now, created_by=operator(), reason=reason)
            alive = count_alive_tokens_covered(
                work.connection, rule, now=now, lifetime_seconds=lifetime
            )
            record(work, _revoked_event(rule, rule_id=rule_id, alive=alive, now=now, reason=reason))
        if rule_id is not None or refresh_revoked:
            detail = {**_detail(rule, rule_id=rule_id), "count": refresh_revoked}
            record(
                work,
                admin_event("tokens.revoke", reason=reason, **rule.matched_fields(), detail=detail),
            )
    if as_json:
        document = {
            "rule": None
            if rule_id is None
            else {
                "id": rule_id,
                "kind": str(rule.kind),
                "value": rule.value,
                "issued_before": rule.issued_before,
                "expires_at": rule.expires_at,
            },
            "alive_tokens_in_audit_log": alive,
            "expired_rules_deleted": dropped,
            "refresh_tokens_revoked": refresh_revoked,
        }
        click.echo(json.dumps(document, indent=2))
        return
    refresh_line = f"refresh tokens revoked: {refresh_revoked}" + (
        " (--jti names an access token)" if rule.kind is RuleKind.JTI else ""
    )
    if rule_id is None:
        click.echo(f"nothing to revoke: {rule.describe()} have all expired")
        click.echo(refresh_line)
        return
    click.echo(f"revoked: {rule.describe()}")
    click.echo(
        f"rule {rule_id} holds until {iso_time(rule.expires_at)} "
        f"(AccessTokenLifetime + {RULE_LEEWAY_SECONDS} s leeway)"
    )
    click.echo(f"still alive: {alive} (a count of token.issued events in the audit log)")
    click.echo(refresh_line)
    if dropped:
        click.echo(f"deleted {dropped} expired rule{'s' if dropped != 1 else ''}")


def _revoke_refresh_tokens(
    work: UnitOfWork, rule: RevocationRule, *, now: int, reason: str | None
) -> int:
    """The live refresh tokens the rule covers, revoked; a `token.revoked` event says how many."""
    revoked = revoke_covered(work, rule, now=now)
    if revoked:
        record(
            work,
            AuditEvent(
                TOKEN_REVOKED,
                now,
                actor=operator(),
                reason=reason,
                **rule.matched_fields(),
                detail={
                    "kind": str(rule.kind),
                    "value": rule.value,
                    "issued_before": rule.issued_before,
                    "count": revoked,
                    "token_type": "refresh_token",
                },
            ),
        )
    return revoked


def _selected(
    *,
    jti: str | None,
    client_id: str | None,
    subject: str | None,
    kid: str | None,
    every: bool,
) -> tuple[RuleKind | None, str | None]:
    """The one selector given (`--issued-before` narrows it), or (None, None)."""
    given = [
        (kind, value)
        for kind, value in (
            (RuleKind.JTI, jti),
            (RuleKind.CLIENT, client_id),
            (RuleKind.SUBJECT, subject),
            (RuleKind.KID, kid),
        )
        if value is not None
    ]
    if every:
        given.append((RuleKind.ALL, None))
    if len(given) > 1:
        raise click.UsageError(f"one selector at a time: {SELECTORS}")
    return given[0] if given else (None, None)


def _detail(rule: RevocationRule, *, rule_id: int | None) -> dict[str, Any]:
    return {
        "rule": rule_id,
        "kind": str(rule.kind),
        "value": rule.value,
        "issued_before": rule.issued_before,
    }


def _revoked_event(
    rule: RevocationRule, *, rule_id: int, alive: int, now: int, reason: str | None
) -> AuditEvent:
    return AuditEvent(
        TOKEN_REVOKED,
        now,
        actor=operator(),
        reason=reason,
        **rule.matched_fields(),
        detail={**_detail(rule, rule_id=rule_id), "count": alive, "token_type": "access_token"},
    )
