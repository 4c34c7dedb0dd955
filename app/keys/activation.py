"""When a key may sign: the activation rule, a pure function of the records and the time.

No token is signed by a key that validators cannot have. A key may sign once it has been
observed at `JwksUri` for `KeyActivationDelay` (validators caching the JWKS for at most
half of that have fetched it since), with three exceptions:

- the first key a deployment ever uses: nothing signed before it, so no validator waits;
- an emergency activation: explicit and audited (`tokenidp keys activate --emergency`);
- a key that signed before: it was eligible then, and stayed published while it could sign.

Development has no delay. Among the candidates that may sign, the one that became
eligible last signs, so a renewal takes over once its delay has passed and an emergency
activation at once; ties go to the newer certificate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from app.keys.records import KeyRecords


class Grounds(StrEnum):
    """Why a key may sign (or would, from `Eligibility.since`)."""

    OBSERVED = "observed at JwksUri"
    EMERGENCY = "emergency activation"
    FIRST_KEY = "first key of this deployment"
    SIGNED_BEFORE = "signed before"
    DEVELOPMENT = "Development: no delay"
    NOT_OBSERVED = "not observed at JwksUri"


@dataclass(frozen=True)
class Candidate:
    """A certificate the configuration lets sign: its kid and `notBefore` (epoch seconds)."""

    kid: str
    not_before: int


@dataclass(frozen=True)
class Eligibility:
    """From when a key may sign (`since`, None until it is observed) and on what grounds.

    `rank` orders eligible keys: the latest to become eligible signs; an emergency
    activation ranks at its own time even when the key was eligible earlier, and above
    anything that became eligible in the same second.
    """

    kid: str
    since: int | None
    grounds: Grounds
    rank: tuple[int, int, int, str] = (0, 0, 0, "")

    def allows(self, now: int) -> bool:
        return self.since is not None and self.since <= now

    def seconds_left(self, now: int) -> int | None:
        """Seconds until it may sign; None while it is not observed."""
        return None if self.since is None else max(0, self.since - now)


@dataclass(frozen=True)
class Decision:
    """The signing kid (None when no candidate may sign yet) and every candidate's eligibility."""

    signing: str | None
    eligibility: Mapping[str, Eligibility]


def decide_signing(
    candidates: Sequence[Candidate],
    records: KeyRecords,
    *,
    now: int,
    activation_delay_seconds: int,
    development: bool,
) -> Decision:
    """Which candidate signs now. Candidates must already be usable (valid, not revoked)."""
    first_key = _first_key(candidates, records)
    eligibility = {
        candidate.kid: _eligibility(
            candidate,
            records,
            delay=activation_delay_seconds,
            development=development,
            first_key=candidate.kid == first_key,
            now=now,
        )
        for candidate in candidates
    }
    allowed = [entry for entry in eligibility.values() if entry.allows(now)]
    signing = max(allowed, key=lambda entry: entry.rank).kid if allowed else None
    return Decision(signing=signing, eligibility=eligibility)


def _first_key(candidates: Sequence[Candidate], records: KeyRecords) -> str | None:
    """The newest candidate, when no key of this deployment has ever signed."""
    if records.signing or not candidates:
        return None
    return max(candidates, key=lambda candidate: (candidate.not_before, candidate.kid)).kid


def _eligibility(
    candidate: Candidate,
    records: KeyRecords,
    *,
    delay: int,
    development: bool,
    first_key: bool,
    now: int,
) -> Eligibility:
    kid = candidate.kid
    emergency = records.emergency if records.emergency and records.emergency.kid == kid else None
    grounds: list[tuple[int, Grounds]] = []
    if development:
        grounds.append((candidate.not_before, Grounds.DEVELOPMENT))
    if emergency is not None:
        grounds.append((emergency.activated_at, Grounds.EMERGENCY))
    signed = records.signing.get(kid)
    if signed is not None:
        grounds.append((signed.first_signed_at, Grounds.SIGNED_BEFORE))
    observation = records.observations.get(kid)
    if observation is not None:
        grounds.append((observation.observed_at + delay, Grounds.OBSERVED))
    if first_key:
        grounds.append((now, Grounds.FIRST_KEY))
    if not grounds:
        return Eligibility(kid, None, Grounds.NOT_OBSERVED)
    since, why = min(grounds)
    ranked_at = emergency.activated_at if emergency is not None else since
    if development and emergency is None:
        ranked_at = candidate.not_before  # no delays: the newest certificate signs
    urgent = 1 if emergency is not None else 0
    return Eligibility(kid, since, why, rank=(ranked_at, urgent, candidate.not_before, kid))
