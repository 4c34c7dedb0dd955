"""What `tokenidp audit report` flags: pure functions from what the log says to findings.

Inputs are plain values read by app/audit/queries.py: token issuance counted per client,
kid and signing period (one row per token would be millions a day), failed client
authentications counted per second, client id and address, key activations, and admin
actions whole. Nothing here reads the clock, the database or the configuration.

Thresholds, chosen so a normal day is quiet and each finding is worth a look:

- Issuance spike: a client (or kid) issued at least SPIKE_MIN_TOKENS tokens and at least
  SPIKE_RATIO times as many as in the previous period of the same length; one that issued
  none before is flagged from SPIKE_MIN_TOKENS. A kid that became the signing key in either
  period is not compared: a rotation moves all issuance from one kid to the next.
- Unexpected kid: a token whose kid is not the one of the latest `key.activated` event at or
  before its issuance, or is revoked. Tokens before the first activation in the log cannot
  be checked against the signing key, and the report says so instead of guessing.
- Failed-authentication burst: at least BURST_MIN_FAILURES failures within BURST_SECONDS,
  per client id as presented and per address.
- Every admin action is listed (severity info): who, what, when and why.

Only critical and warning findings make the report `flagged` (exit status 1).
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.audit.times import format_duration, format_time

SPIKE_RATIO = 3
SPIKE_MIN_TOKENS = 50
BURST_MIN_FAILURES = 10
BURST_SECONDS = 300
TIME_DETAILS = frozenset({"before", "issued_before"})  # seconds since the epoch
MAX_NAMED = 5  # clients or addresses named in one finding's summary; JSON has them all

CRITICAL = "critical"
WARNING = "warning"
INFO = "info"
SEVERITIES = (CRITICAL, WARNING, INFO)

ISSUANCE_SPIKE = "issuance_spike"
UNEXPECTED_KID = "unexpected_kid"
UNCHECKED_KID = "unchecked_kid"
AUTHENTICATION_BURST = "failed_authentication_burst"
KEY_CHANGED = "signing_key_changed"
ADMIN_ACTION = "admin_action"


@dataclass(frozen=True)
class Window:
    """A period of the log, `start` included and `end` excluded, in seconds since the epoch."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("a window ends after it starts")

    @property
    def length_seconds(self) -> int:
        return self.end - self.start

    def previous(self) -> Window:
        """The period of the same length just before: what issuance is compared with."""
        return Window(self.start - self.length_seconds, self.start)

    def holds(self, seconds: int) -> bool:
        return self.start <= seconds < self.end


@dataclass(frozen=True)
class KeyActivation:
    """A `key.activated` event: from `occurred_at`, tokens are signed with `kid`."""

    occurred_at: int
    kid: str


@dataclass(frozen=True)
class SigningPeriod:
    """A stretch of time with one signing key; `kid` None where no activation is logged."""

    start: int
    end: int
    kid: str | None


@dataclass(frozen=True)
class IssuanceCount:
    """`count` tokens for one client under one kid within one signing period."""

    period: SigningPeriod
    client_id: str | None
    kid: str | None
    count: int
    first_at: int
    last_at: int


@dataclass(frozen=True)
class FailureCount:
    """Failed client authentications in one second, for one presented client id and address."""

    occurred_at: int
    client_id: str | None
    address: str | None
    count: int


@dataclass(frozen=True)
class AdminAction:
    """An admin action as the log holds it: who, what, when, why, and what it named."""

    occurred_at: int
    action: str
    actor: str | None
    reason: str | None
    client_id: str | None = None
    subject: str | None = None
    kid: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    """One thing for an operator to look at: `summary` is one line saying what to do."""

    kind: str
    severity: str
    summary: str
    facts: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Issuance:
    """Tokens issued by one client (or under one kid) now and in the previous period."""

    name: str | None
    previous: int
    current: int


@dataclass(frozen=True)
class AuditReport:
    window: Window
    clients: tuple[Issuance, ...]
    kids: tuple[Issuance, ...]
    findings: tuple[Finding, ...]

    @property
    def flagged(self) -> bool:
        """True when a finding is critical or a warning: the exit status a script alerts on."""
        return any(finding.severity != INFO for finding in self.findings)


