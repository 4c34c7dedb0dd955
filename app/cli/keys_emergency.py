"""`tokenidp keys revoke`, `keys activate --emergency` and `keys emergency-rollover`: the
database records behind the key lifecycle, written with the audit event that explains them.

Running instances apply them within `TokenOptions:KeyringRefreshInterval`: a revoked key
stops signing and leaves their JWKS; an emergency activation signs at once.
"""

from __future__ import annotations

import io
import os
import sys
import time

import click

from app.audit.admin import admin_event
from app.audit.events import operator, record
from app.cli import command_key_records, command_settings, command_storage
from app.cli.keys import keys
from app.errors import ConfigError
from app.keys.records import record_emergency_activation, record_revocation
from app.keys.rollover import (
    RevokeTokens,
    RolloverError,
    RolloverRun,
    choose_replacement,
    open_rollover,
    run_rollover,
    start_rollover,
    timings,
)
from app.keys.store import normalize_thumbprint

WITHIN_BOUND_SECONDS = 60


class Kid(click.ParamType):
    """A kid: a SHA-1 thumbprint, pasted in any case, with spaces or colons."""

    name = "KID"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> str:
        try:
            return normalize_thumbprint(str(value), setting=param.name if param else "KID")[0]
        except ConfigError as error:
            self.fail(error.message)


KID = Kid()
required_reason = click.option(
    "--reason", required=True, help="Why: recorded in the audit log (tokenidp audit list)."
)


@keys.command("revoke")
@click.argument("kid", type=KID)
@required_reason
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def revoke_key(kid: str, reason: str, yes: bool) -> None:
    """Revoke a key for good: never signs, never published, its tokens refused.

    Running instances apply it within KeyringRefreshInterval; run the publisher to take it
    out of JwksUri. For a compromised signing key, `keys emergency-rollover` does all of it.
    """
    settings = command_settings()
    records = command_key_records()
    if kid in records.revocations:
        click.echo(f"{kid} is already revoked ({records.revocations[kid].reason})")
        return
    _confirm(yes, f"Revoke {kid}? Tokens it signed stop validating once it leaves the JWKS")
    with command_storage().transaction() as work:
        record_revocation(work, kid, now=int(time.time()), actor=operator(), reason=reason)
        record(work, admin_event("keys.revoke", reason=reason, kid=kid))
    interval = settings.token.keyring_refresh_interval_seconds
    click.echo(
        f"revoked {kid}: running instances stop signing with and publishing it within {interval} s"
    )
    click.echo("next: run the publisher so JwksUri drops it; `tokenidp keys status` to follow")
    signing = [kid for kid, period in records.signing.items() if period.last_signed_at]
    if kid in signing:
        click.echo(
            "tokenidp: warning: this key has signed; if it signs now and no other key may sign, "
            "instances answer 503 for tokens: `tokenidp keys activate REPLACEMENT --emergency`",
            err=True,
        )


@keys.command("activate")
@click.argument("kid", type=KID)
@click.option("--emergency", is_flag=True, help="sign with it now, without waiting for its delay")
@required_reason
def activate_key(kid: str, emergency: bool, reason: str) -> None:
    """Sign with KID at once, skipping KeyActivationDelay: validators that have not fetched
    it yet will refuse its tokens until they do. Audited."""
    if not emergency:
        raise click.UsageError(
            "a key activates by itself once it has been observed at JwksUri for "
            "KeyActivationDelay (`tokenidp keys status` shows when); --emergency skips the wait"
        )
    settings = command_settings()
    records = command_key_records()
    now = int(time.time())
    try:
        choose_replacement(settings, compromised="", wanted=kid, records=records, now=now)
    except RolloverError as error:
        raise click.ClickException(str(error).replace("the replacement", "the key")) from None
    with command_storage().transaction() as work:
        record_emergency_activation(work, kid, now=now, actor=operator(), reason=reason)
        record(work, admin_event("keys.activate", reason=reason, kid=kid))
    interval = settings.token.keyring_refresh_interval_seconds
    click.echo(f"activated {kid} (emergency): running instances sign with it within {interval} s")
    click.echo(
        "next: set TokenOptions:CertificateThumbprint to it before the next deployment, and "
        "run the publisher if it is not at JwksUri yet"
    )


