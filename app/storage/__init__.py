"""State: SQLAlchemy Core tables on SQLite (embedded, the default) or PostgreSQL.

`engine` turns `TOKENIDP_DATABASE_URL` into an engine, `schema` holds the tables,
`migrations/` the Alembic history, `migrate` where a database stands, and `unit_of_work`
the transactions handlers and commands run in.
"""

from __future__ import annotations

import logging

from app.config import Settings
from app.errors import ConfigError
from app.storage.engine import SETTING, create_storage_engine, database_url
from app.storage.migrate import migration_status, upgrade
from app.storage.unit_of_work import Storage, StorageUnavailableError, UnitOfWork

__all__ = [
    "Storage",
    "StorageUnavailableError",
    "UnitOfWork",
    "open_current_storage",
    "open_storage",
    "prepare_database",
]
log = logging.getLogger("tokenidp")


def open_storage(settings: Settings) -> Storage:
    """The configured database (no connection is made yet)."""
    return Storage(
        create_storage_engine(database_url(settings.database_url, settings.instance_dir))
    )


def prepare_database(storage: Storage, settings: Settings) -> None:
    """Development brings the database up to date; elsewhere a database that is behind is
    refused with the command to run. One that cannot be reached is a warning: discovery,
    JWKS and health still answer, and /readyz says why the IdP is not ready."""
    try:
        status = migration_status(storage.engine)
        if status.is_current:
            return
        if settings.is_development:
            upgrade(storage.engine)
            log.info("database upgraded to revision %s", status.head)
            return
    except StorageUnavailableError as error:
        log.warning("%s; /readyz answers 503 until it is back", error)
        return
    raise ConfigError(
        SETTING,
        f"the database is at revision {status.current or 'none'} and this version needs "
        f"{status.head}: run `tokenidp db upgrade` (pending: {', '.join(status.pending)})",
    )


def open_current_storage(settings: Settings) -> Storage:
    """The database for a command: brought up to date in Development as start-up does; one
    that is behind elsewhere is a `ConfigError` with the command to run. Unreachable:
    `StorageUnavailableError`."""
    storage = open_storage(settings)
    status = migration_status(storage.engine)
    if status.is_current:
        return storage
    if settings.is_development:
        upgrade(storage.engine)
        return storage
    storage.engine.dispose()
    raise ConfigError(
        SETTING,
        f"the database is at revision {status.current or 'none'}, this version needs "
        f"{status.head}: run `tokenidp db upgrade`",
    )