def signing_periods(
    activations: Sequence[KeyActivation], window: Window
) -> tuple[SigningPeriod, ...]:
    """`window` cut where the signing key changed; activations of the same kid (restarts) are
    one period, and the time before the first activation has kid None."""
    ordered = sorted(activations, key=lambda activation: activation.occurred_at)
    periods: list[SigningPeriod] = []
    start, kid = window.start, None
    for activation in ordered:
        if activation.occurred_at <= window.start:
            kid = activation.kid
            continue
        if activation.occurred_at >= window.end:
            break
        if activation.kid == kid:
            continue
        periods.append(SigningPeriod(start, activation.occurred_at, kid))
        start, kid = activation.occurred_at, activation.kid
    periods.append(SigningPeriod(start, window.end, kid))
    return tuple(periods)


def build_report(
    *,
    window: Window,
    issuance: Iterable[IssuanceCount],
    activations: Sequence[KeyActivation],
    failures: Iterable[FailureCount],
    admin_actions: Iterable[AdminAction],
    revoked_kids: frozenset[str],
) -> AuditReport:
    """Every finding for `window`; `issuance` covers it and `window.previous()`."""
    issuance = tuple(issuance)
    previous = window.previous()
    current_counts = [count for count in issuance if window.holds(count.period.start)]
    previous_counts = [count for count in issuance if previous.holds(count.period.start)]
    clients = _compare(current_counts, previous_counts, lambda count: count.client_id)
    kids = _compare(current_counts, previous_counts, lambda count: count.kid)
    changes = key_changes(activations)
    both = Window(previous.start, window.end)
    rotated = {change.kid for change in changes if both.holds(change.occurred_at)}
    findings = [
        *issuance_spikes(clients, what="client", window=window),
        *issuance_spikes(
            [row for row in kids if row.name not in rotated], what="kid", window=window
        ),
        *unexpected_kids(current_counts, activations, revoked_kids=revoked_kids),
        *failed_authentication_bursts(failures),
        *sorted(
            [
                *(
                    _key_change_finding(change, previous_kid)
                    for change, previous_kid in _with_previous(changes)
                    if window.holds(change.occurred_at)
                ),
                *(admin_action_finding(action) for action in admin_actions),
            ],
            key=lambda finding: finding.facts["occurred_at"],
        ),
    ]
    order = {severity: rank for rank, severity in enumerate(SEVERITIES)}
    findings.sort(key=lambda finding: order[finding.severity])  # stable: the order above within
    return AuditReport(window, clients, kids, tuple(findings))


def issuance_spikes(rows: Iterable[Issuance], *, what: str, window: Window) -> list[Finding]:
    """Clients or kids whose issuance rose SPIKE_RATIO times and to SPIKE_MIN_TOKENS or more."""
    period = format_duration(window.length_seconds)
    findings = []
    for row in rows:
        if row.current < SPIKE_MIN_TOKENS or row.current < SPIKE_RATIO * row.previous:
            continue
        name = row.name or "(none)"
        if row.previous:
            ratio = row.current / row.previous
            rise = f"against {row.previous} in the previous {period} ({ratio:.1f}×)"
        else:
            rise = f"and none in the previous {period}"
        advice = (
            "is its secret used by someone else, or did it lose its token cache?"
            if what == "client"
            else "issuance as a whole rose; the per-client table shows which clients account for it"
        )
        findings.append(
            Finding(
                ISSUANCE_SPIKE,
                WARNING,
                f"{what} {name}: {row.current} tokens {rise}: {advice}",
                {what: row.name, "previous": row.previous, "current": row.current},
            )
        )
    return findings


def unexpected_kids(
    counts: Iterable[IssuanceCount],
    activations: Sequence[KeyActivation],
    *,
    revoked_kids: frozenset[str],
) -> list[Finding]:
    """Tokens under a revoked kid, or a kid that was not the signing key when they were issued;
    and, said once, the tokens issued where the log shows no signing key to compare with."""
    groups: dict[tuple[str | None, str], list[IssuanceCount]] = defaultdict(list)
    for count in counts:
        signing = count.period.kid
        if count.kid in revoked_kids:
            reason = "revoked_while_signing" if count.kid == signing else "revoked"
        elif signing is None:
            reason = "unchecked"
        elif count.kid == signing:
            continue
        elif _was_signing_before(count.kid, count.first_at, activations):
            reason = "retired"
        else:
            reason = "never_signing"
        groups[(count.kid if reason != "unchecked" else None, reason)].append(count)
    return [_kid_finding(kid, reason, rows) for (kid, reason), rows in groups.items()]


