"""`tokenidp keys ...`: where each key stands, and the checks that say a rotation is done.

`keys status` exits 1 when something needs an operator: the signing certificate expires
within the start-up warning's window (`app.keys.expiry`), the signing key is missing at
`JwksUri`, or a live instance is on another keyring; a cron job or CI step can page on it.
"""

from __future__ import annotations

import datetime as dt
import json

import click

from app.audit.times import format_time, iso_time
from app.cli import cli, command_settings, command_storage
from app.cli.table import Column, render_table
from app.keys.instances import live_instances
from app.keys.keyring import format_duration, load_keyring
from app.keys.observe import observe_public_keys
from app.keys.records import read_key_records
from app.keys.status import KeysReport, KeyStatus, build_report

COLUMNS = (
    Column("KID"),
    Column("ROLE"),
    Column("ALG"),
    Column("NOT AFTER"),
    Column("DAYS LEFT"),
    Column("SUBJECT", shrink="end", detail=True),
    Column("SOURCE", shrink="path", detail=True),
    Column("OBSERVED", detail=True),
    Column("SIGNING", detail=True),
    Column("REMOVABLE", detail=True),
    Column("PRESENT", detail=True),
)


@cli.group()
def keys() -> None:
    """Signing and published keys."""


@keys.command("status")
@click.option("--wide", is_flag=True, help="every value in full, one line per key")
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts")
@click.option("--offline", is_flag=True, help="do not fetch TokenOptions:JwksUri")
@click.pass_context
def keys_status(ctx: click.Context, wide: bool, as_json: bool, offline: bool) -> None:
    """Each published key: role, algorithm, validity, when it was first observed at JwksUri,
    when it can sign or started signing, when a retired key is safe to remove, and whether
    it is present now at the IdP's instances and at JwksUri.

    Exit status 1 when the signing certificate expires within 30 days, the signing key is
    missing at JwksUri (or JwksUri cannot be read), or a live instance is on another keyring.
    """
    report = status_report(offline=offline)
    if as_json:
        click.echo(json.dumps(_report_json(report), indent=2))
    else:
        _print_report(report, wide=wide)
    for notice in report.notices:
        click.echo(f"note: {notice}", err=True)
    for problem in report.problems:
        click.echo(f"tokenidp: {problem}", err=True)
    if report.problems:
        ctx.exit(1)


def status_report(*, offline: bool) -> KeysReport:
    """Read everything `keys status` shows; fetching `JwksUri` records first observations."""
    settings = command_settings()
    storage = command_storage()
    now = dt.datetime.now(dt.UTC)
    with storage.reading() as connection:
        records = read_key_records(connection)
    keyring = load_keyring(settings, now=now, records=records, strict=False, private_keys=False)
    public = None
    if not offline and settings.token.jwks_uri:
        public, observed = observe_public_keys(
            storage, keyring, settings.token.jwks_uri, observed_by="keys status", attempts=1
        )
        if observed:
            with storage.reading() as connection:
                records = read_key_records(connection)
            keyring = load_keyring(
                settings, now=now, records=records, strict=False, private_keys=False
            )
    with storage.reading() as connection:
        instances = live_instances(
            connection,
            now=int(now.timestamp()),
            refresh_interval_seconds=settings.token.keyring_refresh_interval_seconds,
        )
    return build_report(settings, keyring, records, instances, public, now=now)


def _print_report(report: KeysReport, *, wide: bool) -> None:
    click.echo(f"environment: {report.environment}")
    rows = [
        (
            status.key.kid,
            status.key.role,
            status.key.algorithm,
            f"{status.key.not_after:%Y-%m-%d}",
            status.days_left,
            status.key.subject,
            status.key.source,
            _when(status.observed_at, report.now) if status.observed_at else "not yet",
            _signing(status, report.now),
            _when(status.removable_at, report.now) if status.removable_at else "",
            _present(status, report),
        )
        for status in report.keys
    ]
    click.echo(render_table(COLUMNS, rows, wide=wide))
    for status in report.keys:
        if status.key.is_development:
            click.echo(f"development key (refused outside Development): {status.key.kid}")
    for kid, how in report.revoked:
        click.echo(f"revoked (never published, never signs): {kid} ({how})")
    jwks = "not fetched (--offline)" if report.public is None else report.public.url
    click.echo(f"JwksUri: {jwks}")
    click.echo(f"live instances: {len(report.instances)}")
    for instance in report.instances:
        behind = " (another keyring)" if instance in report.stale_instances else ""
        click.echo(
            f"  {instance.name}  signing {instance.signing_kid or 'nothing'}  "
            f"heartbeat {report.now - instance.heartbeat_at} s ago{behind}"
        )


def _when(epoch: int, now: int) -> str:
    stamp = f"{format_time(epoch)} UTC"
    if epoch > now:
        return f"{stamp} (in {format_duration(epoch - now)})"
    return stamp


def _signing(status: KeyStatus, now: int) -> str:
    if status.first_signed_at is not None:
        last = f", last {_when(status.last_signed_at, now)}" if status.last_signed_at else ""
        return f"since {_when(status.first_signed_at, now)}{last}"
    if status.can_sign_from is not None:
        return f"can sign from {_when(status.can_sign_from, now)}"
    if status.key.role == "next":
        return "not until observed at JwksUri + TokenOptions:KeyActivationDelay"
    return ""


def _present(status: KeyStatus, report: KeysReport) -> str:
    idp = f"IdP {status.instances_publishing}/{len(report.instances)} instances"
    if status.at_jwks_uri is None:
        return f"{idp}; JwksUri unknown"
    return f"{idp}; JwksUri {'yes' if status.at_jwks_uri else 'no'}"


def _iso(epoch: int | None) -> str | None:
    return None if epoch is None else iso_time(epoch)


def _report_json(report: KeysReport) -> dict[str, object]:
    return {
        "environment": report.environment,
        "jwks_uri": report.jwks_uri,
        "jwks_uri_fetched": report.public is not None and report.public.error is None,
        "keys": [
            {
                "kid": status.key.kid,
                "role": str(status.key.role),
                "algorithm": status.key.algorithm,
                "subject": status.key.subject,
                "not_before": f"{status.key.not_before:%Y-%m-%dT%H:%M:%SZ}",
                "not_after": f"{status.key.not_after:%Y-%m-%dT%H:%M:%SZ}",
                "days_left": status.days_left,
                "development": status.key.is_development,
                "source": status.key.source,
                "observed_at": _iso(status.observed_at),
                "can_sign_from": _iso(status.can_sign_from),
                "first_signed_at": _iso(status.first_signed_at),
                "last_signed_at": _iso(status.last_signed_at),
                "removable_at": _iso(status.removable_at),
                "instances_publishing": status.instances_publishing,
                "at_jwks_uri": status.at_jwks_uri,
            }
            for status in report.keys
        ],
        "revoked_kids": [kid for kid, _ in report.revoked],
        "instances": [
            {
                "instance": instance.name,
                "signing_kid": instance.signing_kid,
                "published_kids": list(instance.published_kids),
                "heartbeat_at": _iso(instance.heartbeat_at),
                "current": instance not in report.stale_instances,
            }
            for instance in report.instances
        ],
        "signing_expires_soon": report.signing_expires_soon,
        "notices": list(report.notices),
        "problems": list(report.problems),
    }
