"""Every client the IdP knows, from the configuration (`Clients`) or the database (`tokenidp
clients add`), behind one registry.

Configuration clients are fixed for the life of the process. Database clients are read
into memory at start-up and again by the first request that finds the copy older than
`refresh_seconds` (5 s): a token request costs a dictionary lookup, not a query. Under
the event loop the read runs in the storage reader thread (the loop keeps serving), and
requests that arrive meanwhile wait for that one read. So a client disabled, or a secret
rotated out, with the CLI stops working in every process within `refresh_seconds` of
its commit, plus the time one read takes.

When the database cannot be read, configuration clients are unaffected; database clients
are served from the last good read for up to `max_stale_seconds` (5 minutes), then refused
until a read succeeds. A failed read is retried after `refresh_seconds`, not per request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from types import MappingProxyType
from typing import Literal
from urllib.parse import urlsplit

from sqlalchemy import Connection, or_, select

from app.client_secrets import ClientSecret
from app.config import ClientConfig, Settings
from app.config.values import is_loopback_host, shown
from app.errors import ConfigError
from app.storage import Storage, StorageUnavailableError
from app.storage.schema import client_secrets as client_secrets_table
from app.storage.schema import clients as clients_table

log = logging.getLogger("tokenidp")
Source = Literal["configuration", "database"]
CONFIGURATION: Source = "configuration"
DATABASE: Source = "database"
CLIENT_REFRESH_SECONDS = 5.0
CLIENT_CACHE_MAX_STALE_SECONDS = 300.0
# Secrets rotated out within this long are still read, so a client presenting one is told
# its secret expired rather than that it is wrong (it knows the secret either way).
EXPIRED_SECRETS_KEPT_SECONDS = 86400
MAX_CLIENT_ID_LENGTH = 200  # clients.client_id


@dataclass(frozen=True)
class Client:
    """A registered client: what it may ask for, and its secrets as SHA-256 digests.

    A public client has no secret: it cannot use client_credentials, and authenticates
    only where a grant allows it (authorization code with PKCE).
    """

    client_id: str
    secrets: tuple[ClientSecret, ...] = field(repr=False)
    allowed_grant_types: tuple[str, ...]
    allowed_scopes: tuple[str, ...]
    redirect_uris: tuple[str, ...] = ()
    is_public: bool = False
    post_logout_redirect_uris: tuple[str, ...] = ()
    source: Source = CONFIGURATION
    disabled_at: int | None = None

    @property
    def is_disabled(self) -> bool:
        return self.disabled_at is not None

    def active_secrets(self, now: int) -> tuple[ClientSecret, ...]:
        return tuple(secret for secret in self.secrets if secret.is_valid_at(now))

    @classmethod
    def from_config(cls, config: ClientConfig) -> Client:
        return cls(
            client_id=config.client_id,
            secrets=tuple(ClientSecret(digest) for digest in config.secret_sha256_digests),
            allowed_grant_types=config.allowed_grant_types,
            allowed_scopes=config.allowed_scopes,
            redirect_uris=config.redirect_uris,
            is_public=config.is_public,
            post_logout_redirect_uris=config.post_logout_redirect_uris,
        )


@dataclass(frozen=True)
class _DatabaseClients:
    """One read of the database's clients: `read_at` is when the read began (None: never),
    `attempted_at` when the last read, good or failed, began."""

    clients: Mapping[str, Client] = field(default_factory=lambda: MappingProxyType({}))
    read_at: float | None = None
    attempted_at: float | None = None


class ClientRegistry:
    """Finds clients by id: configuration first, then the database's, from memory."""

    def __init__(
        self,
        configured: Iterable[Client],
        *,
        storage: Storage,
        clock: Callable[[], float],
        refresh_seconds: float = CLIENT_REFRESH_SECONDS,
        max_stale_seconds: float = CLIENT_CACHE_MAX_STALE_SECONDS,
    ) -> None:
        self.configured: Mapping[str, Client] = MappingProxyType(
            {client.client_id: client for client in configured}
        )
        self.storage = storage
        self.clock = clock
        self.refresh_seconds = refresh_seconds
        self.max_stale_seconds = max_stale_seconds
        self._database = _DatabaseClients()  # replaced whole, so threads see one read
        self._refreshing: asyncio.Task[Mapping[str, Client]] | None = None
        self._shadowed: frozenset[str] = frozenset()

    async def find(self, client_id: str) -> Client | None:
        """The client with this id, or None; disabled clients too (the caller refuses them)."""
        client = self.configured.get(client_id)
        if client is not None:
            return client
        return (await self.database_clients()).get(client_id)

    async def database_clients(self) -> Mapping[str, Client]:
        """The database's clients as of at most `refresh_seconds` ago (while it answers)."""
        now = self.clock()
        database = self._database
        if _within(now, database.read_at, self.refresh_seconds):
            return database.clients
        if _within(now, database.attempted_at, self.refresh_seconds):
            return self._last_good(database, now)  # a read failed moments ago
        return await self._refresh(now)

    def accept(self, read: Mapping[str, Client], *, read_at: float) -> Mapping[str, Client]:
        """Serve this read of the database's clients, begun at `read_at`, from now on."""
        accepted = self._accepted(read)
        self._database = _DatabaseClients(accepted, read_at, read_at)
        return accepted

    async def _refresh(self, now: float) -> Mapping[str, Client]:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # WSGI or a command: no loop to keep serving, so read inline
            try:
                read = read_now(self.storage, now=now)
            except StorageUnavailableError as error:
                return self._failed(now, error)
            return self.accept(read, read_at=now)
        task = self._refreshing
        if task is None or task.done() or task.get_loop() is not loop:
            task = self._refreshing = loop.create_task(self._read_in_thread(now))
        return await asyncio.shield(task)  # one caller giving up does not cancel the read

    async def _read_in_thread(self, now: float) -> Mapping[str, Client]:
        try:
            read = await self.storage.read(partial(read_database_clients, now=int(now)))
        except StorageUnavailableError as error:
            return self._failed(now, error)
        return self.accept(read, read_at=now)

    def _failed(self, now: float, error: StorageUnavailableError) -> Mapping[str, Client]:
        database = self._database
        self._database = _DatabaseClients(database.clients, database.read_at, now)
        if not _within(now, database.read_at, self.max_stale_seconds):
            log.error("database clients not read: %s; they are refused until it answers", error)
        else:
            log.error(
                "database clients not refreshed: %s; using the list read %.0f s ago "
                "(kept for up to %.0f s)",
                error,
                now - database.read_at,
                self.max_stale_seconds,
            )
        return self._last_good(self._database, now)

    def _last_good(self, database: _DatabaseClients, now: float) -> Mapping[str, Client]:
        if _within(now, database.read_at, self.max_stale_seconds):
            return database.clients
        return MappingProxyType({})

    def _accepted(self, read: Mapping[str, Client]) -> Mapping[str, Client]:
        """The database's clients but those whose id is configured: start-up refuses those,
        so one appears only when written to the database behind the CLI's back."""
        shadowed = frozenset(read).intersection(self.configured)
        if shadowed and shadowed != self._shadowed:
            log.error(
                "clients %s are in the configuration and in the database: the configuration's "
                "are used; remove one (TokenIDP refuses to start this way)",
                ", ".join(sorted(shadowed)),
            )
        self._shadowed = shadowed
        return MappingProxyType(
            {client_id: client for client_id, client in read.items() if client_id not in shadowed}
        )