def failed_authentication_bursts(failures: Iterable[FailureCount]) -> list[Finding]:
    """Presented client ids and addresses with BURST_MIN_FAILURES within BURST_SECONDS."""
    ordered = sorted(failures, key=lambda failure: failure.occurred_at)
    findings = []
    for by, other in (("client", "address"), ("address", "client")):
        per_key: dict[str | None, list[FailureCount]] = defaultdict(list)
        for failure in ordered:
            per_key[_field(failure, by)].append(failure)
        for key, rows in per_key.items():
            peak, peak_start, peak_end = _peak(rows)
            if peak < BURST_MIN_FAILURES:
                continue
            others = sorted({_field(row, other) or "-" for row in rows})
            findings.append(_burst_finding(by, key, rows, others, peak, peak_start, peak_end))
    return findings


def admin_action_finding(action: AdminAction) -> Finding:
    """An admin action, listed: who did what to which thing, when, and why."""
    named = [
        f"{name} {value}"
        for name, value in (
            ("client", action.client_id),
            ("subject", action.subject),
            ("kid", action.kid),
        )
        if value
    ]
    named += [
        f"{name} {_detail_text(name, value)}" for name, value in sorted(action.detail.items())
    ]
    what = f"{action.action} ({', '.join(named)})" if named else action.action
    why = f"reason: {action.reason}" if action.reason else "no reason given"
    return Finding(
        ADMIN_ACTION,
        INFO,
        f"{format_time(action.occurred_at)} UTC {action.actor or 'an unknown user'} ran {what}; "
        f"{why}",
        {
            "occurred_at": action.occurred_at,
            "actor": action.actor,
            "action": action.action,
            "reason": action.reason,
            "client": action.client_id,
            "subject": action.subject,
            "kid": action.kid,
            "detail": dict(action.detail),
        },
    )


def key_changes(activations: Sequence[KeyActivation]) -> list[KeyActivation]:
    """The activations that changed the signing key (a restart re-activates the same kid)."""
    changes, kid = [], None
    for activation in sorted(activations, key=lambda activation: activation.occurred_at):
        if activation.kid != kid:
            changes.append(activation)
            kid = activation.kid
    return changes


def _compare(
    current: Iterable[IssuanceCount], previous: Iterable[IssuanceCount], key: Any
) -> tuple[Issuance, ...]:
    now: dict[str | None, int] = defaultdict(int)
    before: dict[str | None, int] = defaultdict(int)
    for count in current:
        now[key(count)] += count.count
    for count in previous:
        before[key(count)] += count.count
    names = set(now) | set(before)
    rows = [Issuance(name, before.get(name, 0), now.get(name, 0)) for name in names]
    rows.sort(key=lambda row: (-row.current, -row.previous, row.name or ""))
    return tuple(rows)


def _was_signing_before(kid: str | None, moment: int, activations: Sequence[KeyActivation]) -> bool:
    return any(a.kid == kid and a.occurred_at <= moment for a in activations)


