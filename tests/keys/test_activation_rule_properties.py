"""Property 1, for any history: no token is signed by a key validators cannot have.

A simulated deployment, driven by hypothesis: renewed certificates dropped into the store,
publisher runs (each an observation of the published keys at JwksUri), clock steps,
emergency activations, revocations and removals, in any order. After every step the IdP
re-evaluates its keyring with the real `build_keyring` and the records a database would
hold; an oracle that knows the history checks the key it signs with.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from idp_support import CertStore, new_key

from app.config import load_config
from app.errors import ConfigError
from app.keys.certificates import create_self_signed, parse_subject, sha1_thumbprint
from app.keys.keyring import KeyRole, build_keyring, revocations
from app.keys.records import (
    EmergencyActivation,
    KeyRecords,
    KeyRevocation,
    Observation,
    SigningPeriod,
)
from app.keys.store import StoreEntry, StoreSnapshot

DELAY = 600  # KeyActivationDelay; JwksCacheMaxAge is 300
START = int(dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC).timestamp())
POOL = 4
JWKS_URI = "https://keys.example.test/.well-known/jwks.json"


@pytest.fixture(scope="module")
def pool():
    """Four renewals of one subject, each made two hours before the simulation starts (a
    `notBefore` in the past must not count as publication)."""
    made = dt.datetime.fromtimestamp(START, dt.UTC) - dt.timedelta(hours=2)
    entries = []
    for index in range(POOL):
        key = new_key("ec")
        certificate = create_self_signed(
            key,
            subject=parse_subject("CN=signing"),
            not_before=made + dt.timedelta(minutes=index),
            not_after=made + dt.timedelta(days=365),
        )
        entries.append(StoreEntry(Path(f"/store/{index}.pfx"), certificate, key))
    return entries


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    folder = tmp_path_factory.mktemp("activation")
    store = CertStore(folder / "certstores")
    return store.settings(folder, CertificateSubjectName="signing", KeyActivationDelay=str(DELAY))


@dataclass
class Deployment:
    """The database's records, the store, the clock, and what the oracle knows happened."""

    entries: list[StoreEntry] = field(default_factory=list)
    now: int = START
    observations: dict[str, Observation] = field(default_factory=dict)
    revocations: dict[str, KeyRevocation] = field(default_factory=dict)
    signing: dict[str, SigningPeriod] = field(default_factory=dict)
    emergency: EmergencyActivation | None = None
    first_signer: str | None = None
    emergencies: set[str] = field(default_factory=set)
    development: bool = False  # no delay

    def records(self) -> KeyRecords:
        return KeyRecords(
            observations=MappingProxyType(dict(self.observations)),
            revocations=MappingProxyType(dict(self.revocations)),
            signing=MappingProxyType(dict(self.signing)),
            emergency=self.emergency,
        )

    def kids(self) -> set[str]:
        return {sha1_thumbprint(entry.certificate) for entry in self.entries}

    def may_sign(self, kid: str) -> bool:
        """The oracle: observed for the delay, the first key, or an emergency; once a key
        satisfied it and signed, it stays satisfied (it was published all along)."""
        observed = self.observations.get(kid)
        return (
            self.development
            or kid == self.first_signer
            or kid in self.emergencies
            or (observed is not None and observed.observed_at + DELAY <= self.now)
            or kid in self.signing
        )


def refresh(deployment: Deployment, settings, previous=None) -> object:
    """One re-evaluation, as a running instance does it (app/keys/live.py): an empty store
    keeps the keyring it had, less revoked keys; records the signature."""
    try:
        keyring = build_keyring(
            settings,
            StoreSnapshot(Path("/store"), tuple(deployment.entries)),
            now=dt.datetime.fromtimestamp(deployment.now, dt.UTC),
            records=deployment.records(),
            strict=False,
        )
        in_store = deployment.kids()
    except ConfigError:
        if previous is None:
            return None
        keyring = previous.without(revocations(settings, deployment.records(), []))
        in_store = {key.kid for key in previous.keys}  # still held in memory
    signing = keyring.signing
    published = {key.kid for key in keyring.keys}
    assert not published & set(deployment.revocations), "a revoked key is published"
    if signing is None:
        candidates = in_store - set(deployment.revocations)
        assert not any(deployment.may_sign(kid) for kid in candidates), (
            "a key that may sign is left idle"
        )
        return keyring
    kid = signing.kid
    assert kid in in_store, "signs with a key that is not in the store"
    assert kid not in deployment.revocations, "signs with a revoked key"
    if deployment.first_signer is None:
        assert not deployment.signing
        deployment.first_signer = kid
    assert deployment.may_sign(kid), f"{kid} signs before validators can have it"
    assert kid in published and signing.role is KeyRole.SIGNING
    period = deployment.signing.get(kid)
    first = period.first_signed_at if period else deployment.now
    deployment.signing[kid] = SigningPeriod(kid, first, deployment.now)
    return keyring


