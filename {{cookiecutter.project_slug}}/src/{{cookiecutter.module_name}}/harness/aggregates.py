"""The metrics table's rows, from the db: each configuration's ``summarize`` over its rows of
this run, read back one configuration at a time, result columns only.

The runner keeps no result in memory (its memory does not grow with the grid), and the metrics
it records are those of the rows themselves, as the db stores them (bools as 0/1, NULLs left
out), which is what validate, report and compare read. Only the columns summarize reads
(``SUMMARY_FIELDS`` when the kind declares it) are read.
"""

import sqlite3
from pathlib import Path

from .kind import SUMMARY_FIELDS, summarize
from .tracking import PREDICTIONS, is_result_column, table_columns

SHARED_LIMIT = 1000  # distinct values of a column kept as one object each (labels, "" errors)


def run_results(
    connection: sqlite3.Connection, track_id: str, config_id: str, names: list[str]
) -> list[dict]:
    """The results of one configuration's rows of run ``track_id``, in the order they were
    written, without NULLs (as the cache holds them)."""
    columns = ", ".join(f'"{name}"' for name in names)
    cursor = connection.execute(
        f'SELECT {columns} FROM "{PREDICTIONS}" WHERE track_id = ? AND config_id = ? '
        "ORDER BY timestamp",
        (track_id, config_id),
    )
    shared = {name: {} for name in names}  # one str object per repeated value: less memory
    results = []
    for values in cursor:
        result = {}
        for name, value in zip(names, values, strict=True):
            if value is None:
                continue
            if type(value) is str:
                known = shared[name]
                if len(known) < SHARED_LIMIT:
                    value = known.setdefault(value, value)
                else:
                    value = known.get(value, value)
            result[name] = value
        results.append(result)
    return results


def metrics_rows(db: Path, track_id: str, configurations: list[tuple[dict, dict]]) -> list[dict]:
    """One metrics row per (config columns, counts) of ``configurations``, in that order."""
    with sqlite3.connect(db, timeout=60) as connection:
        names = sorted(
            name
            for name in table_columns(connection, PREDICTIONS)
            if is_result_column(name) and (not SUMMARY_FIELDS or name in SUMMARY_FIELDS)
        )
        rows = []
        for columns, counts in configurations:
            results = run_results(connection, track_id, columns["config_id"], names)
            rows.append({**columns, **summarize(results), **counts})
            del results
    connection.close()
    return rows
