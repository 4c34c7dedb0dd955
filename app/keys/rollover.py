"""The emergency rollover: the product page's Emergency Key Rollover as resumable steps.

Each step checks its own outcome and is recorded in the `rollovers` row when done, with
the seconds it took, so a second run resumes at the first step not done and a failed step
stops the run with what to do. The steps, in order:

1. revoke the compromised key and activate the replacement at once (an emergency);
2. wait until every live instance signs with the replacement and no longer publishes the
   compromised key (heartbeats, app/keys/instances.py);
3. publish with the configured publisher target and CDN invalidation (the deploy hook);
4. confirm at `JwksUri` that the compromised kid is gone and the replacement is there;
5. revoke refresh tokens issued under it and add an access-token rule for it (`--revoke`);
6. the audit report of the compromised key's window;
7. record the rollover as complete.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import Connection, desc, insert, select, update

from app.audit.admin import admin_event
from app.audit.events import TOKEN_REVOKED, AuditEvent, operator, record
from app.audit.queries import admin_actions, failure_counts, issuance_counts
from app.audit.report import SigningPeriod as AuditPeriod
from app.audit.report import Window
from app.audit.times import iso_time
from app.config import Settings
from app.errors import TokenIdpError
from app.keys.instances import Instance, live_instances
from app.keys.keyring import Keyring, format_duration, load_keyring, revocations
from app.keys.live import serves_own_jwks
from app.keys.observe import observe_public_keys
from app.keys.policy import signing_refusals
from app.keys.records import (
    KeyRecords,
    read_key_records,
    record_emergency_activation,
    record_revocation,
)
from app.keys.store import StoreEntry, read_store
from app.oauth.refresh_tokens import revoke_covered
from app.oauth.revocation_rules import RuleKind, rule_from_selector
from app.storage import Storage
from app.storage.revocation_rules import insert_rule
from app.storage.schema import rollovers

CONFIRM_SECONDS = 30.0  # JwksUri after the CDN invalidation
POLL_SECONDS = 0.5


class RevokeTokens(StrEnum):
    """Which tokens `--revoke` revokes besides the key: those under the kid, all, none."""

    KID = "kid"
    ALL = "all"
    NONE = "none"


class Step(StrEnum):
    REVOKE = "revoke the key, activate the replacement"
    INSTANCES = "every live instance switched"
    PUBLISH = "publish"
    CONFIRM = "confirm at JwksUri"
    TOKENS = "revoke tokens"
    REPORT = "audit report"
    RECORD = "record the rollover"


STEPS = tuple(Step)


class RolloverError(TokenIdpError):
    """A step failed, or the rollover cannot start: the message says what to do."""


@dataclass
class Rollover:
    """One `rollovers` row: which key, its replacement, and the steps done (seconds each)."""

    id: int
    compromised_kid: str
    replacement_kid: str
    revoke: RevokeTokens
    started_at: int
    completed_at: int | None
    steps: dict[str, float] = field(default_factory=dict)

    def next_step(self) -> Step | None:
        return next((step for step in STEPS if step.name not in self.steps), None)


@dataclass
class RolloverRun:
    """What the steps need: settings, the database, where to print, and the tools they call
    (the publisher and the clock are injected so tests drive them)."""

    settings: Settings
    storage: Storage
    say: Callable[[str], None]
    publish: Callable[[], tuple[int, str]]  # exit status, its output
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep

    @property
    def now(self) -> int:
        return int(self.clock())


def choose_replacement(
    settings: Settings, *, compromised: str, wanted: str | None, records: KeyRecords, now: int
) -> StoreEntry:
    """The replacement certificate: `wanted`, or the newest one in the store that may sign.

    Refused (RolloverError) unless it is valid, holds its private key, is not revoked and
    is not the compromised key.
    """
    options = settings.token
    snapshot = read_store(options.store_folder, password=options.certificate_password)
    revoked = revocations(settings, records, [])
    moment = dt.datetime.fromtimestamp(now, dt.UTC)
    if wanted is not None:
        if wanted == compromised:
            raise RolloverError("--replacement is the compromised key: choose another certificate")
        entry = snapshot.find_by_thumbprint(wanted)
        if entry is None:
            raise RolloverError(
                f"no certificate {wanted} in {snapshot.describe()}: import the replacement "
                "first (tokenidp certs import)"
            )
        refusals = signing_refusals(
            entry, environment=settings.environment, revoked=revoked, now=moment
        )
        if refusals:
            raise RolloverError(f"the replacement {wanted} {refusals[0].reason}")
        return entry
    usable = [
        entry
        for entry in snapshot.entries
        if entry.certificate is not None
        and entry.sha1_thumbprint != compromised
        and not signing_refusals(
            entry, environment=settings.environment, revoked=revoked, now=moment
        )
    ]
    if not usable:
        raise RolloverError(
            f"no valid, non-revoked replacement certificate with its private key in "
            f"{snapshot.describe()}: import one (tokenidp certs import, or certs "
            "create-self-signed for a test environment), then run this again"
        )
    return max(usable, key=lambda entry: entry.certificate.not_valid_before_utc)


def open_rollover(connection: Connection, compromised: str) -> Rollover | None:
    """The latest rollover of this key (complete or not)."""
    row = connection.execute(
        select(rollovers)
        .where(rollovers.c.compromised_kid == compromised)
        .order_by(desc(rollovers.c.id))
        .limit(1)
    ).first()
    if row is None:
        return None
    return Rollover(
        id=row.id,
        compromised_kid=row.compromised_kid,
        replacement_kid=row.replacement_kid,
        revoke=RevokeTokens(row.revoke),
        started_at=row.started_at,
        completed_at=row.completed_at,
        steps=json.loads(row.steps),
    )


def start_rollover(
    storage: Storage, *, compromised: str, replacement: str, revoke: RevokeTokens, now: int
) -> Rollover:
    with storage.transaction() as work:
        result = work.execute(
            insert(rollovers).values(
                compromised_kid=compromised,
                replacement_kid=replacement,
                revoke=str(revoke),
                started_at=now,
                steps="{}",
                started_by=operator()[:200],
            )
        )
        rollover_id = int(result.inserted_primary_key[0])
    return Rollover(rollover_id, compromised, replacement, revoke, now, None, {})


def run_rollover(run: RolloverRun, rollover: Rollover, *, reason: str) -> None:
    """Every step not done yet, in order; RolloverError names the failed step and how to
    resume."""
    for step in STEPS:
        if step.name in rollover.steps:
            run.say(f"[done] {step}")
            continue
        run.say(f"[....] {step}")
        started = time.monotonic()
        try:
            STEP_FUNCTIONS[step](run, rollover, reason)
        except RolloverError as error:
            raise RolloverError(
                f"step '{step}' failed: {error}; fix it and run the same command again to "
                f"resume at this step"
            ) from None
        seconds = round(time.monotonic() - started, 3)
        rollover.steps[step.name] = seconds
        with run.storage.transaction() as work:
            values = {"steps": json.dumps(rollover.steps)}
            if step is Step.RECORD:
                rollover.completed_at = run.now
                values["completed_at"] = rollover.completed_at
            work.execute(update(rollovers).where(rollovers.c.id == rollover.id).values(**values))
        run.say(f"[ ok ] {step} ({seconds:.1f} s)")


def timings(rollover: Rollover) -> list[str]:
    """The rollover's own figure: the seconds each step took, and the total."""
    width = max(len(str(step)) for step in STEPS)
    lines = [
        f"  {str(step).ljust(width)}  {rollover.steps.get(step.name, 0.0):7.1f} s" for step in STEPS
    ]
    total = sum(rollover.steps.values())
    lines.append(f"  {'total'.ljust(width)}  {total:7.1f} s")
    return lines


