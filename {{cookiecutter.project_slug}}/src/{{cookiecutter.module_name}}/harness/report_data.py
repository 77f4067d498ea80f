"""What the report reads from the predictions table, as SQL: counts and groups computed by
SQLite; one run's rows loaded with only the columns a resample needs (configuration, params and
predict's result), never the whole table.
"""

from contextlib import closing

import numpy as np
import pandas as pd

from . import sql
from .level_checks import measured_sql
from .tracking import PREDICTIONS, is_result_column

RUN_COLUMNS = ("experiment", "phase", "git_commit", "git_dirty", "forced", "predict_version")
RUN_COLUMNS += ("predict_fingerprint", "replicate")  # compare.between: which runs are replicates
HEADING = ("timestamp", "git_commit", "forced", "predict_version", "python_version")
MEMO = 4096  # distinct values shared per column (labels, params); ids are not repeated
CHUNK = 20_000  # rows fetched at a time


def analysis_columns(names: list[str]) -> list[str]:
    """The columns a run's analysis reads: config_id, params_* and predict's result."""
    return [n for n in names if n == "config_id" or n.startswith("params_") or is_result_column(n)]


def run_frame(connection, track_id: str) -> pd.DataFrame:
    """One run's rows (oldest first) with ``analysis_columns`` only; a value repeated down a
    column (a label, a params value) is one object, so a million rows fit in little memory."""
    present = sql.columns(connection, PREDICTIONS)
    names = analysis_columns(present)
    cursor = connection.execute(
        f"SELECT {', '.join(map(sql.quote, names))} FROM {sql.quote(PREDICTIONS)} "
        f"WHERE track_id = ?{measured_sql(present)} ORDER BY timestamp",
        (track_id,),
    )
    columns = [[] for _ in names]
    memos = [{} for _ in names]
    while rows := cursor.fetchmany(CHUNK):
        for values, memo, column in zip(columns, memos, zip(*rows, strict=True), strict=True):
            if len(memo) < MEMO:
                column = [memo.setdefault(v, v) for v in column]
            values.extend(column)
    return pd.DataFrame(dict(zip(names, columns, strict=True)), columns=names)


def configurations(connection, track_id: str) -> pd.DataFrame:
    """One row per configuration of the run (config_id and params_* columns), in the order
    they first appear (what ``run_frame`` without its duplicates gives)."""
    present = sql.columns(connection, PREDICTIONS)
    names = ["config_id", *(n for n in present if n.startswith("params_"))]
    cursor = connection.execute(  # MIN, the one aggregate: the other columns from that row
        f"SELECT {', '.join(map(sql.quote, names))}, MIN(timestamp) FROM "
        f"{sql.quote(PREDICTIONS)} WHERE track_id = ?{measured_sql(present)} GROUP BY config_id "
        f"ORDER BY MIN(timestamp)",
        (track_id,),
    )
    return pd.DataFrame([row[:-1] for row in cursor], columns=names)


def class_counts(connection, track_id: str, config_id: str) -> pd.DataFrame:
    """The (ground_truth, prediction, error) combinations of one configuration of the run and
    how many datapoints have each (``count``): its rows, grouped by SQLite."""
    present = sql.columns(connection, PREDICTIONS)
    names = [n for n in ("ground_truth", "prediction", "error") if n in present]
    selected = ", ".join(map(sql.quote, names))
    cursor = connection.execute(
        f"SELECT {selected}, COUNT(*) FROM {sql.quote(PREDICTIONS)} "
        f"WHERE track_id = ? AND config_id = ?{measured_sql(present)} GROUP BY {selected}",
        (track_id, config_id),
    )
    return pd.DataFrame(cursor.fetchall(), columns=[*names, "count"])


def first_row(connection, track_id: str) -> dict:
    """The run's first row: when it ran and its metadata (for the report's heading)."""
    names = set(sql.columns(connection, PREDICTIONS))
    cursor = connection.execute(
        f"SELECT {', '.join(sql.quote(c) for c in HEADING if c in names)} "
        f"FROM {sql.quote(PREDICTIONS)} WHERE track_id = ? ORDER BY timestamp LIMIT 1",
        (track_id,),
    )
    return next(sql.dicts(cursor), {})


