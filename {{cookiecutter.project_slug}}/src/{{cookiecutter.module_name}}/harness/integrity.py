"""validate's row-level checks: is each row what the run wrote, and does it add up?

The latest run by default, every run with ``--all-runs``. Counts and groups are SQL; rows whose
digest must be recomputed are streamed from sqlite3 as SQLite stores them (no DataFrame
conversion, one row or one configuration at a time), so memory stays flat with the db's size.
``table`` is validation's Table: connection, name, columns, ``has``.
"""

import ast
import math
import types
import typing
from collections import Counter
from dataclasses import fields

from . import sql
from .findings import FAIL, OK, SKIP, Finding
from .identity import NEUTRAL, type_hints
from .kind import HIGHER_IS_BETTER, SUMMARY_FIELDS, Params, summarize
from .lineage import NAMING, check_lineage, in_scope, named, result_columns, selected
from .row_pass import RowPass, check_edited, read
from .tracking import METRICS


def read_rows(connection, table: str) -> list[dict]:
    """A small table's rows (the metrics), oldest first; [] when it does not exist."""
    if not sql.columns(connection, table):
        return []
    cursor = connection.execute(f"SELECT * FROM {sql.quote(table)} ORDER BY timestamp")
    return list(sql.dicts(cursor))


def runs_in_scope(table, all_runs: bool) -> list[str]:
    """Track ids to check: the latest run (the last to start), or every run in order."""
    order = sql.runs_by_start(table.connection, table.name)
    return order if all_runs else order[-1:]


def check_phases(table) -> Finding:
    """The results db holds experiment runs only; dev and scratch runs go to dev.db."""
    if not table.has("phase"):
        return Finding("phases", SKIP, "no phase column")
    totals = table.totals
    if totals["phased"] == totals["rows"] > 0 and totals["phase_min"] == totals["phase_max"]:
        # the same phase on every row: no grouping needed
        phases = Counter({totals["phase_min"]: totals["rows"]})
    else:
        phases = Counter(
            dict(
                table.connection.execute(
                    f"SELECT phase, COUNT(*) FROM {table.quoted} GROUP BY phase "
                    "ORDER BY MIN(timestamp)"
                ).fetchall()
            )
        )
    others = {phase: n for phase, n in phases.items() if phase != "experiment"}
    if not others or "experiment" not in phases:
        return Finding("phases", OK, f"one kind of run: {', '.join(map(str, phases))}")
    return Finding(
        "phases",
        FAIL,
        f"{sum(others.values())} rows of non-experiment runs ({others}) among experiment rows",
        "Dev runs belong in dev.db (make dev). Remove them: "
        "xt sql benchmark.db \"DELETE FROM predictions WHERE phase != 'experiment'\" "
        "(and the same on metrics).",
        {"phases": dict(phases)},
    )


def row_counts(table, scope: list[str]) -> Counter:
    """Rows per (run, configuration) of the runs in ``scope``."""
    where, args = in_scope(scope)
    config = "config_id" if table.has("config_id") else "NULL"
    cursor = table.connection.execute(
        f"SELECT track_id, {config}, COUNT(*) FROM {table.quoted} WHERE {where} "
        f"GROUP BY track_id, {config}",
        args,
    )
    return Counter({(track_id, config_id): n for track_id, config_id, n in cursor})


def check_completeness(counts: Counter, metrics: list[dict], scope: list[str]) -> Finding:
    """Each run has a row for every datapoint of the grid it was given (metrics' n_planned)."""
    planned = [m for m in metrics if m.get("track_id") in scope and m.get("n_planned")]
    if not planned:
        return Finding("completeness", SKIP, "no n_planned in the metrics of the runs checked")
    short = {
        (m["track_id"], m["config_id"]): m["n_planned"] - counts[m["track_id"], m["config_id"]]
        for m in planned
        if counts[m["track_id"], m["config_id"]] < m["n_planned"]
    }
    if not short:
        return Finding("completeness", OK, f"every datapoint of {len(planned)} configurations")
    shown = ", ".join(f"run {t} config {c}: {n} missing" for (t, c), n in list(short.items())[:5])
    return Finding(
        "completeness",
        FAIL,
        f"{sum(short.values())} datapoints of the grid have no row: {shown}",
        "Rows were lost or deleted after the run. Run again: cached results are reused and the "
        "missing datapoints computed.",
        {"missing": {f"{t}/{c}": n for (t, c), n in short.items()}},
    )


def configuration_results(table, track_id: str, config_id) -> list[dict]:
    """One run's results of one configuration, oldest first (what its metrics row summarized)."""
    results = result_columns(table)
    config = "config_id IS ?" if table.has("config_id") else "? IS NULL"
    cursor = table.connection.execute(
        f"SELECT {', '.join(map(sql.quote, results)) or 'NULL'} FROM {table.quoted} "
        f"WHERE track_id = ? AND {config} ORDER BY timestamp",
        (track_id, config_id),
    )
    return [
        {k: v for k, v in zip(results, values, strict=False) if v is not None} for values in cursor
    ]