def _revoke_and_activate(run: RolloverRun, rollover: Rollover, reason: str) -> None:
    now = run.now
    why = f"emergency rollover: {reason}"
    with run.storage.transaction() as work:
        record_revocation(work, rollover.compromised_kid, now=now, actor=operator(), reason=why)
        record_emergency_activation(
            work, rollover.replacement_kid, now=now, actor=operator(), reason=why
        )
        record(work, admin_event("keys.revoke", reason=why, kid=rollover.compromised_kid))
        record(work, admin_event("keys.activate", reason=why, kid=rollover.replacement_kid))
    run.say(f"       revoked {rollover.compromised_kid}; {rollover.replacement_kid} signs at once")


def _wait_for_instances(run: RolloverRun, rollover: Rollover, reason: str) -> None:
    """Until every live instance reports, after the revocation, the replacement signing and
    the compromised key unpublished; bounded by three refresh intervals."""
    interval = run.settings.token.keyring_refresh_interval_seconds
    deadline = run.clock() + 3 * interval + 5
    since = _revoked_at(run, rollover.compromised_kid)
    while True:
        with run.storage.reading() as connection:
            live = live_instances(connection, now=run.now, refresh_interval_seconds=interval)
        behind = [instance for instance in live if not _switched(instance, rollover, since)]
        if not live:
            run.say(
                "       note: no live instance has reported in the last "
                f"{3 * interval} s (is the IdP running against this database?)"
            )
            return
        if not behind:
            run.say(f"       {len(live)} live instance(s) sign with {rollover.replacement_kid}")
            return
        if run.clock() >= deadline:
            names = ", ".join(
                f"{instance.name} (signs {instance.signing_kid or 'nothing'})"
                for instance in behind
            )
            raise RolloverError(
                f"{len(behind)} of {len(live)} live instance(s) have not switched within "
                f"{3 * interval + 5} s: {names}; see their logs (keyring refresh)"
            )
        run.sleep(POLL_SECONDS)


