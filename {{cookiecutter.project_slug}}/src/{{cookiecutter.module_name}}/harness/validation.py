"""Can these results be trusted? Checks over a predictions table, for people and for CI.

Works on any xetrack db: a check that needs a column the table lacks is skipped, and says so.
"""

import json
import sqlite3
import types
import typing
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import asdict
from functools import cached_property
from pathlib import Path

from . import sql, table_pass
from .findings import FAIL, OK, SKIP, WARN, Finding
from .identity import type_hints
from .integrity import check_rows
from .kind import Params, grid
from .level_checks import check_levels, level_frame, measured_sql
from .schema import declared, params_drift
from .tracking import METRICS, PREDICTIONS, flatten, require_engine, table_exists

MAX_ERROR_RATE = 0.2  # failed-datapoint rate of the latest run above which validation fails


class Table:
    """The table under validation: its connection, name, columns and latest run."""

    def __init__(self, connection: sqlite3.Connection, name: str):
        self.connection, self.name = connection, name
        self.columns = sql.columns(connection, name)
        self.quoted = sql.quote(name)
        self.latest = sql.latest_track_id(connection, name) if "track_id" in self.columns else None

    def has(self, *names: str) -> bool:
        return all(name in self.columns for name in names)

    def one(self, query: str, args=()):
        return self.connection.execute(query, args).fetchone()

    whole: Future | None = None  # table_pass.whole_table, when started in a thread

    def start_whole_table(self, pool: ThreadPoolExecutor, db: Path) -> None:
        """Read ``totals`` and ``repeats`` in ``pool``'s thread from now on."""
        done = computed_and_succeeded(self)
        self.whole = pool.submit(table_pass.whole_table, self, db, done, identity_columns(self))

    @cached_property
    def totals(self) -> dict:
        """Whole-table counts, one pass for every check (table_pass.totals)."""
        if self.whole is not None:
            return self.whole.result()[0]
        return table_pass.totals(self, computed_and_succeeded(self))

    @cached_property
    def repeats(self) -> tuple[int, int, list[str], bool]:
        """Leaked computations, and whether a run may hold one twice (table_pass.repeats)."""
        if self.whole is not None:
            return self.whole.result()[1]
        return table_pass.repeats(self, identity_columns(self), computed_and_succeeded(self))

    def latest_run(self) -> tuple[str, tuple]:
        """SQL condition and arguments selecting the latest run's rows (all rows without runs)."""
        return ("track_id = ?", (self.latest,)) if self.has("track_id") else ("1", ())


def params_columns(table: Table) -> list[str]:
    return sql.params_columns(table.columns)


def identity_columns(table: Table) -> list[str]:
    """What makes two rows the same computation: cache_key if recorded, else input and params."""
    if table.has("cache_key"):
        return ["cache_key"]
    return [c for c in ("input_id", *params_columns(table)) if table.has(c)]


def computed_and_succeeded(table: Table) -> str:
    """SQL condition: the row ran predict (not served from the cache) and did not fail."""
    conditions = [sql.text_empty(c) for c in ("cache", "error") if table.has(c)]
    # rows of interrupted load levels are not measurements (level_checks.py)
    return (" AND ".join(conditions) or "1") + measured_sql(table.columns)


def repeated(table: Table, keys: list[str], where: str = "1") -> tuple[int, int, list[str]]:
    """(groups of ``keys`` with more than one row, their extra rows, a few groups as text)."""
    group = ", ".join(map(sql.quote, keys))
    cursor = table.connection.execute(
        f"SELECT {group}, COUNT(*) FROM {table.quoted} WHERE {where} GROUP BY {group} "
        f"HAVING COUNT(*) > 1 ORDER BY {group}"
    )
    groups = extra = 0
    examples = []
    for *key, count in cursor:
        groups, extra = groups + 1, extra + count - 1
        if len(examples) < 5:
            examples.append(str(key[0] if len(key) == 1 else tuple(key)))
    return groups, extra, examples


def check_leaks(table: Table) -> Finding:
    keys = identity_columns(table)
    if not keys:
        return Finding(
            "leaks", SKIP, "no input_id, params_* or cache_key columns to identify computations"
        )
    computed = table.totals["computed"]
    leaked, extra, examples, _ = table.repeats
    if not leaked:
        return Finding("leaks", OK, f"every computation ran once ({computed} computed rows)")
    return Finding(
        "leaks",
        FAIL,
        f"{leaked} computations ran more than once ({extra} extra executions)",
        "The same (input, params) was computed again instead of served from the cache: was the "
        "cache directory deleted, or two runs started at once? Delete the extra rows or bump "
        "PREDICT_VERSION to start clean.",
        {"examples": examples},
    )


