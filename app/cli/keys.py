"""`tokenidp keys ...`: what the keyring holds and in which role.

`keys status` exits 1 when the signing certificate expires within the same window as the
IdP's start-up warning (`app.keys.expiry`), so a cron job or CI step can page before it does.
"""

from __future__ import annotations

import datetime as dt
import json

import click

from app.cli import cli, command_key_records, command_settings
from app.cli.table import Column, render_table
from app.keys.expiry import EXPIRY_WARNING_DAYS, days_left, expires_soon
from app.keys.keyring import Keyring, KeyringKey, load_keyring

COLUMNS = (
    Column("KID"),
    Column("ROLE"),
    Column("ALG"),
    Column("NOT AFTER"),
    Column("DAYS LEFT"),
    Column("SUBJECT", shrink="end", detail=True),
    Column("SOURCE", shrink="path", detail=True),
)


@cli.group()
def keys() -> None:
    """Signing and published keys."""


@keys.command("status")
@click.option("--wide", is_flag=True, help="every value in full, one line per key")
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts")
@click.pass_context
def keys_status(ctx: click.Context, wide: bool, as_json: bool) -> None:
    """Each published key: kid, role, algorithm, expiry, days left, subject and source.

    Exit status 1 when the signing certificate expires within 30 days: rotate it.
    """
    settings = command_settings()
    now = dt.datetime.now(dt.UTC)
    keyring = load_keyring(settings, now=now, records=command_key_records(), strict=False)
    rotate = keyring.signing is not None and expires_soon(keyring.signing, now=now)
    if as_json:
        document = {
            "environment": settings.environment,
            "keys": [_key_json(key, now=now) for key in keyring.keys],
            "revoked_kids": sorted(keyring.revoked_kids),
            "signing_expires_soon": rotate,
            "notices": list(keyring.notices),
        }
        click.echo(json.dumps(document, indent=2))
    else:
        _print_table(keyring, settings.environment, now=now, wide=wide)
    for notice in keyring.notices:
        click.echo(f"note: {notice}", err=True)
    if rotate:
        signing = keyring.signing
        assert signing is not None
        click.echo(
            f"tokenidp: the signing certificate {signing.kid} expires in "
            f"{days_left(signing, now=now)} days (less than {EXPIRY_WARNING_DAYS}): rotate it "
            "(README: Rotating keys)",
            err=True,
        )
        ctx.exit(1)


def _print_table(keyring: Keyring, environment: str, *, now: dt.datetime, wide: bool) -> None:
    click.echo(f"environment: {environment}")
    rows = [
        (
            key.kid,
            key.role,
            key.algorithm,
            f"{key.not_after:%Y-%m-%d}",
            days_left(key, now=now),
            key.subject,
            key.source,
        )
        for key in keyring.keys
    ]
    click.echo(render_table(COLUMNS, rows, wide=wide))
    for key in keyring.keys:
        if key.is_development:
            click.echo(f"development key (refused outside Development): {key.kid}")
    for kid in sorted(keyring.revoked_kids):
        click.echo(f"revoked (never published, never signs): {kid}")


def _key_json(key: KeyringKey, *, now: dt.datetime) -> dict[str, object]:
    return {
        "kid": key.kid,
        "role": str(key.role),
        "algorithm": key.algorithm,
        "subject": key.subject,
        "not_before": f"{key.not_before:%Y-%m-%dT%H:%M:%SZ}",
        "not_after": f"{key.not_after:%Y-%m-%dT%H:%M:%SZ}",
        "days_left": days_left(key, now=now),
        "development": key.is_development,
        "source": key.source,
    }