def _publish(run: RolloverRun, rollover: Rollover, reason: str) -> None:
    if serves_own_jwks(run.settings):
        run.say("       JwksUri is this IdP's own JWKS: the instances serve the new one already")
        return
    status, output = run.publish()
    for line in output.splitlines():
        run.say(f"       {line}")
    if status != 0:
        raise RolloverError(f"the publisher exited with status {status}")


def _confirm(run: RolloverRun, rollover: Rollover, reason: str) -> None:
    """JwksUri holds the replacement and not the compromised key (after the invalidation
    the CDN may take a moment: retried for up to CONFIRM_SECONDS)."""
    url = run.settings.token.jwks_uri
    keyring = _public_keyring(run)
    deadline = run.clock() + CONFIRM_SECONDS
    while True:
        public, _ = observe_public_keys(
            run.storage, keyring, url, observed_by="emergency-rollover", clock=run.clock
        )
        gone = rollover.compromised_kid not in public.kids
        present = public.holds(rollover.replacement_kid)
        if public.error is None and gone and present:
            run.say(
                f"       {url}: {rollover.compromised_kid} gone, {rollover.replacement_kid} present"
            )
            return
        if run.clock() >= deadline:
            problems = [public.error] if public.error else []
            if not gone:
                problems.append(f"{rollover.compromised_kid} is still published")
            if not present:
                problems.append(f"{rollover.replacement_kid} is missing")
            raise RolloverError(
                f"{url} after {CONFIRM_SECONDS:g} s: {'; '.join(problems)} (CDN invalidation "
                "pending? check the distribution, or run the publisher)"
            )
        run.sleep(POLL_SECONDS * 2)


