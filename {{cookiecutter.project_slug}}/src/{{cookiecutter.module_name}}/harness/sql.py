"""The read side's SQL: validate, cache analysis and the report let SQLite compute counts and
groups over the results db, and pull into Python only what a plot or a resample needs (one
column, one configuration at a time), so a million rows need no more memory than a thousand.

Plain ``sqlite3`` on either engine: xetrack's DuckDB engine stores the same SQLite file.
"""

import sqlite3
from pathlib import Path

import numpy as np

from .errors import db_error


def connect(db: Path) -> sqlite3.Connection:
    """A read-only connection: the analysis never writes the results db."""
    try:
        return sqlite3.connect(f"{Path(db).resolve().as_uri()}?mode=ro", uri=True, timeout=60)
    except sqlite3.DatabaseError as error:
        raise db_error(db, error) from None


def quote(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def columns(connection: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in connection.execute(f"PRAGMA table_info({quote(table)})")]


def params_columns(names) -> list[str]:
    return sorted(name for name in names if name.startswith("params_"))


def text_set(column: str) -> str:
    """SQL: the column holds a non-empty value (not NULL, not '')."""
    return f"COALESCE({quote(column)}, '') != ''"


def text_empty(column: str) -> str:
    """SQL: the column is NULL or ''."""
    return f"COALESCE({quote(column)}, '') = ''"


def dicts(cursor: sqlite3.Cursor):
    """The cursor's rows as dicts, one at a time."""
    names = [column[0] for column in cursor.description]
    for values in cursor:
        yield dict(zip(names, values, strict=True))


def placeholders(values) -> str:
    return ", ".join("?" * len(values))


def latest_track_id(connection: sqlite3.Connection, table: str) -> str | None:
    """The run of the table's last row (by timestamp)."""
    row = connection.execute(
        f"SELECT track_id FROM {quote(table)} ORDER BY timestamp DESC, rowid DESC LIMIT 1"
    ).fetchone()
    return row[0] if row else None


def runs_by_start(connection: sqlite3.Connection, table: str) -> list[str]:
    """Every run's track_id, in the order the runs started (first row by timestamp)."""
    return [
        row[0]
        for row in connection.execute(
            f"SELECT track_id FROM {quote(table)} GROUP BY track_id ORDER BY MIN(timestamp)"
        )
    ]


def column_values(
    connection: sqlite3.Connection, table: str, column: str, where: str, args=()
) -> np.ndarray:
    """One numeric column of the rows ``where`` selects, as floats (NULLs left out)."""
    cursor = connection.execute(
        f"SELECT {quote(column)} FROM {quote(table)} "
        f"WHERE ({where}) AND {quote(column)} IS NOT NULL",
        args,
    )
    return np.fromiter((value for (value,) in cursor), dtype=float)
