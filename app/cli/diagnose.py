"""`tokenidp diagnose TOKEN`: why a token does or does not validate at the origin and the CDN."""

from __future__ import annotations

import datetime as dt
import sys
import time
from typing import NoReturn

import click

from app.cli import cli, command_key_records, command_settings
from app.config.values import shown
from app.diagnosis import diagnose_token
from app.diagnosis.pasted import PastedTokenError, token_from_paste
from app.diagnosis.report import render_report
from app.diagnosis.sources import CDN, ORIGIN, configured_origin, fetch_jwks
from app.documents import render_documents
from app.keys.keyring import load_keyring
from tokenidp_validator import TokenValidationError


@cli.command("diagnose")
@click.argument("token")
@click.option(
    "--jwks-uri",
    "jwks_uris",
    multiple=True,
    metavar="URL",
    help="A JWKS address APIs fetch (the CDN's); repeat for several.",
)
@click.option("--origin-url", metavar="URL", help="The running IdP's JWKS URL, to compare too.")
@click.option("--leeway", type=float, default=30.0, show_default=True, help="Clock skew, s.")
@click.option("--timeout", type=float, default=5.0, show_default=True, help="Per GET, s.")
@click.pass_context
def diagnose(
    ctx: click.Context,
    token: str,
    jwks_uris: tuple[str, ...],
    origin_url: str | None,
    leeway: float,
    timeout: float,
) -> None:
    """Check TOKEN's kid, signature and claims against this configuration's JWKS and each URL.

    TOKEN as pasted: with quotes, `Bearer `, an `Authorization:` header or the JSON token
    response. `-` reads it from standard input (keeps it out of shell history). Exit status 0
    when every source would accept it, 1 when one would not, 2 on bad usage or configuration.
    """
    if token == "-":
        token = sys.stdin.readline() if sys.stdin.isatty() else sys.stdin.read()
    try:
        token = token_from_paste(token)
    except PastedTokenError as error:
        _usage_error(ctx, "TOKEN", str(error))
    for option, url in [("--origin-url", origin_url)] + [("--jwks-uri", u) for u in jwks_uris]:
        if url is not None and not url.startswith(("http://", "https://")):
            _usage_error(ctx, option, f"{shown(url)} is not an http(s) URL")
    settings = command_settings()
    now = time.time()
    keyring = load_keyring(
        settings,
        now=dt.datetime.fromtimestamp(now, dt.UTC),
        records=command_key_records(),
        strict=False,
    )
    responses = [configured_origin(render_documents(settings, keyring).jwks, now=now)]
    if origin_url:
        responses.append(
            fetch_jwks(origin_url, label="origin URL", role=ORIGIN, timeout_seconds=timeout)
        )
    responses += [
        fetch_jwks(url, label="CDN " + url, role=CDN, timeout_seconds=timeout) for url in jwks_uris
    ]
    try:
        diagnosis = diagnose_token(
            token,
            responses=responses,
            issuer=settings.token.issuer,
            audience=settings.token.audience,
            revoked_kids=keyring.revoked_kids,
            now=now,
            leeway_seconds=leeway,
            allow_development_keys=settings.is_development,
        )
    except TokenValidationError as error:
        _usage_error(ctx, "TOKEN", f"not a JWT ({error.description})")
    click.echo(render_report(diagnosis, now=now))
    if not jwks_uris and settings.token.jwks_uri:
        click.echo(
            f"note: APIs read keys from {settings.token.jwks_uri} (TokenOptions:JwksUri); "
            "add --jwks-uri to check that copy too",
            err=True,
        )
    ctx.exit(0 if diagnosis.would_validate else 1)


def _usage_error(ctx: click.Context, name: str, message: str) -> NoReturn:
    """One line naming the argument, exit status 2 (the contract), no usage dump."""
    click.echo(f"tokenidp: {name}: {message}", err=True)
    ctx.exit(2)