def latencies(connection, track_id: str, config_ids: list[str]) -> list[np.ndarray]:
    """Each configuration's latencies (seconds, failed datapoints left out), oldest first: one
    pass over the run, CHUNK rows at a time (not one query per configuration)."""
    names = sql.columns(connection, PREDICTIONS)
    if "latency" not in names:
        return [np.array([]) for _ in config_ids]
    cursor = connection.execute(
        f"SELECT config_id, latency FROM {sql.quote(PREDICTIONS)} WHERE track_id = ?"
        f"{measured_sql(names)} AND latency IS NOT NULL ORDER BY timestamp",
        (track_id,),
    )
    position = {config_id: i for i, config_id in enumerate(config_ids)}
    at, values = [np.array([], dtype=int)], [np.array([])]
    while rows := cursor.fetchmany(CHUNK):  # config_ids as positions: no string kept per row
        chunk_ids, chunk_values = zip(*rows, strict=True)
        at.append(np.array([position.get(c, -1) for c in chunk_ids], dtype=int))
        values.append(np.array(chunk_values, dtype=float))
    at, values = np.concatenate(at), np.concatenate(values)
    return [values[at == i] for i in range(len(config_ids))]


def error_counts(connection, track_id: str) -> list[tuple[str, str, int]]:
    """(config_id, error_type, failed datapoints) of the run, sorted."""
    names = sql.columns(connection, PREDICTIONS)
    if "error" not in names:
        return []
    error_type = "error_type" if "error_type" in names else "NULL"
    cursor = connection.execute(
        f"SELECT config_id, {error_type}, COUNT(*) FROM {sql.quote(PREDICTIONS)} "
        f"WHERE track_id = ?{measured_sql(names)} AND {sql.text_set('error')} "  # NULL keys out
        f"AND config_id IS NOT NULL AND {error_type} IS NOT NULL "
        f"GROUP BY config_id, {error_type} ORDER BY config_id, {error_type}",
        (track_id,),
    )
    return cursor.fetchall()


def cache_counts(connection, track_id: str) -> tuple[int, int]:
    """(rows, rows served from the cache) of the run."""
    names = sql.columns(connection, PREDICTIONS)
    hit = sql.text_set("cache") if "cache" in names else "0"
    rows, reused = connection.execute(
        f"SELECT COUNT(*), COALESCE(SUM({hit}), 0) FROM {sql.quote(PREDICTIONS)} "
        f"WHERE track_id = ?{measured_sql(names)}",
        (track_id,),
    ).fetchone()
    return rows, reused


def runs(connection) -> list[dict]:
    """One dict per run (track_id, started, rows, metadata of its first row), oldest first: what
    ``compare.runs.runs`` gives, as one GROUP BY."""
    names = set(sql.columns(connection, PREDICTIONS))
    columns = [c for c in RUN_COLUMNS if c in names]
    selected = "".join(f", {sql.quote(c)}" for c in columns)
    cursor = connection.execute(
        f"SELECT track_id, MIN(timestamp), COUNT(*){selected} FROM {sql.quote(PREDICTIONS)} "
        "GROUP BY track_id ORDER BY MIN(timestamp)"
    )
    found = []
    for track_id, started, rows, *rest in cursor:
        metadata = dict(zip(columns, rest, strict=True))
        found.append({"track_id": track_id, "started": str(started), "rows": rows, **metadata})
    return found


def previous_run(all_runs: list[dict], track_id: str) -> dict | None:
    """The latest run of the same phase that started before ``track_id``."""
    this = next((r for r in all_runs if r["track_id"] == track_id), None)
    if this is None:
        return None
    earlier = [
        r
        for r in all_runs
        if r["started"] < this["started"] and r.get("phase") == this.get("phase")
    ]
    return earlier[-1] if earlier else None


def run_aggregates(db, track_id: str, config_ids: list[str]) -> dict:
    """The run's latencies, first row, error and cache counts and configurations, on a
    connection of its own (the report reads them in a thread while it compares the runs)."""
    with closing(sql.connect(db)) as connection:
        return {
            "latencies": latencies(connection, track_id, config_ids),
            "first_row": first_row(connection, track_id),
            "error_counts": error_counts(connection, track_id),
            "cache_counts": cache_counts(connection, track_id),
            "configurations": configurations(connection, track_id),
        }
