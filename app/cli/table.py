"""Fixed-width tables for the CLI that fit an 80-column terminal (the contract), or run wide.

A table that would be wider than 80 columns first moves its `detail` columns to indented
`name  value` lines under each row, then shortens its `shrink` columns with `…`. `--wide`
prints every value in full on one line per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

TERMINAL_WIDTH = 80
ELLIPSIS = "…"
GAP = "  "
MIN_SHRUNK_WIDTH = 12

Shrink = Literal["end", "path", "auto"]  # auto: "path" for absolute paths, else "end"


@dataclass(frozen=True)
class Column:
    """A table column; `shrink` says how its values may be cut: the tail, or a path's head."""

    header: str
    shrink: Shrink | None = None
    detail: bool = False  # on its own line under the row when the row is too wide


def render_table(columns: Sequence[Column], rows: Sequence[Sequence[object]], *, wide: bool) -> str:
    """One line per row if it fits (or `wide`); else detail lines and shortened values."""
    cells = [[_cell(value) for value in row] for row in rows]
    full = format_table([column.header for column in columns], cells)
    if wide or _fits(full):
        return full
    main = [index for index, column in enumerate(columns) if not column.detail]
    details = [index for index, column in enumerate(columns) if column.detail]
    headers = [columns[index].header for index in main]
    widths = _shrunk_widths(
        [columns[index] for index in main], [[row[index] for row in cells] for index in main]
    )
    label_width = max((len(columns[index].header) for index in details), default=0)
    lines = _table_lines(
        headers,
        [
            [
                shorten(row[index], width, columns[index].shrink)
                for index, width in zip(main, widths, strict=True)
            ]
            for row in cells
        ],
        widths,
    )
    out = lines[:2]
    for row, line in zip(cells, lines[2:], strict=True):
        out.append(line)
        for index in details:
            if row[index] in ("", "-"):
                continue
            label = f"  {columns[index].header.lower().ljust(label_width)}  "
            room = TERMINAL_WIDTH - len(label)
            out.append(label + shorten(row[index], room, columns[index].shrink or "end"))
    return "\n".join(out)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Every value in full, columns as wide as their widest value."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [
        max([len(header)] + [len(row[column]) for row in cells])
        for column, header in enumerate(headers)
    ]
    return "\n".join(_table_lines(list(headers), cells, widths))


def shorten(text: str, width: int, how: Shrink | None = "end") -> str:
    """`text` cut to `width` with `…`: a path keeps its end (the file name), text its start."""
    if how is None or len(text) <= width:
        return text
    if how == "auto":
        how = "path" if text.startswith("/") else "end"
    if width <= 1:
        return ELLIPSIS[:width]
    if how == "path":
        return ELLIPSIS + text[len(text) - width + 1 :]
    return text[: width - 1] + ELLIPSIS


def _cell(value: object) -> str:
    return "-" if value is None else str(value)


def _fits(text: str) -> bool:
    return all(len(line) <= TERMINAL_WIDTH for line in text.splitlines())


def _shrunk_widths(columns: Sequence[Column], values: Sequence[Sequence[str]]) -> list[int]:
    """Natural widths, then the widest shrinkable column loses a character until all fit."""
    widths = [
        max([len(column.header)] + [len(value) for value in column_values])
        for column, column_values in zip(columns, values, strict=True)
    ]
    floors = [max(len(column.header), MIN_SHRUNK_WIDTH) for column in columns]
    while sum(widths) + len(GAP) * (len(widths) - 1) > TERMINAL_WIDTH:
        candidates = [
            index
            for index, column in enumerate(columns)
            if column.shrink and widths[index] > floors[index]
        ]
        if not candidates:
            break
        widest = max(candidates, key=lambda index: widths[index])
        widths[widest] -= 1
    return widths


def _table_lines(
    headers: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[int]
) -> list[str]:
    def line(cells: Sequence[str]) -> str:
        return GAP.join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))

    return [
        line(headers).rstrip(),
        GAP.join("-" * width for width in widths),
        *(line(row).rstrip() for row in rows),
    ]
