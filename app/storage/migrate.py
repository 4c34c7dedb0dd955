"""Where the database stands against the code's migrations, and bringing it up to date.

`tokenidp db upgrade` and `db status` use these; Development upgrades on start, and
Production refuses to start on a database that is behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from app.storage.unit_of_work import as_storage_unavailable

MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass(frozen=True)
class MigrationStatus:
    """The database's revision, the code's head, and the migrations between them."""

    current: str | None
    head: str
    pending: tuple[str, ...]

    @property
    def is_current(self) -> bool:
        return not self.pending


def migration_status(engine: Engine) -> MigrationStatus:
    scripts = ScriptDirectory.from_config(_config())
    head = scripts.get_current_head()
    with as_storage_unavailable(), engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    pending = [
        f"{script.revision} {(script.doc or '').splitlines()[0].strip()}"
        for script in scripts.iterate_revisions(head, current)
    ]
    return MigrationStatus(current, head, tuple(reversed(pending)))


def upgrade(engine: Engine, revision: str = "head") -> MigrationStatus:
    """Apply the pending migrations, each in a transaction; returns the status after."""
    with as_storage_unavailable(), engine.begin() as connection:
        command.upgrade(_config(connection), revision)
    return migration_status(engine)


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config
