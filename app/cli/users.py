"""`tokenidp users add|disable|set-password|list`: the people who sign in at the login page.

A password is read from a hidden prompt (typed twice), or from standard input with
`--password-stdin` for scripts; it is never an argument, so it stays out of shell history
and process lists. Only its argon2id hash is stored. Every change is audited.
"""

from __future__ import annotations

import json
import sys
import time

import click

from app.audit.times import iso_time
from app.cli import cli, command_storage, reason_option
from app.cli.table import Column, render_table
from app.users.accounts import (
    MAX_USERNAME_LENGTH,
    User,
    add_user,
    disable_user,
    list_users,
    set_password,
)
from app.users.passwords import MAX_PASSWORD_LENGTH

MIN_PASSWORD_LENGTH = 8  # NIST SP 800-63B §5.1.1.2

COLUMNS = (
    Column("USERNAME", shrink="end"),
    Column("STATUS"),
    Column("NAME", shrink="end"),
    Column("EMAIL", shrink="end"),
    Column("SUBJECT", detail=True),
    Column("CREATED", detail=True),
)

password_stdin_option = click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input (for scripts).",
)


@cli.group()
def users() -> None:
    """People who sign in at the login page (/connect/authorize)."""


@users.command("add")
@click.argument("username")
@click.option("--name", help="The display name (the `name` claim).")
@click.option("--email", help="The e-mail address (the `email` claim).")
@password_stdin_option
@reason_option
def add(
    username: str, name: str | None, email: str | None, password_stdin: bool, reason: str | None
) -> None:
    """Add USERNAME; the password comes from a hidden prompt or --password-stdin."""
    _check_username(username)
    if email is not None and ("@" not in email or any(char.isspace() for char in email)):
        raise click.BadParameter(f"{email!r} is not an e-mail address", param_hint="'--email'")
    password = _read_password(password_stdin)
    with command_storage().transaction() as work:
        user = add_user(
            work,
            username,
            password=password,
            name=name,
            email=email,
            reason=reason,
            now=int(time.time()),
        )
    click.echo(f"user {username!r} added (subject {user.subject})")


@users.command("disable")
@click.argument("username")
@reason_option
def disable(username: str, reason: str | None) -> None:
    """Disable USERNAME: sign-in is refused and existing sessions end."""
    with command_storage().transaction() as work:
        disabled_at = disable_user(work, username, reason=reason, now=int(time.time()))
    if disabled_at is not None:
        click.echo(f"user {username!r} was disabled already, at {iso_time(disabled_at)}: no change")
        return
    click.echo(f"user {username!r} disabled")


@users.command("set-password")
@click.argument("username")
@password_stdin_option
@reason_option
def set_password_command(username: str, password_stdin: bool, reason: str | None) -> None:
    """Set a new password for USERNAME; sessions signed in before it end."""
    password = _read_password(password_stdin)
    with command_storage().transaction() as work:
        set_password(work, username, password=password, reason=reason, now=int(time.time()))
    click.echo(f"password of {username!r} changed")


@users.command("list")
@click.option("--wide", is_flag=True, help="Every value in full, one line per user.")
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts.")
def list_command(wide: bool, as_json: bool) -> None:
    """Every user: status, name, e-mail and subject (never a password hash)."""
    with command_storage().reading() as connection:
        listed = list_users(connection)
    if as_json:
        click.echo(json.dumps({"users": [_user_json(user) for user in listed]}, indent=2))
        return
    rows = [
        (
            user.username,
            "disabled" if user.is_disabled else "active",
            user.name or "-",
            user.email or "-",
            user.subject,
            iso_time(user.created_at),
        )
        for user in listed
    ]
    click.echo(render_table(COLUMNS, rows, wide=wide))


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        raise click.UsageError(
            "no terminal to prompt for the password: pipe it with --password-stdin"
        )
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise click.UsageError(
            f"the password must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters"
        )
    return password


def _check_username(username: str) -> None:
    if not 0 < len(username) <= MAX_USERNAME_LENGTH or any(
        not char.isprintable() or char.isspace() for char in username
    ):
        raise click.BadParameter(
            f"1 to {MAX_USERNAME_LENGTH} printable characters without spaces",
            param_hint="'USERNAME'",
        )


def _user_json(user: User) -> dict[str, object]:
    return {
        "username": user.username,
        "subject": user.subject,
        "name": user.name,
        "email": user.email,
        "email_verified": user.email_verified,
        "disabled": user.is_disabled,
        "disabled_at": iso_time(user.disabled_at) if user.disabled_at is not None else None,
        "created_at": iso_time(user.created_at),
        "password_changed_at": iso_time(user.password_changed_at),
    }
