"""The `tokenidp` command. Exit status: 0 success, 1 failed check or operation, 2 bad usage
or configuration (one line naming the setting, no traceback)."""

from __future__ import annotations

import importlib.metadata
import sys
import tomllib
from pathlib import Path
from typing import Any

import click

from app.client_secrets import hash_client_secret
from app.config import Settings, load_config
from app.errors import ConfigError, TokenIdpError
from app.keys.records import KeyRecords, read_key_records
from app.storage import Storage, open_current_storage

_SETTINGS = "tokenidp.settings"
_STORAGE = "tokenidp.storage"


class _Group(click.Group):
    """Turns our errors into one line on stderr and the contract's exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as error:
            click.echo(f"tokenidp: {error}", err=True)
            ctx.exit(2)
        except TokenIdpError as error:
            click.echo(f"tokenidp: {error}", err=True)
            ctx.exit(1)
        except PermissionError as error:
            # A file or folder the service user may not open is a deployment setting to fix.
            where = error.filename or "a file or folder"
            click.echo(f"tokenidp: {where}: permission denied for this user", err=True)
            ctx.exit(2)


def package_version() -> str:
    """The installed distribution's version; the source tree's pyproject.toml when not installed."""
    try:
        return importlib.metadata.version("tokenidp")
    except importlib.metadata.PackageNotFoundError:
        pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
        try:
            return tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"]
        except (OSError, KeyError, tomllib.TOMLDecodeError):
            return "unknown"


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"tokenidp {package_version()}")
        ctx.exit(0)


@click.group(cls=_Group)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Print the version and exit.",
)
def cli() -> None:
    """TokenIDP: tokens signed by keys you can rotate without an outage."""


def command_settings() -> Settings:
    """The configuration, loaded once per command, its warnings printed once on stderr."""
    context = click.get_current_context()
    settings = context.meta.get(_SETTINGS)
    if settings is None:
        settings = load_config()
        for warning in settings.warnings:
            click.echo(f"tokenidp: warning: {warning}", err=True)
        context.meta[_SETTINGS] = settings
    return settings


def command_storage() -> Storage:
    """The database, once per command; a database that is behind is one line, exit 2
    (Development brings it up to date, as start-up does)."""
    context = click.get_current_context()
    storage = context.meta.get(_STORAGE)
    if storage is None:
        storage = open_current_storage(command_settings())
        context.meta[_STORAGE] = storage
        context.call_on_close(storage.engine.dispose)  # no pooled connection outlives it
    return storage


def command_key_records() -> KeyRecords:
    """The database's key records (revocations, observations, emergencies), read once."""
    with command_storage().reading() as connection:
        return read_key_records(connection)


reason_option = click.option(
    "--reason", help="Why: recorded with this change in the audit log (tokenidp audit list)."
)


@cli.command("hash-secret")
@click.argument("secret", required=False)
def hash_secret(secret: str | None) -> None:
    """Print the value to configure for a client secret (base64 of its SHA-256).

    Without SECRET it is read from a hidden prompt, or from standard input when piped,
    so it stays out of shell history.
    """
    if secret is None:
        if sys.stdin.isatty():
            secret = click.prompt("Client secret", hide_input=True, confirmation_prompt=True)
        else:
            secret = sys.stdin.readline().rstrip("\r\n")
    if not secret:
        raise click.UsageError("the secret is empty")
    click.echo(hash_client_secret(secret))


def register_commands() -> None:
    """Import the command groups, each of which adds itself to `cli`."""
    from app.cli import (  # noqa: F401
        audit,
        certs,
        clients,
        config,
        db,
        diagnose,
        keys,
        keys_emergency,
        keys_verify,
        serve,
        tokens,
        users,
    )


def main() -> None:
    register_commands()
    cli(prog_name="tokenidp")
