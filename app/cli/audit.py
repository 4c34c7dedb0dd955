"""`tokenidp audit list|report|prune`: read the audit log, review it, and prune old events.

`audit report` exits 1 when it flags something (a spike, an unexpected kid, a burst of failed
authentications), so a cron job or CI step can alert on it; admin actions are listed but do
not change the exit status on their own.
"""

from __future__ import annotations

import json
import time
from typing import Any

import click

from app.audit.events import operator
from app.audit.prune import (
    MINIMUM_AGE_DAYS,
    PruneRefusedError,
    check_prune_date,
    count_older,
    prune_events,
)
from app.audit.queries import EventFilter, list_events, read_report
from app.audit.report import Window
from app.audit.times import EXAMPLES, TimeSpecError, format_time, iso_time, parse_time
from app.cli import cli, command_settings, command_storage, reason_option
from app.cli.audit_output import event_json, events_table, report_json, report_text
from app.errors import ConfigError
from app.keys.records import read_key_records
from app.keys.store import normalize_thumbprint

REVOKED_SETTING = "TokenOptions:RevokedCertificateThumbprints"
DEFAULT_LIMIT = 200
_NOW = "tokenidp.audit.now"


class TimeParameter(click.ParamType):
    """A duration before now (`24h`) or an ISO date/time (`2026-03-01T12:00Z`, UTC if naive)."""

    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_time(str(value), now=command_now())
        except TimeSpecError as error:
            self.fail(str(error), param, ctx)


TIME = TimeParameter()
since_option = click.option(
    "--since", type=TIME, default="24h", show_default=True, help=f"from: {EXAMPLES}"
)
until_option = click.option("--until", type=TIME, help="up to, excluded (default: now)")
json_option = click.option("--json", "as_json", is_flag=True, help="JSON for scripts")


def command_now() -> int:
    """The end of the current second, once per command: an event recorded in it is included,
    and every duration on the command line counts from the same moment."""
    context = click.get_current_context()
    return context.meta.setdefault(_NOW, int(time.time()) + 1)


@cli.group()
def audit() -> None:
    """The audit log: tokens issued, failed authentications, key changes, admin actions."""


@audit.command("list")
@since_option
@until_option
@click.option(
    "--event",
    "events",
    multiple=True,
    help="an event name (token.issued), or a prefix ending in * (admin.*); repeatable",
)
@click.option("--client", "client_id", help="the client id (as presented, for failures)")
@click.option("--subject", help="the token's subject")
@click.option("--kid", help="the signing key's kid (a thumbprint, in any case or spacing)")
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=DEFAULT_LIMIT,
    show_default=True,
    help="the latest N events; 0 for all",
)
@click.option("--wide", is_flag=True, help="every value in full, one line per event")
@json_option
def list_command(
    since: int,
    until: int | None,
    events: tuple[str, ...],
    client_id: str | None,
    subject: str | None,
    kid: str | None,
    limit: int,
    wide: bool,
    as_json: bool,
) -> None:
    """Events in a time window (the last 24 hours by default), oldest first, filtered by event,
    client, subject and kid. Times are UTC."""
    window = _window(since, until)
    filters = EventFilter(window, events, client_id, subject, _kid(kid) if kid else None)
    with command_storage().reading() as connection:
        page = list_events(connection, filters, limit=limit or None)
    if as_json:
        document = {
            "since": window.start,
            "until": window.end,
            "events": [event_json(record) for record in page.records],
            "more": page.more,
        }
        click.echo(json.dumps(document, indent=2))
    elif page.records:
        click.echo(events_table(page.records, wide=wide))
    else:
        click.echo(
            f"no audit events match from {format_time(window.start)} to "
            f"{format_time(window.end)} UTC"
        )
    if page.more and not as_json:
        click.echo(
            f"showing the latest {limit}: older events in the window also match "
            "(--limit N, or --limit 0 for all)",
            err=True,
        )


@audit.command("report")
@since_option
@until_option
@json_option
@click.pass_context
def report_command(ctx: click.Context, since: int, until: int | None, as_json: bool) -> None:
    """Issuance per client and kid against the previous period of the same length, spikes,
    tokens under a kid that was not signing or is revoked, bursts of failed client
    authentication, and every admin action.

    Exit status 1 when anything is flagged (critical or warning), 0 when clean.
    """
    window = _window(since, until)
    configured = revoked_kids(command_settings().token.revoked_certificate_thumbprints)
    with command_storage().reading() as connection:
        revoked = configured | read_key_records(connection).revoked_kids
        report = read_report(connection, window=window, revoked_kids=revoked)
    if as_json:
        click.echo(json.dumps(report_json(report), indent=2))
    else:
        click.echo(report_text(report))
    if report.flagged:
        ctx.exit(1)


@audit.command("prune")
@click.option("--before", type=TIME, required=True, help=f"delete events before: {EXAMPLES}")
@reason_option
@click.option("--force", is_flag=True, help=f"allow a date within the last {MINIMUM_AGE_DAYS} days")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def prune_command(before: int, reason: str | None, force: bool, yes: bool) -> None:
    """Delete the events older than a date, in one transaction that records who pruned, why,
    and how many. The last 90 days are kept unless --force."""
    try:
        check_prune_date(before, now=command_now(), force=force)
    except PruneRefusedError as error:
        raise click.UsageError(f"--before: {error}") from None
    storage = command_storage()
    when = f"{format_time(before)} UTC"
    with storage.reading() as connection:
        older = count_older(connection, before)
    if older == 0:
        click.echo(f"no audit events before {when}: nothing pruned")
        return
    if not yes:
        click.confirm(
            f"Delete {older} audit events before {when}? This cannot be undone", abort=True
        )
    with storage.transaction() as work:
        result = prune_events(
            work, before=before, now=int(time.time()), actor=operator(), reason=reason
        )
    click.echo(f"pruned {result.count} audit events before {when} (recorded as audit.pruned)")
    if result.stray_permits:
        click.echo(
            f"tokenidp: warning: removed {result.stray_permits} prune permit(s) this command "
            "did not write: something wrote to audit_prune_permits outside tokenidp audit prune",
            err=True,
        )


def revoked_kids(thumbprints: tuple[str, ...]) -> frozenset[str]:
    """The configured revoked thumbprints as kids (upper-case hex), as the keyring reads them;
    the report adds those revoked in the database (`tokenidp keys revoke`)."""
    return frozenset(
        normalize_thumbprint(value, setting=REVOKED_SETTING)[0] for value in thumbprints
    )


def _window(since: int, until: int | None) -> Window:
    end = command_now() if until is None else until
    if end <= since:
        raise click.UsageError(f"--since {iso_time(since)} is not before --until {iso_time(end)}")
    return Window(since, end)


def _kid(value: str) -> str:
    """A kid as the log holds it: a pasted thumbprint is normalised, anything else kept."""
    try:
        return normalize_thumbprint(value, setting="--kid")[0]
    except ConfigError:
        return value.strip()
