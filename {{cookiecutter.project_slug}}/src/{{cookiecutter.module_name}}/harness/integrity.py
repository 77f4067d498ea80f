"""validate's row-level checks: is each row what the run wrote, and does it add up?

The latest run by default, every run with ``--all-runs``. Rows are read with sqlite3 as SQLite
stores them (no DataFrame conversion), so digests computed at insert time can be rechecked.
"""

import ast
import math
import sqlite3
import types
import typing
from collections import Counter, defaultdict
from dataclasses import fields
from pathlib import Path

from .findings import FAIL, OK, SKIP, Finding
from .identity import NEUTRAL, result_digest, type_hints
from .kind import HIGHER_IS_BETTER, Params, summarize
from .tracking import METRICS, is_result_column, table_exists

EXAMPLES = 5  # rows named in a finding's message


def read_rows(db: Path, table: str) -> list[dict]:
    if not table_exists(db, table):
        return []
    with sqlite3.connect(db) as connection:
        cursor = connection.execute(f'SELECT * FROM "{table}" ORDER BY timestamp')
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, values, strict=True)) for values in cursor]


def result_of(row: dict) -> dict:
    """predict's result as the row holds it (NULLs left out)."""
    return {k: v for k, v in row.items() if is_result_column(k) and v is not None}


def runs_in_scope(rows: list[dict], all_runs: bool) -> list[str]:
    """Track ids to check: the latest run, or every run in order."""
    order = list(dict.fromkeys(row["track_id"] for row in rows))
    return order if all_runs else order[-1:]


def named(rows: list[dict]) -> str:
    """A few rows, by run, input and configuration, for a finding's message."""
    shown = [
        f"run {r.get('track_id')} input {r.get('input_id')} config {r.get('config_id')}"
        for r in rows[:EXAMPLES]
    ]
    more = f" and {len(rows) - EXAMPLES} more" if len(rows) > EXAMPLES else ""
    return "; ".join(shown) + more


def check_lineage(rows: list[dict], scope: set[str]) -> list[Finding]:
    """A cache-hit row must equal the row of the run it claims to reuse, and that run exist."""
    if not {"cache", "cache_key"} <= set(rows[0]):
        return [Finding("lineage", SKIP, "no cache/cache_key columns")]
    runs = {row["track_id"] for row in rows}
    sources = {(row["track_id"], row["cache_key"]): row for row in rows if not row["cache"]}
    hits = [r for r in rows if r["track_id"] in scope and r["cache"]]
    orphans = [r for r in hits if r["cache"] not in runs]
    differing = [
        r
        for r in hits
        if r["cache"] in runs
        and result_digest(result_of(r))
        != result_digest(result_of(sources.get((r["cache"], r["cache_key"]), {})))
    ]
    findings = []
    if orphans:
        findings.append(
            Finding(
                "hit_source",
                FAIL,
                f"{len(orphans)} cache-hit rows name a run that is not in the db: {named(orphans)}",
                "Their results cannot be traced to a computation (rows deleted, or a cache "
                "from another db). Delete these rows and clear the cache (make cache-clear), "
                "then run again.",
                {"rows": len(orphans)},
            )
        )
    if differing:
        findings.append(
            Finding(
                "lineage",
                FAIL,
                f"{len(differing)} cache-hit rows differ from (or lack) the computed row they "
                f"reuse: {named(differing)}",
                "A row or the cache was changed after the fact. Clear the cache "
                "(make cache-clear) and run again, or bump PREDICT_VERSION.",
                {"rows": len(differing)},
            )
        )
    checked = f"{len(hits)} cache-hit rows match the rows they reuse"
    return findings or [Finding("lineage", OK, checked)]


def check_edited(rows: list[dict], scope: set[str]) -> Finding:
    """Each row's result still has the digest written with it."""
    if "row_digest" not in rows[0]:
        return Finding("edited_rows", SKIP, "no row_digest column (rows written before it)")
    checked = [r for r in rows if r["track_id"] in scope and r["row_digest"]]
    edited = [r for r in checked if result_digest(result_of(r)) != r["row_digest"]]
    if not edited:
        return Finding("edited_rows", OK, f"{len(checked)} rows as written")
    return Finding(
        "edited_rows",
        FAIL,
        f"{len(edited)} rows were changed after they were written: {named(edited)}",
        "Results must come from predict. Delete these rows (and make cache-clear) and run "
        "again; to change a result, change predict and bump PREDICT_VERSION.",
        {"rows": len(edited)},
    )


def check_phases(rows: list[dict]) -> Finding:
    """The results db holds experiment runs only; dev and scratch runs go to dev.db."""
    if "phase" not in rows[0]:
        return Finding("phases", SKIP, "no phase column")
    phases = Counter(row["phase"] for row in rows)
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


def check_completeness(rows: list[dict], metrics: list[dict], scope: list[str]) -> Finding:
    """Each run has a row for every datapoint of the grid it was given (metrics' n_planned)."""
    planned = [m for m in metrics if m.get("track_id") in scope and m.get("n_planned")]
    if not planned:
        return Finding("completeness", SKIP, "no n_planned in the metrics of the runs checked")
    counts = Counter((r["track_id"], r.get("config_id")) for r in rows)
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


def check_metrics_agree(rows: list[dict], metrics: list[dict], scope: list[str]) -> Finding:
    """Each metrics row equals summarize() over its run's rows of that configuration."""
    results = defaultdict(list)
    for row in rows:
        if row["track_id"] in scope:
            results[row["track_id"], row.get("config_id")].append(result_of(row))
    wrong = []
    checked = 0
    for m in metrics:
        key = (m.get("track_id"), m.get("config_id"))
        if key not in results:
            continue
        checked += 1
        expected = summarize(results[key])
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


def check_config_ids(rows: list[dict], scope: set[str]) -> Finding:
    """Each row's config_id is the id of the Params its params columns describe."""
    if "config_id" not in rows[0]:
        return Finding("config_ids", SKIP, "no config_id column")
    columns = sorted(c for c in rows[0] if c.startswith("params_"))
    distinct = {}
    for row in rows:
        if row["track_id"] in scope:
            distinct.setdefault((row["config_id"], *(row[c] for c in columns)), row)
    wrong = []
    for row in distinct.values():
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


def check_history(rows: list[dict], max_error_rate: float) -> Finding:
    """--all-runs: the failure rate of every run, not only the latest."""
    if "error" not in rows[0]:
        return Finding("failures_history", SKIP, "no error column")
    totals, errors = Counter(), Counter()
    for row in rows:
        totals[row["track_id"]] += 1
        errors[row["track_id"]] += bool(row["error"])
    bad = {t: errors[t] / totals[t] for t in totals if errors[t] / totals[t] > max_error_rate}
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


def check_rows(db: Path, table: str, all_runs: bool, max_error_rate: float) -> list[Finding]:
    rows = read_rows(db, table)
    if not rows or "track_id" not in rows[0]:
        return []
    scope = runs_in_scope(rows, all_runs)
    metrics = read_rows(db, METRICS)
    findings = [
        *check_lineage(rows, set(scope)),
        check_edited(rows, set(scope)),
        check_phases(rows),
        check_completeness(rows, metrics, scope),
        check_metrics_agree(rows, metrics, scope),
        check_config_ids(rows, set(scope)),
    ]
    if all_runs:
        findings.append(check_history(rows, max_error_rate))
    return findings
