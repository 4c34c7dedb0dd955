"""`tokenidp keys ...`: what the keyring holds and in which role."""

from __future__ import annotations

import datetime as dt

import click

from app.cli import cli
from app.cli.table import format_table
from app.config import load_config
from app.keys.keyring import build_keyring


@cli.group()
def keys() -> None:
    """Signing and published keys."""


@keys.command("status")
def keys_status() -> None:
    """Each published key: kid, role, algorithm, subject, expiry and days left."""
    settings = load_config()
    now = dt.datetime.now(dt.UTC)
    keyring = build_keyring(settings, now=now)
    rows = [
        (
            key.kid,
            key.role + (" (development)" if key.is_development else ""),
            key.algorithm,
            key.subject,
            key.not_after.strftime("%Y-%m-%d"),
            (key.not_after - now).days,
            key.source,
        )
        for key in keyring.keys
    ]
    click.echo(f"environment: {settings.environment}")
    click.echo(
        format_table(("KID", "ROLE", "ALG", "SUBJECT", "NOT AFTER", "DAYS LEFT", "SOURCE"), rows)
    )
    for kid in sorted(keyring.revoked_kids):
        click.echo(f"revoked (never published, never signs): {kid}")
    for notice in keyring.notices:
        click.echo(f"note: {notice}", err=True)
