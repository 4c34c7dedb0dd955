"""Where each key stands in its lifecycle, and what needs an operator: `tokenidp keys status`.

One report from four sources: the keyring the configuration gives (roles, validity), the
database's key records (first observed at `JwksUri`, first and last signature, revoked),
the heartbeats of the live instances (which key each signs with and publishes), and, unless
offline, one fetch of `JwksUri` as a validator would make it (which also records a first
observation, like the publisher's). Pure assembly: the command only prints it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from app.config import Settings
from app.keys.expiry import EXPIRY_WARNING_DAYS, days_left, expires_soon
from app.keys.instances import Instance
from app.keys.keyring import Keyring, KeyringKey, KeyRole
from app.keys.observe import PublicKeys
from app.keys.records import KeyRecords, Observation


def longest_token_lifetime(settings: Settings) -> int:
    """The longest a token signed now stays valid: what a retired key must outlive. Access
    and ID tokens share `AccessTokenLifetime`; refresh tokens are opaque, never signed."""
    return settings.token.access_token_lifetime_seconds


def removal_margin(settings: Settings) -> int:
    """After its last signature a key stays published this long: every token it signed has
    expired, and every validator cache has had two chances to drop it."""
    return longest_token_lifetime(settings) + 2 * settings.token.jwks_cache_max_age_seconds


@dataclass(frozen=True)
class KeyStatus:
    """One published key, with the times that matter for it (epoch seconds or None)."""

    key: KeyringKey
    days_left: int
    observed_at: int | None
    # When it may sign (or could, once configured to): None until observed at JwksUri.
    can_sign_from: int | None
    first_signed_at: int | None
    last_signed_at: int | None
    removable_at: int | None  # a retired key: last signature + removal margin
    instances_publishing: int
    at_jwks_uri: bool | None  # None: not fetched (offline) or the fetch failed


@dataclass(frozen=True)
class KeysReport:
    environment: str
    jwks_uri: str
    now: int
    keys: tuple[KeyStatus, ...]
    revoked: tuple[tuple[str, str], ...]  # kid, how
    instances: tuple[Instance, ...]
    stale_instances: tuple[Instance, ...]  # live, but on another keyring than this one
    public: PublicKeys | None
    problems: tuple[str, ...]  # each a reason for exit status 1
    notices: tuple[str, ...] = ()
    signing_expires_soon: bool = False


def build_report(
    settings: Settings,
    keyring: Keyring,
    records: KeyRecords,
    instances: list[Instance],
    public: PublicKeys | None,
    *,
    now: dt.datetime,
) -> KeysReport:
    epoch = int(now.timestamp())
    margin = removal_margin(settings)
    statuses = []
    for key in keyring.keys:
        observation = records.observations.get(key.kid)
        signing = records.signing.get(key.kid)
        eligibility = keyring.eligibility.get(key.kid)
        last = signing.last_signed_at if signing else None
        statuses.append(
            KeyStatus(
                key=key,
                days_left=days_left(key, now=now),
                observed_at=observation.observed_at if observation else None,
                can_sign_from=(
                    eligibility.since
                    if eligibility
                    else _eligible_once_configured(settings, observation)
                ),
                first_signed_at=signing.first_signed_at if signing else None,
                last_signed_at=last,
                removable_at=(
                    (last + margin if last is not None else epoch)
                    if key.role == KeyRole.RETIRED
                    else None
                ),
                instances_publishing=sum(key.kid in i.published_kids for i in instances),
                at_jwks_uri=(
                    None if public is None or public.error is not None else public.holds(key.kid)
                ),
            )
        )
    stale = tuple(instance for instance in instances if not _runs(instance, keyring))
    return KeysReport(
        environment=settings.environment,
        jwks_uri=settings.token.jwks_uri,
        now=epoch,
        keys=tuple(statuses),
        revoked=tuple(sorted(keyring.revoked.items())),
        instances=tuple(instances),
        stale_instances=stale,
        public=public,
        problems=tuple(_problems(keyring, public, stale, now=now)),
        notices=keyring.notices,
        signing_expires_soon=keyring.signing is not None and expires_soon(keyring.signing, now=now),
    )


def _eligible_once_configured(settings: Settings, observation: Observation | None) -> int | None:
    """For a key the configuration does not let sign yet: when it could, if it did."""
    if observation is None:
        return None
    return observation.observed_at + settings.token.key_activation_delay_seconds


def _runs(instance: Instance, keyring: Keyring) -> bool:
    signing = keyring.signing.kid if keyring.signing is not None else None
    return instance.signing_kid == signing and set(instance.published_kids) == set(
        keyring.published_kids
    )


def _problems(
    keyring: Keyring, public: PublicKeys | None, stale: tuple[Instance, ...], *, now: dt.datetime
) -> list[str]:
    problems = []
    signing = keyring.signing
    if signing is None:
        problems.append(f"no key may sign: {keyring.unable_to_sign or 'none configured'}")
    elif expires_soon(signing, now=now):
        problems.append(
            f"the signing certificate {signing.kid} expires in {days_left(signing, now=now)} "
            f"days (less than {EXPIRY_WARNING_DAYS}): rotate it (README: Rotating keys)"
        )
    if public is not None:
        if public.error is not None:
            problems.append(f"could not read {public.url}: {public.error}")
        elif signing is not None and not public.holds(signing.kid):
            problems.append(
                f"the signing key {signing.kid} is missing at {public.url}: validators that "
                "fetch it refuse new tokens; run the publisher"
            )
    for instance in stale:
        problems.append(
            f"instance {instance.name} is on another keyring (signing "
            f"{instance.signing_kid or 'nothing'}, publishing "
            f"{', '.join(instance.published_kids) or 'nothing'}): it switches within "
            "TokenOptions:KeyringRefreshInterval, or restart it"
        )
    return problems