@keys.command("emergency-rollover")
@click.option("--compromised", "compromised", type=KID, required=True, help="the compromised kid")
@click.option(
    "--replacement",
    type=KID,
    help="the thumbprint to sign with (default: the newest usable in the store)",
)
@click.option(
    "--revoke",
    "revoke",
    type=click.Choice([choice.value for choice in RevokeTokens]),
    default=RevokeTokens.KID.value,
    show_default=True,
    help="tokens to revoke: those issued under the compromised kid, all, or none",
)
@click.option(
    "--reason", default="key compromised", show_default=True, help="recorded in the audit log"
)
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@click.pass_context
def emergency_rollover(
    ctx: click.Context,
    compromised: str,
    replacement: str | None,
    revoke: str,
    reason: str,
    yes: bool,
) -> None:
    """The Emergency Key Rollover, each step checked: revoke the compromised key and sign
    with the replacement at once, wait for every live instance, publish, confirm at
    JwksUri, revoke tokens, print the audit report of the key's window.

    A second run resumes at the first step not done. Exit 1 when a step fails (it says how
    to resume).
    """
    settings = command_settings()
    storage = command_storage()
    with storage.reading() as connection:
        rollover = open_rollover(connection, compromised)
    if rollover is not None and rollover.completed_at is not None:
        click.echo(f"the rollover of {compromised} to {rollover.replacement_kid} is complete:")
        for line in timings(rollover):
            click.echo(line)
        return
    if rollover is None:
        entry = choose_replacement(
            settings,
            compromised=compromised,
            wanted=replacement,
            records=command_key_records(),
            now=int(time.time()),
        )
        chosen = entry.sha1_thumbprint
        click.echo(
            f"compromised: {compromised}\nreplacement: {chosen} ({entry.subject}, {entry.path})"
        )
        _confirm(yes, f"Revoke {compromised} and sign with {chosen} now?")
        rollover = start_rollover(
            storage,
            compromised=compromised,
            replacement=chosen,
            revoke=RevokeTokens(revoke),
            now=int(time.time()),
        )
    else:
        if replacement is not None and replacement != rollover.replacement_kid:
            raise click.UsageError(
                f"--replacement: the rollover of {compromised} under way uses "
                f"{rollover.replacement_kid}; run it without --replacement to resume"
            )
        click.echo(f"resuming the rollover of {compromised} to {rollover.replacement_kid}")
    run = RolloverRun(settings=settings, storage=storage, say=click.echo, publish=_run_publisher)
    started = time.monotonic()
    try:
        run_rollover(run, rollover, reason=reason)
    except RolloverError as error:
        click.echo(f"tokenidp: {error}", err=True)
        ctx.exit(1)
    seconds = time.monotonic() - started
    click.echo("seconds per step:")
    for line in timings(rollover):
        click.echo(line)
    verdict = "within" if seconds < WITHIN_BOUND_SECONDS else "OVER"
    click.echo(f"this run took {seconds:.1f} s ({verdict} the {WITHIN_BOUND_SECONDS} s bound)")


def _run_publisher() -> tuple[int, str]:
    """The deploy hook, as configured: `python -m publisher` with this environment."""
    from publisher.cli import run

    output = io.StringIO()
    result = run([], environ=os.environ, stdout=output, stderr=output)
    return result.exit_status, output.getvalue()


def _confirm(yes: bool, question: str) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise click.UsageError(f"{question.rstrip('?')}: add --yes to confirm")
    click.confirm(question, abort=True)