def check_duplicates(table: Table) -> Finding:
    keys = identity_columns(table)
    if not table.has("track_id") or not keys:
        return Finding("duplicates", SKIP, "no track_id or identity columns")
    duplicated = 0
    if table.repeats[3]:  # a group of the identity columns holds more rows than runs
        duplicated, _, examples = repeated(table, ["track_id", *keys])
    if not duplicated:
        return Finding("duplicates", OK, "no datapoint appears twice within a run")
    return Finding(
        "duplicates",
        FAIL,
        f"{duplicated} datapoints appear more than once within a run",
        "A run logs each (input, params) once: look for duplicate ids in the data or the grid.",
        {"examples": examples},
    )


def optional_columns() -> set[str]:
    """params columns of Params fields declared ``X | None``: NULL there is a value."""
    return {
        f"params_{name}"
        for name, hint in type_hints(Params).items()
        if typing.get_origin(hint) in (typing.Union, types.UnionType)
        and type(None) in typing.get_args(hint)
    }


def check_null_params(table: Table) -> Finding:
    columns = params_columns(table)
    if not columns:
        return Finding("null_params", SKIP, "no params_* columns")
    optional = optional_columns()
    counts = table.totals["nulls"]
    nulls = {c: counts[c] for c in columns if counts[c] and c not in optional}
    if not nulls:
        allowed = f" (NULL allowed in optional {sorted(optional)})" if optional else ""
        return Finding("null_params", OK, f"{len(columns)} params columns, no NULLs{allowed}")
    return Finding(
        "null_params",
        FAIL,
        f"NULL values in params columns: {nulls}",
        "Rows without params drop out of every per-configuration analysis. Plain xetrack logs "
        "cache hits this way; this project's runner does not. Delete those rows or refill them.",
        {"nulls": nulls},
    )


def top_error_types(table: Table, where: str, args: tuple) -> dict:
    """The five most frequent error types of the failed rows ``where`` selects."""
    if not table.has("error_type"):
        return {}
    cursor = table.connection.execute(
        f"SELECT COALESCE(error_type, ''), COUNT(*) FROM {table.quoted} "
        f"WHERE {where} AND {sql.text_set('error')} GROUP BY 1 ORDER BY 2 DESC, MIN(rowid) "
        "LIMIT 5",
        args,
    )
    return dict(cursor.fetchall())


def check_failures(table: Table, max_error_rate: float) -> Finding:
    if not table.has("error"):
        return Finding("failures", SKIP, "no error column")
    where, args = table.latest_run()
    rows, failed = table.totals["latest_rows"], table.totals["latest_failed"]
    rate = failed / rows if rows else 0.0
    top = top_error_types(table, where, args) if failed else {}
    details = {"failed": failed, "rows": rows, "rate": rate, "top_error_types": top}
    message = f"latest run: {failed}/{rows} datapoints failed ({rate:.1%})"
    if top:
        message += f"; top error types: {top}"
    if rate > max_error_rate:
        return Finding(
            "failures",
            FAIL,
            message,
            f"More than {max_error_rate:.0%} failed: look at the error column "
            "(`xt sql <db> \"SELECT input_id, error FROM predictions WHERE error != ''\"`), fix "
            "predict or the data, and run again "
            "(failed datapoints are retried). Raise --max-error-rate if this is expected.",
            details,
        )
    return Finding("failures", WARN if failed else OK, message, "", details)


def check_cache(table: Table) -> Finding:
    if not table.has("cache"):
        return Finding("cache", SKIP, "no cache column: this db was written without a cache")
    total, hits, runs = table.totals["rows"], table.totals["hits"], 1
    if table.has("track_id"):  # the primary key's index answers
        (runs,) = table.one(f"SELECT COUNT(DISTINCT track_id) FROM {table.quoted}")
    rate = hits / total if total else 0.0
    message = f"{hits}/{total} rows served from the cache ({rate:.1%}) over {runs} runs"
    replicates = 1  # each replicate (run --replicate N) computes anew
    if table.has("replicate") and table.totals["replicate_min"] == table.totals["replicate_max"]:
        replicates = 1 if total else 0
    elif table.has("replicate"):
        (replicates,) = table.one(
            f"SELECT COUNT(DISTINCT COALESCE(replicate, 0)) FROM {table.quoted}"
        )
    if runs > replicates and hits == 0:
        return Finding(
            "cache",
            WARN,
            message,
            "Several runs and no cache hit: was the cache directory deleted, or did "
            "PREDICT_VERSION or the params change between runs?",
        )
    return Finding("cache", OK, message)