steps = st.lists(
    st.one_of(
        st.tuples(st.just("drop"), st.integers(0, POOL - 1)),
        st.tuples(st.just("publish"), st.just(0)),
        st.tuples(st.just("wait"), st.integers(1, 2 * DELAY)),
        st.tuples(st.just("emergency"), st.integers(0, POOL - 1)),
        st.tuples(st.just("revoke"), st.integers(0, POOL - 1)),
        st.tuples(st.just("remove"), st.integers(0, POOL - 1)),
    ),
    max_size=30,
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(history=steps)
def test_the_signing_key_always_satisfies_property_1(pool, production, history):
    deployment = Deployment()
    keyring = None
    for step, argument in history:
        entry = pool[argument % POOL]
        kid = sha1_thumbprint(entry.certificate)
        if step == "drop" and entry not in deployment.entries:
            deployment.entries.append(entry)
        elif step == "remove" and entry in deployment.entries:
            deployment.entries.remove(entry)
        elif step == "wait":
            deployment.now += argument
        elif step == "revoke":
            deployment.revocations.setdefault(
                kid, KeyRevocation(kid, deployment.now, "operator", "test")
            )
        elif step == "publish" and keyring is not None:
            for key in keyring.keys:  # what the IdP published is now at JwksUri
                deployment.observations.setdefault(
                    key.kid, Observation(key.kid, deployment.now, "publisher", JWKS_URI)
                )
        elif step == "emergency" and entry in deployment.entries:
            if kid not in deployment.revocations:
                deployment.emergency = EmergencyActivation(kid, deployment.now, "operator", "test")
                deployment.emergencies.add(kid)
                keyring = refresh(deployment, production, keyring)
                assert keyring.signing is not None and keyring.signing.kid == kid, (
                    "an emergency activation signs at once"
                )
                continue
        keyring = refresh(deployment, production, keyring)


def test_a_renewal_never_published_does_not_sign_though_its_not_before_is_old(pool, production):
    """The bug this issue names: the timer counted from `notBefore`."""
    deployment = Deployment(entries=[pool[0]])
    assert refresh(deployment, production).signing.kid == sha1_thumbprint(pool[0].certificate)
    deployment.entries.append(pool[1])
    deployment.now += 10 * DELAY
    keyring = refresh(deployment, production)
    renewal = sha1_thumbprint(pool[1].certificate)
    assert keyring.signing.kid == sha1_thumbprint(pool[0].certificate)
    assert keyring.find(renewal).role is KeyRole.NEXT
    assert keyring.eligibility[renewal].since is None


def test_a_published_renewal_signs_when_its_delay_has_passed(pool, production):
    deployment = Deployment(entries=[pool[0]])
    refresh(deployment, production)
    deployment.entries.append(pool[1])
    renewal = sha1_thumbprint(pool[1].certificate)
    deployment.observations[renewal] = Observation(renewal, deployment.now, "publisher", JWKS_URI)
    deployment.now += DELAY - 1
    assert refresh(deployment, production).signing.kid != renewal
    deployment.now += 1
    assert refresh(deployment, production).signing.kid == renewal


def test_development_has_no_delay(pool, tmp_path):
    store = CertStore(tmp_path / "certstores")
    environ = {
        **store.environ(CertificateSubjectName="signing"),
        "TOKENIDP_ENVIRONMENT": "Development",
    }
    development = load_config(environ, config_dir=tmp_path)
    deployment = Deployment(entries=[pool[0]], development=True)
    refresh(deployment, development)
    deployment.entries.append(pool[3])
    assert refresh(deployment, development).signing.kid == sha1_thumbprint(pool[3].certificate)
