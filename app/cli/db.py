"""`tokenidp db upgrade|status`: bring the database up to date, or say where it stands."""

from __future__ import annotations

import json

import click
from sqlalchemy.engine import make_url

from app.cli import cli, command_settings
from app.storage import open_storage
from app.storage.engine import database_url
from app.storage.migrate import migration_status, upgrade


@cli.group()
def db() -> None:
    """The database (TOKENIDP_DATABASE_URL, or SQLite in the instance folder)."""


@db.command("upgrade")
def upgrade_command() -> None:
    """Apply the pending migrations (each in its own transaction); safe to run again."""
    storage = open_storage(command_settings())
    before = migration_status(storage.engine)
    if before.is_current:
        click.echo(f"database: up to date at revision {before.head}")
        return
    for migration in before.pending:
        click.echo(f"applying {migration}")
    after = upgrade(storage.engine)
    click.echo(f"database: upgraded from {before.current or 'empty'} to revision {after.current}")


@db.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for scripts.")
def status_command(as_json: bool) -> None:
    """The database's revision against this version's; exit 1 when it is behind."""
    settings = command_settings()
    status = migration_status(open_storage(settings).engine)
    where = make_url(database_url(settings.database_url, settings.instance_dir)).render_as_string(
        hide_password=True
    )
    if as_json:
        click.echo(
            json.dumps(
                {
                    "database": where,
                    "current": status.current,
                    "head": status.head,
                    "pending": list(status.pending),
                    "up_to_date": status.is_current,
                }
            )
        )
    else:
        click.echo(f"database: {where}")
        click.echo(
            f"revision: {status.current or 'none (empty database)'} (this version: {status.head})"
        )
        for migration in status.pending:
            click.echo(f"pending:  {migration}")
        if not status.pending:
            click.echo("up to date")
    if not status.is_current:
        click.get_current_context().exit(1)