def check_metrics(table: Table) -> Finding:
    if table.name != PREDICTIONS or not sql.columns(table.connection, METRICS):
        return Finding("metrics", SKIP, f"no {METRICS} table in this db")
    if not table.has("track_id", "config_id"):
        return Finding("metrics", SKIP, "no track_id/config_id columns to match metrics rows")
    track_id = table.latest

    def configurations(name: str) -> set:
        return {
            config_id
            for (config_id,) in table.connection.execute(
                f"SELECT DISTINCT config_id FROM {sql.quote(name)} "
                "WHERE track_id = ? AND config_id IS NOT NULL",
                (track_id,),
            )
        }

    expected = configurations(table.name)
    metrics_columns = sql.columns(table.connection, METRICS)
    have = configurations(METRICS) if "config_id" in metrics_columns else set()
    missing = sorted(expected - have)
    if missing:
        return Finding(
            "metrics",
            FAIL,
            f"latest run {track_id}: no metrics row for configurations {missing}",
            "The run was interrupted before it wrote its metrics. Run again: cached results are "
            "reused and the metrics are written at the end.",
            {"missing": missing},
        )
    return Finding(
        "metrics", OK, f"latest run {track_id}: metrics for all {len(expected)} configurations"
    )


def check_drift(db: Path, table: Table) -> Finding:
    if not table.has("config_id"):
        return Finding(
            "schema_drift", SKIP, "table not written by this project: no Params to compare"
        )
    drift = params_drift(db, table.name, set(flatten("params", grid()[0])), declared(Params))
    lines = drift.describe(table.name)
    if drift.blocking:
        return Finding("schema_drift", FAIL, "params fields renamed or removed", " | ".join(lines))
    if lines:
        return Finding("schema_drift", WARN, "params fields added", " | ".join(lines))
    return Finding("schema_drift", OK, "params columns match the Params dataclass")


def validate(
    db: Path,
    table: str = PREDICTIONS,
    engine: str = "sqlite",
    max_error_rate: float = MAX_ERROR_RATE,
    all_runs: bool = False,
) -> list[Finding]:
    """Every check, as SQL over the db; the row-level ones (integrity.py) on the latest run, or
    all with all_runs."""
    if not Path(db).exists():
        return [
            Finding("database", FAIL, f"{db} does not exist", "Run the benchmark first (make run).")
        ]
    if not table_exists(db, table):
        return [
            Finding(
                "database",
                FAIL,
                f"{db} has no table {table!r}",
                "Pass the table name as the second argument.",
            )
        ]
    require_engine(engine)  # the same refusal as the run's, though SQLite reads the file
    with closing(sql.connect(db)) as connection, ThreadPoolExecutor(1) as pool:
        found = Table(connection, table)
        if found.one(f"SELECT COUNT(*) FROM (SELECT 1 FROM {found.quoted} LIMIT 1)")[0] == 0:
            return [
                Finding(
                    "database",
                    FAIL,
                    f"table {table!r} is empty",
                    "Run the benchmark first (make run).",
                )
            ]
        found.start_whole_table(pool, db)  # SQLite reads the whole table in a thread meanwhile
        rows = check_rows(found, all_runs, max_error_rate)  # the runs checked, read in Python
        return [
            check_leaks(found),
            check_duplicates(found),
            check_null_params(found),
            check_failures(found, max_error_rate),
            check_cache(found),
            check_metrics(found),
            check_drift(db, found),
            *rows,
            *check_levels(level_frame(connection, table, found.columns)),  # load levels
        ]


def exit_code(findings: list[Finding]) -> int:
    return 1 if any(f.status == FAIL for f in findings) else 0


def render(findings: list[Finding], as_json: bool = False) -> str:
    if as_json:
        return json.dumps(
            {"passed": exit_code(findings) == 0, "findings": [asdict(f) for f in findings]},
            indent=2,
            default=str,
        )
    marks = {OK: "[ok]  ", WARN: "[warn]", FAIL: "[FAIL]", SKIP: "[skip]"}
    lines = []
    for finding in findings:
        lines.append(f"{marks[finding.status]} {finding.check}: {finding.message}")
        if finding.advice and finding.status in (WARN, FAIL):
            lines.append(f"       -> {finding.advice}")
    verdict = "FAILED" if exit_code(findings) else "passed"
    lines.append(f"validation {verdict}")
    return "\n".join(lines)
