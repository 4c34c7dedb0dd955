"""The keyring a running instance uses, re-evaluated every `KeyringRefreshInterval`.

Start-up decides strictly: a configured key that may not sign refuses start with one line
(app/keys/keyring.py). Afterwards each worker re-reads the store (only when a file in it
changed) and the database's key records on a short interval, so a renewed certificate is
published at once and signs when its delay has passed, and a key revoked through the CLI
stops signing and leaves the JWKS, all without a restart. What a request reads is one
immutable `KeyState`, swapped whole: a token is signed, and a JWKS served, from one
keyring, never from half of two.

Each refresh also writes the worker's heartbeat (app/keys/instances.py), when its signing
key signs (the first-key rule and safe-to-remove times), and, when `JwksUri` is the IdP's
own address, the first observation of every key all live instances publish.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from app.config import Settings
from app.documents import JWKS_PATH, Documents, render_documents
from app.errors import ConfigError
from app.keys.instances import (
    Instance,
    live_instances,
    new_instance_id,
    remove_instance,
    write_heartbeat,
)
from app.keys.keyring import (
    CertificateNotFoundError,
    Keyring,
    build_keyring,
    development_entry,
    revocations,
)
from app.keys.locate import explain_missing_certificate
from app.keys.records import (
    NO_RECORDS,
    KeyRecords,
    read_key_records,
    record_activation,
    record_observations,
    record_signing,
    records_document,
    records_from_document,
)
from app.keys.store import StoreEntry, StoreSnapshot, read_store, store_signature
from app.ops import metrics
from app.storage import Storage, StorageUnavailableError, UnitOfWork
from app.tokens.issuer import AccessTokenIssuer
from tokenidp_validator import SigningKey, parse_jwks

log = logging.getLogger("tokenidp")
SAVED_RECORDS_FILE = "key-records.json"


@dataclass(frozen=True, slots=True)
class KeyState:
    """Everything a request needs from one keyring, built once per change."""

    keyring: Keyring
    documents: Documents
    issuer: AccessTokenIssuer | None  # None while no key may sign
    verification_keys: Mapping[str, SigningKey]  # the published JWKS, parsed: own tokens


def key_state(settings: Settings, keyring: Keyring) -> KeyState:
    documents = render_documents(settings, keyring)
    issuer = AccessTokenIssuer(settings.token, keyring.signer) if keyring.signer else None
    verification_keys = parse_jwks(
        documents.jwks.body, allow_development_keys=settings.is_development
    ).keys
    return KeyState(keyring, documents, issuer, verification_keys)


def serves_own_jwks(settings: Settings) -> bool:
    """Whether `JwksUri` is this IdP's own JWKS: serving a key is then observing it."""
    return settings.token.jwks_uri == f"{settings.token.issuer}{JWKS_PATH}"