def _revoke_tokens(run: RolloverRun, rollover: Rollover, reason: str) -> None:
    if rollover.revoke is RevokeTokens.NONE:
        run.say("       --revoke none: tokens left as they are (they fail at every validator)")
        return
    now = run.now
    kid = rollover.compromised_kid if rollover.revoke is RevokeTokens.KID else None
    kind = RuleKind.KID if kid else RuleKind.ALL
    rule = rule_from_selector(
        kind,
        kid,
        issued_before=now + 1,
        now=now,
        access_token_lifetime_seconds=run.settings.token.access_token_lifetime_seconds,
    )
    why = f"emergency rollover of {rollover.compromised_kid}: {reason}"
    with run.storage.transaction() as work:
        refresh = revoke_covered(work, rule, now=now)
        rule_id = insert_rule(work, rule, created_at=now, created_by=operator(), reason=why)
        detail = {"rule": rule_id, "kind": str(kind), "value": kid}
        record(
            work,
            AuditEvent(
                TOKEN_REVOKED,
                now,
                actor=operator(),
                reason=why,
                kid=kid,
                detail={**detail, "token_type": "access_token"},
            ),
        )
        record(
            work,
            AuditEvent(
                TOKEN_REVOKED,
                now,
                actor=operator(),
                reason=why,
                kid=kid,
                detail={**detail, "count": refresh, "token_type": "refresh_token"},
            ),
        )
    run.say(
        f"       {refresh} refresh token(s) revoked; access tokens: rule {rule_id}, "
        f"{rule.describe()}"
    )


def _report(run: RolloverRun, rollover: Rollover, reason: str) -> None:
    """What happened while the key could have been misused: issuance under it by client,
    admin actions and failed client authentication in its window."""
    with run.storage.reading() as connection:
        signed = read_key_records(connection).signing.get(rollover.compromised_kid)
        start = signed.first_signed_at if signed else rollover.started_at - 30 * 86400
        window = Window(start, max(run.now, start) + 1)
        issued = [
            row
            for row in issuance_counts(
                connection, AuditPeriod(window.start, window.end, rollover.compromised_kid)
            )
            if row.kid == rollover.compromised_kid
        ]
        actions = admin_actions(connection, window)
        failures = failure_counts(connection, window)
    length = format_duration(window.length_seconds)
    span = f"{iso_time(window.start)} to {iso_time(window.end)} ({length})"
    run.say(f"       audit report of {rollover.compromised_kid}'s window, {span}:")
    total = sum(row.count for row in issued)
    run.say(f"       issued under {rollover.compromised_kid}: {total} token(s)")
    for row in sorted(issued, key=lambda row: -row.count):
        run.say(
            f"         {row.client_id or '(unknown client)'}: {row.count} "
            f"({iso_time(row.first_at)} to {iso_time(row.last_at)})"
        )
    run.say(f"       admin actions: {len(actions)}")
    for action in actions:
        run.say(f"         {iso_time(action.occurred_at)} {action.action} by {action.actor or '?'}")
    failed = sum(row.count for row in failures)
    run.say(f"       failed client authentications: {failed}")
    run.say(f"       (tokenidp audit report --since {iso_time(window.start)} for the full report)")


def _record(run: RolloverRun, rollover: Rollover, reason: str) -> None:
    with run.storage.transaction() as work:
        record(
            work,
            admin_event(
                "keys.emergency_rollover",
                reason=reason,
                kid=rollover.compromised_kid,
                detail={"value": rollover.replacement_kid, "rule": str(rollover.revoke)},
            ),
        )


STEP_FUNCTIONS: dict[Step, Callable[[RolloverRun, Rollover, str], None]] = {
    Step.REVOKE: _revoke_and_activate,
    Step.INSTANCES: _wait_for_instances,
    Step.PUBLISH: _publish,
    Step.CONFIRM: _confirm,
    Step.TOKENS: _revoke_tokens,
    Step.REPORT: _report,
    Step.RECORD: _record,
}


def _switched(instance: Instance, rollover: Rollover, since: int) -> bool:
    return (
        instance.heartbeat_at >= since
        and instance.signing_kid == rollover.replacement_kid
        and rollover.compromised_kid not in instance.published_kids
    )


def _revoked_at(run: RolloverRun, kid: str) -> int:
    with run.storage.reading() as connection:
        revocation = read_key_records(connection).revocations.get(kid)
    return revocation.revoked_at if revocation else run.now


def _public_keyring(run: RolloverRun) -> Keyring:
    with run.storage.reading() as connection:
        records = read_key_records(connection)
    return load_keyring(
        run.settings,
        now=dt.datetime.fromtimestamp(run.now, dt.UTC),
        records=records,
        private_keys=False,
        strict=False,
    )
