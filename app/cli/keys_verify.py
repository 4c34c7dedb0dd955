"""`tokenidp keys verify-rotation`: the runbook's steps 4 to 6 as checks, PASS or FAIL each.

Run it after a rotation (and from a timer, if you like): it looks where validators look, so
a PASS means a validator fetching `JwksUri` now accepts what the IdP signs now. The check
client's secret comes from the environment, never the command line (shell history, `ps`).
"""

from __future__ import annotations

import datetime as dt
import os

import click
import requests

from app.cli import command_settings, command_storage
from app.cli.keys import keys
from app.config import Settings
from app.keys.instances import live_instances
from app.keys.keyring import Keyring, load_keyring
from app.keys.observe import PublicKeys, observe_public_keys
from app.keys.records import read_key_records
from app.keys.verification import (
    Check,
    CheckClient,
    Verdict,
    check_api_accepts,
    check_cache_lifetime,
    check_discovery,
    check_instances,
    check_public_jwks,
    check_token_validates,
    fetch_fresh_token,
    public_discovery_url,
)

CHECK_CLIENT_SECRET_VARIABLE = "TOKENIDP_CHECK_CLIENT_SECRET"


@keys.command("verify-rotation")
@click.option("--api", "api_url", metavar="URL", help="a downstream API URL to call with the token")
@click.option(
    "--client",
    "client_id",
    metavar="ID",
    help="a client_credentials client to get a fresh token as "
    f"(its secret: ${CHECK_CLIENT_SECRET_VARIABLE})",
)
@click.option("--scope", help="the scope to ask for (default: the client's default)")
@click.option(
    "--idp-url",
    metavar="URL",
    help="where to reach the IdP's token endpoint (default: TokenOptions:Issuer)",
)
@click.option(
    "--discovery-url",
    metavar="URL",
    help="the public discovery document (default: beside TokenOptions:JwksUri)",
)
@click.pass_context
def verify_rotation(
    ctx: click.Context,
    api_url: str | None,
    client_id: str | None,
    scope: str | None,
    idp_url: str | None,
    discovery_url: str | None,
) -> None:
    """Discovery and JWKS at the public addresses hold the signing key and no revoked key;
    every live instance uses the same keyring; a fresh token validates against the JWKS
    from JwksUri (validator library); with --api, the downstream API accepts it; the
    published cache lifetime fits KeyActivationDelay. Exit status 1 on any FAIL."""
    settings = command_settings()
    client = None
    if client_id:
        secret = os.environ.get(CHECK_CLIENT_SECRET_VARIABLE)
        if not secret:
            raise click.UsageError(
                f"--client {client_id} needs its secret in ${CHECK_CLIENT_SECRET_VARIABLE}"
            )
        client = CheckClient(client_id, secret, scope)
    storage = command_storage()
    now = dt.datetime.now(dt.UTC)
    with storage.reading() as connection:
        records = read_key_records(connection)
        instances = live_instances(
            connection,
            now=int(now.timestamp()),
            refresh_interval_seconds=settings.token.keyring_refresh_interval_seconds,
        )
    keyring = load_keyring(settings, now=now, records=records, strict=False, private_keys=False)
    public, _ = observe_public_keys(
        storage, keyring, settings.token.jwks_uri, observed_by="keys verify-rotation"
    )
    session = requests.Session()
    checks = [
        check_discovery(settings, discovery_url or public_discovery_url(settings), session.get),
        check_public_jwks(keyring, public),
        check_instances(keyring, instances),
    ]
    checks += _token_checks(settings, keyring, public, client, idp_url, api_url, session)
    checks.append(check_cache_lifetime(settings, public))
    for check in checks:
        click.echo(f"[{check.verdict}] {check.name}: {check.detail}")
    failed = sum(check.verdict == Verdict.FAIL for check in checks)
    passed = sum(check.verdict == Verdict.PASS for check in checks)
    click.echo(f"{passed} passed, {failed} failed, {len(checks) - passed - failed} skipped")
    if failed:
        ctx.exit(1)


def _token_checks(
    settings: Settings,
    keyring: Keyring,
    public: PublicKeys,
    client: CheckClient | None,
    idp_url: str | None,
    api_url: str | None,
    session: requests.Session,
) -> list[Check]:
    validates = "a fresh token validates against JwksUri"
    accepted = "the downstream API accepts it"
    if client is None:
        why = "no check client: pass --client ID with its secret in " + CHECK_CLIENT_SECRET_VARIABLE
        return [Check(validates, Verdict.SKIP, why)] + (
            [Check(accepted, Verdict.SKIP, why)] if api_url else []
        )
    token, source = fetch_fresh_token(idp_url or settings.token.issuer, client, session.post)
    if token is None:
        failed = [Check(validates, Verdict.FAIL, f"no token: {source}")]
        return failed + ([Check(accepted, Verdict.SKIP, "no token")] if api_url else [])
    checks = [check_token_validates(settings, keyring, token, public)]
    if api_url:
        checks.append(check_api_accepts(api_url, token, session.get))
    return checks