def _kid_finding(kid: str | None, reason: str, rows: list[IssuanceCount]) -> Finding:
    total = sum(row.count for row in rows)
    first = min(row.first_at for row in rows)
    last = max(row.last_at for row in rows)
    clients = sorted({row.client_id or "-" for row in rows})
    tokens = f"{total} token{'s' if total != 1 else ''}"
    span = f"from {format_time(first)} to {format_time(last)} UTC"
    named = _named(clients)
    facts: dict[str, Any] = {
        "kid": kid,
        "reason": reason,
        "count": total,
        "first_at": first,
        "last_at": last,
        "clients": clients,
    }
    if reason == "unchecked":
        summary = (
            f"{tokens} issued {span} (clients {named}) come before any key.activated event in "
            "the log, so whether they were signed with the signing key of the time is unknown "
            "(revoked kids were checked)"
        )
        return Finding(UNCHECKED_KID, INFO, summary, facts)
    signing = sorted({row.period.kid for row in rows if row.period.kid})
    facts["signing_kids"] = signing
    if reason == "revoked":
        summary = (
            f"{tokens} signed with revoked key {kid} {span} for {named}: the IdP must never "
            "sign with a revoked key; check every instance's configuration and revoke these "
            f"tokens (their jti: tokenidp audit list --event token.issued --kid {kid})"
        )
        return Finding(UNEXPECTED_KID, CRITICAL, summary, facts)
    if reason == "revoked_while_signing":
        summary = (
            f"{tokens} signed {span} with {kid} while it was the signing key; it is revoked "
            f"now, so APIs refuse them: {named} need new tokens"
        )
        return Finding(UNEXPECTED_KID, WARNING, summary, facts)
    if reason == "retired":
        replaced = ", ".join(signing)
        summary = (
            f"{tokens} signed with {kid} {span} for {named} after {replaced} became the "
            "signing key: an instance still signs with the old key; restart it with the "
            "current configuration"
        )
        return Finding(UNEXPECTED_KID, WARNING, summary, facts)
    summary = (
        f"{tokens} signed with {kid} {span} for {named}, a key the log does not show as the "
        f"signing key before them (it was {', '.join(signing)}): find which instance signs "
        "with it"
    )
    return Finding(UNEXPECTED_KID, CRITICAL, summary, facts)


def _peak(rows: Sequence[FailureCount]) -> tuple[int, int, int]:
    """The most failures within any BURST_SECONDS, and the first and last second holding them."""
    window: deque[FailureCount] = deque()
    inside = peak = 0
    peak_start = peak_end = rows[0].occurred_at if rows else 0
    for row in rows:
        window.append(row)
        inside += row.count
        while window[0].occurred_at <= row.occurred_at - BURST_SECONDS:
            inside -= window.popleft().count
        if inside > peak:
            peak, peak_start, peak_end = inside, window[0].occurred_at, row.occurred_at
    return peak, peak_start, peak_end


def _burst_finding(
    by: str,
    key: str | None,
    rows: Sequence[FailureCount],
    others: Sequence[str],
    peak: int,
    peak_start: int,
    peak_end: int,
) -> Finding:
    total = sum(row.count for row in rows)
    minutes = format_duration(BURST_SECONDS)
    name = key if key is not None else "(none presented)" if by == "client" else "(unknown)"
    peak_text = (
        f"{peak} within {minutes} ({format_time(peak_start)} to {format_time(peak_end)} UTC)"
    )
    if by == "client":
        summary = (
            f"client id {name}: {total} failed authentications, {peak_text}, from "
            f"{_named(others)}: a consumer holds a wrong or rotated-out secret, or someone is "
            "guessing it; check who runs at those addresses"
        )
    else:
        summary = (
            f"address {name}: {total} failed client authentications, {peak_text}, presenting "
            f"client ids {_named(others)}: block it at the proxy unless it is a known consumer "
            "with a stale secret"
        )
    facts = {
        by: key,
        "count": total,
        "peak": peak,
        "peak_start": peak_start,
        "peak_end": peak_end,
        "first_at": rows[0].occurred_at,
        "last_at": rows[-1].occurred_at,
        "addresses" if by == "client" else "clients": list(others),
    }
    return Finding(AUTHENTICATION_BURST, WARNING, summary, facts)


def _key_change_finding(change: KeyActivation, previous_kid: str | None) -> Finding:
    before = f"replacing {previous_kid}" if previous_kid else "the first activation in the log"
    return Finding(
        KEY_CHANGED,
        INFO,
        f"{format_time(change.occurred_at)} UTC the signing key became {change.kid} ({before})",
        {"occurred_at": change.occurred_at, "kid": change.kid, "previous_kid": previous_kid},
    )


def _with_previous(changes: Sequence[KeyActivation]) -> list[tuple[KeyActivation, str | None]]:
    return [
        (change, changes[index - 1].kid if index else None) for index, change in enumerate(changes)
    ]


def _detail_text(name: str, value: Any) -> str:
    if name in TIME_DETAILS and isinstance(value, int):
        return f"{format_time(value)} UTC"
    return str(value)


def _field(failure: FailureCount, name: str) -> str | None:
    return failure.client_id if name == "client" else failure.address


def _named(names: Sequence[str]) -> str:
    shown = ", ".join(names[:MAX_NAMED])
    more = len(names) - MAX_NAMED
    return f"{shown} and {more} more" if more > 0 else shown