class LiveKeys:
    """The current `KeyState` (None while the key records cannot be read), kept up to date."""

    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        *,
        clock: Callable[[], float],
        snapshot: StoreSnapshot,
        signature: object,
        development: StoreEntry | None,
        state: KeyState,
        saved: SavedRecords,
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.clock = clock
        self.state = state
        self.saved = saved
        self.records: KeyRecords = NO_RECORDS  # the latest read, for the key metrics
        self.interval_seconds = settings.token.keyring_refresh_interval_seconds
        self._snapshot = snapshot
        self._signature = signature
        self._development = development
        self._refreshing = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._reported: str | None = None
        self.instance_id = new_instance_id()
        self.started_at = int(clock())

    @classmethod
    def start(cls, settings: Settings, storage: Storage, *, clock: Callable[[], float]) -> LiveKeys:
        """Decide strictly at start-up; `ConfigError` when the IdP must not start.

        When the database cannot be read, the last copy of its key records saved in the
        instance folder stands in (a key revoked there stays unpublished through a restart
        during an outage), and nothing is refused for want of records: no token is issued
        until the database answers anyway, and the first refresh then decides.
        """
        now = int(clock())
        moment = dt.datetime.fromtimestamp(now, dt.UTC)
        options = settings.token
        signature = store_signature(options.store_folder)
        snapshot = read_store(options.store_folder, password=options.certificate_password)
        development = development_entry(settings, now=moment)
        saved = SavedRecords(settings.instance_dir / SAVED_RECORDS_FILE)
        try:
            records, from_database = read_records(storage), True
            saved.save(records)
        except StorageUnavailableError as error:
            records, from_database = saved.load() or NO_RECORDS, False
            log.warning(
                "key records not read (%s): using %s until the database answers",
                error,
                f"the copy saved in {saved.path}"
                if saved.loaded
                else "none saved, so only TokenOptions:RevokedCertificateThumbprints revokes",
            )
        try:
            keyring = build_keyring(
                settings,
                snapshot,
                now=moment,
                records=records,
                development_entry=development,
                strict=from_database,
            )
        except CertificateNotFoundError as error:
            raise explain_missing_certificate(error, options) from None
        live = cls(
            settings,
            storage,
            clock=clock,
            snapshot=snapshot,
            signature=signature,
            development=development,
            state=key_state(settings, keyring),
            saved=saved,
        )
        live.records = records
        if from_database:
            live._record_start(keyring, now=now)
        return live

    @property
    def keyring(self) -> Keyring:
        return self.state.keyring

    def why_not_signing(self) -> str | None:
        """None while a key signs; otherwise why not, in one line."""
        state = self.state
        return state.keyring.unable_to_sign if state.issuer is None else None

    def refresh(self) -> bool:
        """Re-evaluate the keyring now; True when it changed. Never raises for a store or
        database problem: the current keyring stays (revocations aside) and it is logged."""
        with self._refreshing:
            now = int(self.clock())
            try:
                records = read_records(self.storage)
            except StorageUnavailableError as error:
                self._report_problem(f"keyring not re-evaluated: {error}")
                return False
            self.saved.save(records)
            self.records = records
            previous = self.state
            keyring = self._evaluate(records, now=now, previous=previous)
            changed = not keyring.same_keys_as(previous.keyring)
            if changed:
                self.state = key_state(self.settings, keyring)
                _log_change(previous.keyring, keyring)
            self._report_keyring()  # a cheap no-op when unchanged
            self._heartbeat(keyring, records, now=now, previous=previous)
            return changed

    def start_refreshing(self) -> None:
        """A daemon thread that refreshes every interval (once per worker, after the fork)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="keyring-refresh", daemon=True)
        self._thread.start()

    def after_fork(self) -> None:
        """In a new worker: its own identity in the heartbeat table, and its own thread."""
        self.instance_id = new_instance_id()
        self.started_at = int(self.clock())
        self._thread = None
        self._refreshing = threading.Lock()
        self._report_keyring()
        self.start_refreshing()

    def _report_keyring(self) -> None:
        """`tokenidp_keyring_info` for this worker (never the master: it serves nothing)."""
        state = self.state
        signing = state.keyring.signing
        metrics.keyring_in_use(signing.kid if signing else None, state.documents.jwks.sha256_hex)

    def stop(self) -> None:
        """Stop refreshing and remove this worker's heartbeat, so nothing waits for it."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        try:
            with self.storage.transaction() as work:
                remove_instance(work, self.instance_id)
        except StorageUnavailableError as error:
            log.warning(
                "instance %s not removed from the heartbeat table: %s", self.instance_id, error
            )

    def _run(self) -> None:
        while True:
            try:
                self.refresh()
            except Exception:  # a bug must not stop the refreshes of a running worker
                log.exception("keyring refresh failed")
            if self._stop.wait(self.interval_seconds):
                return

    def _evaluate(self, records: KeyRecords, *, now: int, previous: KeyState) -> Keyring:
        options = self.settings.token
        signature = store_signature(options.store_folder)
        if signature != self._signature:
            self._snapshot = read_store(options.store_folder, password=options.certificate_password)
            self._signature = signature
        try:
            return build_keyring(
                self.settings,
                self._snapshot,
                now=dt.datetime.fromtimestamp(now, dt.UTC),
                records=records,
                development_entry=self._development,
                strict=False,
                signer=previous.keyring.signer,
            )
        except ConfigError as error:
            self._report_problem(f"keyring kept as it was: {error}")
            return previous.keyring.without(revocations(self.settings, records, []))

    def _heartbeat(
        self, keyring: Keyring, records: KeyRecords, *, now: int, previous: KeyState
    ) -> None:
        """This worker's heartbeat, its signing key's last signature, and observations."""
        signing = keyring.signing.kid if keyring.signing else None
        was_signing = previous.keyring.signing.kid if previous.keyring.signing else None
        state = self.state
        try:
            with self.storage.transaction() as work:
                write_heartbeat(work, self._instance(keyring, state, now=now))
                if signing is not None:
                    record_signing(work, signing, now=now)
                    if signing != was_signing:
                        record_activation(work, kid=signing, now=now, source="refresh")
                if serves_own_jwks(self.settings):
                    self._observe_own_jwks(work, records, now=now)
        except StorageUnavailableError as error:
            self._report_problem(f"heartbeat not written: {error}")
            return
        self._report_problem(None)

    def _observe_own_jwks(self, work: UnitOfWork, records: KeyRecords, *, now: int) -> None:
        """Keys every live instance publishes are at `JwksUri`, which is the IdP itself."""
        live = live_instances(
            work.connection, now=now, refresh_interval_seconds=self.interval_seconds
        )
        if not live:
            return
        everywhere = set(live[0].published_kids).intersection(*(i.published_kids for i in live[1:]))
        unobserved = sorted(everywhere - set(records.observations))
        observed = record_observations(
            work, unobserved, now=now, observed_by="idp", jwks_uri=self.settings.token.jwks_uri
        )
        for kid in observed:
            log.info(
                "key %s observed at %s (this IdP's own JWKS)", kid, self.settings.token.jwks_uri
            )

    def _instance(self, keyring: Keyring, state: KeyState, *, now: int) -> Instance:
        return Instance(
            instance_id=self.instance_id,
            host=socket.gethostname()[:200],
            pid=os.getpid(),
            started_at=self.started_at,
            heartbeat_at=now,
            signing_kid=keyring.signing.kid if keyring.signing else None,
            jwks_sha256=state.documents.jwks.sha256_hex,
            published_kids=keyring.published_kids,
        )

    def _record_start(self, keyring: Keyring, *, now: int) -> None:
        """`key.activated` and the signing record for the key start-up chose."""
        if keyring.signing is None:
            log.error("no key may sign: %s", keyring.unable_to_sign)
            return
        try:
            with self.storage.transaction() as work:
                record_signing(work, keyring.signing.kid, now=now)
                record_activation(work, kid=keyring.signing.kid, now=now, source="start-up")
        except StorageUnavailableError as error:
            log.warning("key activation of %s not recorded: %s", keyring.signing.kid, error)

    def _report_problem(self, problem: str | None) -> None:
        """Log a problem once, and once more when it is over."""
        if problem == self._reported:
            return
        if problem is None:
            log.info("keyring refresh working again")
        else:
            log.error(problem)
        self._reported = problem


