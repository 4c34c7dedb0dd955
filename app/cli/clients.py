"""`tokenidp clients add|list|disable|rotate-secret`: clients registered in the database.

Configuration clients (`Clients`) are listed beside them, and change only in the
configuration. A secret is printed once, on standard output, with a line on stderr saying
so; only its SHA-256 digest is stored. Every change and its audit event commit together.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence

import click

from app.audit.times import iso_time
from app.cli import cli, command_settings, command_storage, reason_option
from app.cli.table import Column, render_table
from app.client_registration import (
    ClientRegistrationError,
    disable_client,
    register_client,
    rotate_client_secret,
)
from app.clients import (
    CLIENT_REFRESH_SECONDS,
    MAX_CLIENT_ID_LENGTH,
    Client,
    read_database_clients,
    redirect_uri_problem,
)
from app.config import Settings, is_scope_token
from app.oauth.grant_types import GRANT_TYPE_NAMES

DEFAULT_OVERLAP = "24h"
MAX_OVERLAP_SECONDS = 30 * 86400
NOT_SHOWN_AGAIN = "it will not be shown again: store it now (only its SHA-256 is kept)"
IN_EFFECT = f"every IdP instance sees the change within {CLIENT_REFRESH_SECONDS:g} s"

COLUMNS = (
    Column("CLIENT ID", shrink="end"),
    Column("SOURCE"),
    Column("STATUS"),
    Column("SECRETS"),
    Column("GRANT TYPES", shrink="end"),
    Column("SCOPES", shrink="end", detail=True),
    Column("REDIRECT URIS", shrink="end", detail=True),
    Column("SECRETS EXPIRE", shrink="end", detail=True),
)


class Duration(click.ParamType):
    """Seconds written as `90s`, `30m`, `24h`, `7d` or a bare number of seconds."""

    name = "duration"
    UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> int:
        if isinstance(value, int):
            return value
        match = re.fullmatch(r"(\d{1,9})([smhd]?)", str(value).strip().lower())
        if match is None:
            self.fail(f"{value!r} is not a duration such as 90s, 30m, 24h or 7d", param, ctx)
        seconds = int(match[1]) * self.UNITS[match[2]]
        if seconds > MAX_OVERLAP_SECONDS:
            self.fail(f"{value!r} is longer than 30 days", param, ctx)
        return seconds


@cli.group()
def clients() -> None:
    """Clients: from the configuration (Clients), or registered in the database."""


@clients.command("add")
@click.argument("client_id")
@click.option(
    "--grant",
    "grant_types",
    multiple=True,
    required=True,
    metavar="GRANT_TYPE",
    help=f"A grant type it may use ({', '.join(GRANT_TYPE_NAMES)}); repeat for several.",
)
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    metavar="SCOPE",
    help="A scope it may ask for; repeat for several.",
)
@click.option(
    "--redirect-uri",
    "redirect_uris",
    multiple=True,
    metavar="URI",
    help="An absolute https URI (http for loopback hosts), no fragment; repeat for several.",
)
@click.option(
    "--post-logout-redirect-uri",
    "post_logout_redirect_uris",
    multiple=True,
    metavar="URI",
    help="Where /connect/endsession may send the browser after sign-out; repeat for several.",
)
@click.option(
    "--public",
    is_flag=True,
    help="A public client: no secret, so no client_credentials (authorization code with PKCE).",
)
@reason_option
def add(
    client_id: str,
    grant_types: tuple[str, ...],
    scopes: tuple[str, ...],
    redirect_uris: tuple[str, ...],
    post_logout_redirect_uris: tuple[str, ...],
    public: bool,
    reason: str | None,
) -> None:
    """Register CLIENT_ID in the database; print its new secret once, on standard output.

    Only the secret's SHA-256 is stored. IdP instances accept the client within 5 s.
    """
    _check_client_id(client_id)
    grant_types = _unique(grant_types)
    scopes = _unique(scopes)
    redirect_uris = _unique(redirect_uris)
    post_logout_redirect_uris = _unique(post_logout_redirect_uris)
    for grant_type in grant_types:
        if grant_type not in GRANT_TYPE_NAMES:
            raise click.BadParameter(
                f"{grant_type!r} is not supported (supported: {', '.join(GRANT_TYPE_NAMES)})",
                param_hint="'--grant'",
            )
    if public and "client_credentials" in grant_types:
        raise click.UsageError(
            "a public client has no secret, so it cannot use client_credentials "
            "(RFC 6749 §4.4); leave out --public or --grant client_credentials"
        )
    for scope in scopes:
        if not is_scope_token(scope):
            raise click.BadParameter(
                f"{scope!r} is not a scope (printable ASCII without spaces, quotes or "
                "backslashes; give each scope its own --scope)",
                param_hint="'--scope'",
            )
    for uri in redirect_uris:
        problem = redirect_uri_problem(uri)
        if problem is not None:
            raise click.BadParameter(f"{uri!r} {problem}", param_hint="'--redirect-uri'")
    for uri in post_logout_redirect_uris:
        problem = redirect_uri_problem(uri)
        if problem is not None:
            raise click.BadParameter(
                f"{uri!r} {problem}", param_hint="'--post-logout-redirect-uri'"
            )
    settings = command_settings()
    _refuse_configured(settings, client_id, "a client id must be in one place")
    with command_storage().transaction() as work:
        secret = register_client(
            work,
            client_id,
            grant_types=grant_types,
            scopes=scopes,
            redirect_uris=redirect_uris,
            is_public=public,
            reason=reason,
            now=int(time.time()),
            post_logout_redirect_uris=post_logout_redirect_uris,
        )
    if secret is None:
        click.echo(f"client {client_id!r} added (public: no secret); {IN_EFFECT}", err=True)
        return
    click.echo(secret)
    click.echo(
        f"client {client_id!r} added; its secret is on standard output and {NOT_SHOWN_AGAIN}; "
        f"{IN_EFFECT}",
        err=True,
    )


@clients.command("list")
@click.option("--wide", is_flag=True, help="Every value in full, one line per client.")
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts.")
def list_clients(wide: bool, as_json: bool) -> None:
    """Every client, from the configuration and the database: source, status, the number of
    secrets that work now, grant types and scopes."""
    settings = command_settings()
    now = int(time.time())
    with command_storage().reading() as connection:
        database = read_database_clients(connection, now=now)
    listed = [Client.from_config(config) for config in settings.clients] + sorted(
        database.values(), key=lambda client: client.client_id
    )
    if as_json:
        click.echo(json.dumps({"clients": [_client_json(c, now=now) for c in listed]}, indent=2))
        return
    rows = [
        (
            client.client_id,
            client.source,
            "disabled" if client.is_disabled else "active",
            "public" if client.is_public else len(client.active_secrets(now)),
            " ".join(client.allowed_grant_types) or "-",
            " ".join(client.allowed_scopes) or "-",
            " ".join(client.redirect_uris) or "-",
            " ".join(_expiries(client, now=now)) or "-",
        )
        for client in listed
    ]
    click.echo(render_table(COLUMNS, rows, wide=wide))


@clients.command("disable")
@click.argument("client_id")
@reason_option
def disable(client_id: str, reason: str | None) -> None:
    """Disable a database client: IdP instances refuse it within 5 s."""
    _refuse_configured(command_settings(), client_id, "edit the configuration to change it")
    with command_storage().transaction() as work:
        disabled_at = disable_client(work, client_id, reason=reason, now=int(time.time()))
    if disabled_at is not None:
        click.echo(
            f"client {client_id!r} was disabled already, at {iso_time(disabled_at)}: no change"
        )
        return
    click.echo(f"client {client_id!r} disabled; {IN_EFFECT}")


@clients.command("rotate-secret")
@click.argument("client_id")
@click.option(
    "--overlap",
    type=Duration(),
    default=DEFAULT_OVERLAP,
    show_default=True,
    help="How long the older secrets keep working (90s, 30m, 24h, 7d; 0: stop them now).",
)
@reason_option
def rotate_secret(client_id: str, overlap: int, reason: str | None) -> None:
    """Print a new secret for a database client once, on standard output; the older ones
    keep working for --overlap (default 24h), so the client can switch without an outage."""
    _refuse_configured(command_settings(), client_id, "edit the configuration to change it")
    with command_storage().transaction() as work:
        rotation = rotate_client_secret(
            work, client_id, overlap_seconds=overlap, reason=reason, now=int(time.time())
        )
    click.echo(rotation.secret)
    older = (
        f"the older secrets work until {iso_time(rotation.older_valid_until)}"
        if rotation.older_secrets_shortened
        else "no older secret was valid for longer"
    )
    click.echo(
        f"new secret of {client_id!r} on standard output; {NOT_SHOWN_AGAIN}; {older}; {IN_EFFECT}",
        err=True,
    )


def _refuse_configured(settings: Settings, client_id: str, advice: str) -> None:
    """Configuration clients are changed in the configuration, which the CLI never writes."""
    for index, config in enumerate(settings.clients):
        if config.client_id == client_id:
            origin = settings.origin(f"Clients:{index}:ClientId")
            raise ClientRegistrationError(
                f"{client_id!r} is a configuration client (Clients:{index}, set in {origin}): "
                f"{advice}"
            )


def _check_client_id(client_id: str) -> None:
    if not 0 < len(client_id) <= MAX_CLIENT_ID_LENGTH or any(
        not char.isprintable() or char.isspace() for char in client_id
    ):
        raise click.BadParameter(
            f"1 to {MAX_CLIENT_ID_LENGTH} printable characters without spaces",
            param_hint="'CLIENT_ID'",
        )


def _unique(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def _expiries(client: Client, *, now: int) -> list[str]:
    """When the client's rotated-out secrets that still work stop working."""
    return sorted(
        iso_time(secret.expires_at)
        for secret in client.active_secrets(now)
        if secret.expires_at is not None
    )


def _client_json(client: Client, *, now: int) -> dict[str, object]:
    return {
        "client_id": client.client_id,
        "source": client.source,
        "grant_types": list(client.allowed_grant_types),
        "scopes": list(client.allowed_scopes),
        "redirect_uris": list(client.redirect_uris),
        "post_logout_redirect_uris": list(client.post_logout_redirect_uris),
        "public": client.is_public,
        "disabled": client.is_disabled,
        "disabled_at": iso_time(client.disabled_at) if client.disabled_at is not None else None,
        "active_secrets": len(client.active_secrets(now)),
        "secrets_expire_at": _expiries(client, now=now),
    }
