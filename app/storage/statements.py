"""Statements SQLAlchemy Core spells per dialect: insert-if-absent and upsert, on the primary
key, for SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def insert_if_absent(connection: Connection, table: Table, row: Mapping[str, Any]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING; True when the row was new."""
    statement = _insert(connection, table).values(**row).on_conflict_do_nothing()
    return connection.execute(statement).rowcount == 1


def upsert(connection: Connection, table: Table, row: Mapping[str, Any]) -> None:
    """INSERT, or UPDATE every other column of the row with the same primary key."""
    keys = [column.name for column in table.primary_key.columns]
    statement = _insert(connection, table).values(**row)
    updates = {name: value for name, value in row.items() if name not in keys}
    connection.execute(statement.on_conflict_do_update(index_elements=keys, set_=updates))


def _insert(connection: Connection, table: Table) -> Any:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)
