"""The `tokenidp` command. Exit status: 0 success, 1 failed check or operation, 2 bad usage
or configuration (one line naming the setting, no traceback)."""

from __future__ import annotations

import sys
from typing import Any

import click

from app.config import hash_client_secret
from app.errors import ConfigError, TokenIdpError


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


@click.group(cls=_Group)
def cli() -> None:
    """TokenIDP: tokens signed by keys you can rotate without an outage."""


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


def main() -> None:
    from app.cli import certs, diagnose, keys, serve  # noqa: F401 - registers the command groups

    cli(prog_name="tokenidp")