def read_records(storage: Storage) -> KeyRecords:
    with storage.reading() as connection:
        return read_key_records(connection)


class SavedRecords:
    """The last key records read from the database, kept in the instance folder.

    Written (atomically) whenever they change; read only when start-up cannot reach the
    database. A folder that cannot be written is logged once, never fatal.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.loaded = False
        self._last: KeyRecords | None = None
        self._warned = False

    def save(self, records: KeyRecords) -> None:
        if records == self._last:
            return
        body = json.dumps(records_document(records), sort_keys=True).encode()
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_bytes(body)
            temporary.replace(self.path)
        except OSError as error:
            if not self._warned:
                log.warning("cannot save the key records to %s: %s", self.path, error.strerror)
                self._warned = True
            return
        self._last = records

    def load(self) -> KeyRecords | None:
        try:
            records = records_from_document(json.loads(self.path.read_bytes()))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as error:
            log.warning("ignoring the saved key records in %s: %s", self.path, error)
            return None
        self.loaded = True
        return records


def _log_change(previous: Keyring | None, keyring: Keyring) -> None:
    before = previous.signing.kid if previous and previous.signing else None
    after = keyring.signing.kid if keyring.signing else None
    published = ", ".join(keyring.published_kids) or "none"
    if after is None:
        log.error("no key may sign: %s; /connect/token answers 503", keyring.unable_to_sign)
    elif before != after:
        log.warning("signing key changed: %s (was %s); published: %s", after, before, published)
    if previous is None or previous.published_kids != keyring.published_kids:
        log.info("published keys: %s", published)