def build_client_registry(
    settings: Settings, storage: Storage, *, clock: Callable[[], float]
) -> ClientRegistry:
    """The configuration's clients and the database's; a client id in both refuses start-up.

    A database that cannot be reached is a warning: configuration clients are served, and
    database clients once a read succeeds.
    """
    registry = ClientRegistry(
        [Client.from_config(config) for config in settings.clients], storage=storage, clock=clock
    )
    now = clock()
    try:
        read = read_now(storage, now=now)
    except StorageUnavailableError as error:
        log.warning("database clients not read: %s; they are served once it answers", error)
        return registry
    for index, config in enumerate(settings.clients):
        if config.client_id in read:
            raise ConfigError(
                f"Clients:{index}:ClientId",
                f"{shown(config.client_id)} is also registered in the database (tokenidp "
                "clients list): a client id must be in one place; remove it from Clients or "
                "from the database",
            )
    registry.accept(read, read_at=now)
    return registry


def read_now(storage: Storage, *, now: float) -> dict[str, Client]:
    """The database's clients, read on this thread (start-up, WSGI, commands)."""
    with storage.reading() as connection:
        return read_database_clients(connection, now=int(now))


def read_database_clients(connection: Connection, *, now: int) -> dict[str, Client]:
    """Every client in the database with its usable and recently expired secrets."""
    secrets: dict[str, list[ClientSecret]] = {}
    recent = now - EXPIRED_SECRETS_KEPT_SECONDS
    for client_id, digest, expires_at in connection.execute(
        select(
            client_secrets_table.c.client_id,
            client_secrets_table.c.sha256_digest,
            client_secrets_table.c.expires_at,
        )
        .where(
            or_(
                client_secrets_table.c.expires_at.is_(None),
                client_secrets_table.c.expires_at > recent,
            )
        )
        .order_by(client_secrets_table.c.id)
    ):
        secrets.setdefault(client_id, []).append(ClientSecret(bytes(digest), expires_at))
    found = {}
    for row in connection.execute(select(clients_table)):
        found[row.client_id] = Client(
            client_id=row.client_id,
            # A public client has no secret, even one written behind the CLI's back.
            secrets=() if row.is_public else tuple(secrets.get(row.client_id, ())),
            allowed_grant_types=tuple(row.grant_types.split()),
            allowed_scopes=tuple(row.scopes.split()),
            redirect_uris=tuple(row.redirect_uris.splitlines()),
            is_public=bool(row.is_public),
            post_logout_redirect_uris=tuple(row.post_logout_redirect_uris.splitlines()),
            source=DATABASE,
            disabled_at=row.disabled_at,
        )
    return found


def redirect_uri_problem(uri: str) -> str | None:
    """Why `uri` cannot be registered, or None: absolute https (http for loopback hosts),
    no fragment (RFC 6749 §3.1.2), no spaces or control characters (one is stored per line)."""
    if not uri or any(not char.isprintable() or char.isspace() for char in uri):
        return "has spaces or control characters"
    parts = urlsplit(uri)
    try:
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return "has an invalid port"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "is not an absolute https URL"
    if parts.fragment or uri.endswith("#"):
        return "has a fragment (RFC 6749 §3.1.2)"
    if parts.username is not None or parts.password is not None:
        return "carries a user name or password"
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        return "uses http: only loopback hosts may (RFC 8252 §7.3)"
    return None


def _within(now: float, since: float | None, seconds: float) -> bool:
    """`now` is less than `seconds` after `since` (and not before it: a clock set back)."""
    return since is not None and since <= now < since + seconds
