"""Statements that insert many rows at once, built once per table and dialect.

Rows are tuples in `insert_columns(table)` order. SQLite takes them through the driver's
`executemany` (a C loop); PostgreSQL takes the whole batch as one JSON parameter of one
statement whose text never changes (psycopg's executemany would send a statement per row,
and a statement whose text grows with the batch is parsed again every time).
"""

from __future__ import annotations

import functools
import json
from typing import Any

from sqlalchemy import Column, Dialect, String, Table, insert


def insert_columns(table: Table) -> tuple[str, ...]:
    """The columns a row gives values for: all but the generated id, in order."""
    return tuple(column.name for column in table.columns if not column.primary_key)


@functools.cache
def compiled_insert(table: Table, dialect: Dialect) -> str:
    """`INSERT INTO table (insert_columns) VALUES (?, …)`, for executemany (SQLite)."""
    columns = insert_columns(table)
    compiled = insert(table).values(dict.fromkeys(columns)).compile(dialect=dialect)
    if not compiled.positional or tuple(compiled.positiontup) != columns:
        raise RuntimeError(f"{table.name}: compiled parameters are not in column order")
    return str(compiled)


@functools.cache
def json_rows_insert(table: Table, dialect: Dialect) -> str:
    """`INSERT INTO table (columns) SELECT (r->>0)::type, … FROM json_array_elements(%s::json)`
    (PostgreSQL): one parameter whatever the batch size, each row a JSON array (cheaper to
    encode than an object), each value cast to its column's type."""
    quote = dialect.identifier_preparer.quote
    columns = [table.c[name] for name in insert_columns(table)]
    names = ", ".join(quote(column.name) for column in columns)
    values = ", ".join(
        f"(r->>{position})::{_cast_type(column, dialect)}"
        for position, column in enumerate(columns)
    )
    # Built from our own table definition and quoted identifiers, never from input. Rows
    # keep their order (ids are given in it).
    return (
        f"INSERT INTO {quote(table.name)} ({names}) "  # noqa: S608
        f"SELECT {values} FROM json_array_elements(%s::json) WITH ORDINALITY AS e(r, n) "
        "ORDER BY n"
    )


def _cast_type(column: Column[Any], dialect: Dialect) -> str:
    """Strings as `text`: an explicit cast to varchar(n) would cut a long value silently, where
    the column's own length check refuses it, as every other insert does."""
    if isinstance(column.type, String):
        return "text"
    return column.type.compile(dialect=dialect)


def json_rows(rows: list[tuple[Any, ...]]) -> str:
    """The rows as the JSON array of arrays that `json_rows_insert` reads."""
    return json.dumps(rows, separators=(",", ":"))
