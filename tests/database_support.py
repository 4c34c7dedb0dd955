"""Databases for tests: a SQLite file, and PostgreSQL when TOKENIDP_TEST_DATABASE_URL is set
(CI sets it). Each PostgreSQL test gets a schema of its own, so parallel workers never
collide; it is dropped afterwards."""

from __future__ import annotations

import os
import uuid
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text

POSTGRESQL_VARIABLE = "TOKENIDP_TEST_DATABASE_URL"
requires_postgresql = pytest.mark.skipif(
    not os.environ.get(POSTGRESQL_VARIABLE),
    reason=f"{POSTGRESQL_VARIABLE} is not set (.ci/run sets it)",
)
ENGINES = ["sqlite", pytest.param("postgresql", marks=requires_postgresql)]


class PostgresqlSchema:
    """A fresh schema in the test database, and a URL whose connections use it."""

    def __init__(self) -> None:
        base = os.environ[POSTGRESQL_VARIABLE]
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        self.schema = f"t_{worker}_{uuid.uuid4().hex[:12]}"
        self.admin = create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
        with self.admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{self.schema}"'))
        separator = "&" if "?" in base else "?"
        self.url = f"{base}{separator}options={quote(f'-csearch_path={self.schema}')}"

    def drop(self) -> None:
        with self.admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{self.schema}" CASCADE'))
        self.admin.dispose()


@pytest.fixture(params=ENGINES)
def database_url(request, tmp_path):
    """An empty database on each engine: SQLite, then PostgreSQL when available."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tokenidp.sqlite3'}"
        return
    schema = PostgresqlSchema()
    try:
        yield schema.url
    finally:
        schema.drop()


@pytest.fixture
def storage(database_url):
    """Storage on a migrated database of each engine (SQLite copied from a template)."""
    from idp_support import migrate_database

    from app.storage import Storage
    from app.storage.engine import create_storage_engine

    migrate_database(database_url)
    engine = create_storage_engine(database_url)
    yield Storage(engine)
    engine.dispose()