def check_metrics_agree(
    table, counts: Counter, metrics: list[dict], rows: RowPass | None = None
) -> Finding:
    """Each metrics row equals summarize() over its run's rows of that configuration (one
    configuration's dicts in memory at a time): the columns ``rows`` kept, else read again."""
    wrong = []
    checked = 0
    expected, expected_key = {}, None
    for m in metrics:
        key = (m.get("track_id"), m.get("config_id"))
        if not counts.get(key):
            continue
        checked += 1
        if key != expected_key:
            kept = rows.results(key) if rows is not None else None
            results = configuration_results(table, *key) if kept is None else kept
            expected, expected_key = summarize(results), key
            del kept, results
        differ = [k for k in (*HIGHER_IS_BETTER, "n") if k in m and not same(m[k], expected.get(k))]
        if differ:
            wrong.append(f"run {key[0]} config {key[1]}: {', '.join(differ)}")
    if not checked:
        return Finding("metrics_agree", SKIP, "no metrics rows for the runs checked")
    if not wrong:
        return Finding("metrics_agree", OK, f"{checked} metrics rows match their predictions")
    return Finding(
        "metrics_agree",
        FAIL,
        f"{len(wrong)} metrics rows disagree with their predictions: {'; '.join(wrong[:5])}",
        "A metrics row was edited, or predictions rows changed after the run. Delete the run's "
        "metrics rows and run again (cached results are reused, metrics rewritten).",
        {"rows": wrong},
    )


def is_missing(value) -> bool:  # SQLite stores NaN as NULL
    return value is None or (isinstance(value, float) and math.isnan(value))


def same(recorded, expected) -> bool:
    if is_missing(recorded) or is_missing(expected):
        return is_missing(recorded) and is_missing(expected)
    try:
        a, b = float(recorded), float(expected)
    except (TypeError, ValueError):
        return str(recorded) == str(expected)
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def params_from(row: dict) -> Params:
    """The Params a row's params_* columns describe (TypeError if they cannot be read back)."""
    hints = type_hints(Params)
    values = {}
    for field in fields(Params):
        column = f"params_{field.name}"
        if column not in row and NEUTRAL in field.metadata:
            continue
        if column not in row:
            raise TypeError(f"no column {column}")
        values[field.name] = from_column(row[column], hints[field.name])
    return Params(**values)


def from_column(value, annotation):
    if value is None:
        return None
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = options[0] if len(options) == 1 else str
    if annotation in (bool, int, float, str):
        return annotation(value)
    if typing.get_origin(annotation) is tuple and isinstance(value, str):
        return ast.literal_eval(value)
    raise TypeError(f"cannot read {annotation} back from a column")


def first_rows(table, scope: list[str]) -> list[dict]:
    """Each distinct configuration's (config_id and params columns) first row in ``scope``."""
    columns = sql.params_columns(table.columns)
    group = ", ".join(map(sql.quote, ["config_id", *columns]))
    where, args = in_scope(scope)
    cursor = table.connection.execute(
        f"SELECT {selected(table, NAMING[:2])}, {group}, MIN(timestamp) FROM {table.quoted} "
        f"WHERE {where} GROUP BY {group} ORDER BY MIN(timestamp)",
        args,
    )
    return list(sql.dicts(cursor))


def check_config_ids(table, scope: list[str], rows: RowPass | None = None) -> Finding:
    """Each row's config_id is the id of the Params its params columns describe (``rows``: the
    pass already made over ``scope``, else SQL groups them)."""
    if not table.has("config_id"):
        return Finding("config_ids", SKIP, "no config_id column")
    distinct = first_rows(table, scope) if rows is None else rows.first_rows()
    wrong = []
    for row in distinct:
        try:
            config_id = params_from(row).config_id
        except (TypeError, ValueError, SyntaxError) as error:
            return Finding("config_ids", SKIP, f"params cannot be read back into Params: {error}")
        if config_id != row["config_id"]:
            wrong.append(row)
    if not wrong:
        return Finding("config_ids", OK, f"{len(distinct)} configurations match their config_id")
    return Finding(
        "config_ids",
        FAIL,
        f"{len(wrong)} configurations' params columns do not give their config_id: {named(wrong)}",
        "params columns were edited, or Params changed in a way that is not declared (see the "
        "README, 'When Params change'). Put the columns back, or start a new db.",
        {"configurations": [r["config_id"] for r in wrong]},
    )


def check_history(table, max_error_rate: float) -> Finding:
    """--all-runs: the failure rate of every run, not only the latest."""
    if not table.has("error"):
        return Finding("failures_history", SKIP, "no error column")
    cursor = table.connection.execute(
        f"SELECT track_id, COUNT(*), SUM({sql.text_set('error')}) FROM {table.quoted} "
        "GROUP BY track_id ORDER BY MIN(timestamp)"
    )
    totals = {track_id: (n, failed) for track_id, n, failed in cursor}
    bad = {t: failed / n for t, (n, failed) in totals.items() if failed / n > max_error_rate}
    if not bad:
        return Finding("failures_history", OK, f"{len(totals)} runs within the error rate")
    shown = ", ".join(f"run {t}: {rate:.0%} failed" for t, rate in bad.items())
    return Finding(
        "failures_history",
        FAIL,
        f"{len(bad)} runs above {max_error_rate:.0%} failed datapoints: {shown}",
        "Look at their error column; failed datapoints are retried when you run again. Raise "
        "--max-error-rate if this is expected.",
        {"runs": bad},
    )


def check_rows(table, all_runs: bool, max_error_rate: float) -> list[Finding]:
    if not table.has("track_id"):
        return []
    scope = runs_in_scope(table, all_runs)
    if not scope:
        return []
    metrics = read_rows(table.connection, METRICS)
    # one read of the runs' rows for all the row checks (row_pass.py), keeping the columns
    # summarize reads when the kind declares them (SUMMARY_FIELDS)
    rows = read(table, scope, SUMMARY_FIELDS if metrics else ())
    counts = Counter(rows.counts)  # as row_counts(table, scope)
    findings = [
        *check_lineage(table, scope, rows.hits),
        check_edited(table, scope, rows),
        check_phases(table),
        check_completeness(counts, metrics, scope),
        check_metrics_agree(table, counts, metrics, rows),
        check_config_ids(table, scope, rows),
    ]
    if all_runs:
        findings.append(check_history(table, max_error_rate))
    return findings
