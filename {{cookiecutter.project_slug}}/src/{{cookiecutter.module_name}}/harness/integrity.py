"""validate's row-level checks: is each row what the run wrote, and does it add up?

The latest run by default, every run with ``--all-runs``. Counts and groups are SQL; rows whose
digest must be recomputed are streamed from sqlite3 as SQLite stores them (no DataFrame
conversion, one row or one configuration at a time), so memory stays flat with the db's size.
``table`` is validation's Table: connection, name, columns, ``has``.
"""

import ast
import hashlib
import json
import math
import types
import typing
from collections import Counter
from dataclasses import fields
from json.encoder import encode_basestring_ascii

from . import sql
from .findings import FAIL, OK, SKIP, Finding
from .identity import NEUTRAL, _as_stored, result_digest, type_hints
from .kind import HIGHER_IS_BETTER, Params, summarize
from .tracking import METRICS, is_result_column

EXAMPLES = 5  # rows named in a finding's message
NAMING = ("track_id", "input_id", "config_id")  # what names a row in a message


def read_rows(connection, table: str) -> list[dict]:
    """A small table's rows (the metrics), oldest first; [] when it does not exist."""
    if not sql.columns(connection, table):
        return []
    cursor = connection.execute(f"SELECT * FROM {sql.quote(table)} ORDER BY timestamp")
    return list(sql.dicts(cursor))


def result_of(row: dict) -> dict:
    """predict's result as the row holds it (NULLs left out)."""
    return {k: v for k, v in row.items() if is_result_column(k) and v is not None}


def result_columns(table) -> list[str]:
    return [c for c in table.columns if is_result_column(c)]


def selected(table, names, alias: str = "") -> str:
    """A select list of ``names``; NULL for a column the table lacks (named all the same)."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(
        f"{prefix}{sql.quote(n)}" if table.has(n) else f"NULL AS {sql.quote(n)}" for n in names
    )


def runs_in_scope(table, all_runs: bool) -> list[str]:
    """Track ids to check: the latest run (the last to start), or every run in order."""
    order = sql.runs_by_start(table.connection, table.name)
    return order if all_runs else order[-1:]


def in_scope(scope: list[str], alias: str = "") -> tuple[str, tuple]:
    """SQL condition and arguments: the row belongs to a run in ``scope``."""
    prefix = f"{alias}." if alias else ""
    if len(scope) == 1:  # the latest run: the primary key's index finds its rows
        return f"{prefix}track_id = ?", (scope[0],)
    return f"{prefix}track_id IN (SELECT value FROM json_each(?))", (json.dumps(scope),)


def named(rows: list[dict], total: int | None = None) -> str:
    """A few rows, by run, input and configuration, for a finding's message."""
    total = len(rows) if total is None else total
    shown = [
        f"run {r.get('track_id')} input {r.get('input_id')} config {r.get('config_id')}"
        for r in rows[:EXAMPLES]
    ]
    more = f" and {total - EXAMPLES} more" if total > EXAMPLES else ""
    return "; ".join(shown) + more


def first_rows(table, where: str, args=()) -> tuple[int, list[dict]]:
    """(number of rows ``where`` selects, the first EXAMPLES of them by timestamp)."""
    (count,) = table.connection.execute(
        f"SELECT COUNT(*) FROM {table.quoted} WHERE {where}", args
    ).fetchone()
    cursor = table.connection.execute(
        f"SELECT {selected(table, NAMING)} FROM {table.quoted} WHERE {where} "
        f"ORDER BY timestamp LIMIT {EXAMPLES}",
        args,
    )
    return count, list(sql.dicts(cursor))


def differing_hits(table, scope: list[str]) -> tuple[int, list[dict]]:
    """Cache-hit rows of ``scope`` whose result differs from (or lacks) the computed row they
    reuse (the latest such row of the run they name). SQL keeps the candidates: a missing
    source or a column whose value or type differs; their digests decide."""
    results = result_columns(table)
    where, args = in_scope(scope, "h")
    differs = " OR ".join(
        f"h.{sql.quote(c)} IS NOT s.s{i} OR typeof(h.{sql.quote(c)}) != typeof(s.s{i})"
        for i, c in enumerate(results)
    )
    sources = ", ".join(f"{sql.quote(c)} AS s{i}" for i, c in enumerate(results))
    query = f"""
        WITH s AS (
            SELECT track_id AS s_track, cache_key AS s_key, {sources}, MAX(timestamp)
            FROM {table.quoted}
            WHERE {sql.text_empty("cache")} AND track_id IN (
                SELECT cache FROM {table.quoted} h WHERE {where} AND {sql.text_set("cache")})
            GROUP BY track_id, cache_key)
        SELECT {selected(table, NAMING, "h")}, s.s_track IS NOT NULL AS found,
            {", ".join(f"h.{sql.quote(c)}" for c in results)},
            {", ".join(f"s.s{i}" for i in range(len(results)))}
        FROM {table.quoted} h LEFT JOIN s ON s.s_track = h.cache AND s.s_key IS h.cache_key
        WHERE {where} AND {sql.text_set("cache")}
            AND h.cache IN (SELECT track_id FROM {table.quoted} WHERE track_id IS NOT NULL)
            AND (s.s_track IS NULL OR {differs or "0"})
        ORDER BY h.timestamp"""
    count, examples = 0, []
    for row in table.connection.execute(query, args + args):
        hit = dict(zip(results, row[4 : 4 + len(results)], strict=True))
        source = dict(zip(results, row[4 + len(results) :], strict=True)) if row[3] else {}
        if result_digest(result_of(hit)) != result_digest(result_of(source)):
            count += 1
            if len(examples) < EXAMPLES:
                examples.append(dict(zip(NAMING, row[:3], strict=True)))
    return count, examples


def check_lineage(table, scope: list[str]) -> list[Finding]:
    """A cache-hit row must equal the row of the run it claims to reuse, and that run exist."""
    if not table.has("cache", "cache_key"):
        return [Finding("lineage", SKIP, "no cache/cache_key columns")]
    where, args = in_scope(scope)
    hits = f"{where} AND {sql.text_set('cache')}"
    (total,) = table.one(f"SELECT COUNT(*) FROM {table.quoted} WHERE {hits}", args)
    runs = f"SELECT track_id FROM {table.quoted} WHERE track_id IS NOT NULL"
    orphans, orphan_rows = first_rows(table, f"{hits} AND cache NOT IN ({runs})", args)
    differing, differing_rows = differing_hits(table, scope)
    findings = []
    if orphans:
        findings.append(
            Finding(
                "hit_source",
                FAIL,
                f"{orphans} cache-hit rows name a run that is not in the db: "
                f"{named(orphan_rows, orphans)}",
                "Their results cannot be traced to a computation (rows deleted, or a cache "
                "from another db). Delete these rows and clear the cache (make cache-clear), "
                "then run again.",
                {"rows": orphans},
            )
        )
    if differing:
        findings.append(
            Finding(
                "lineage",
                FAIL,
                f"{differing} cache-hit rows differ from (or lack) the computed row they "
                f"reuse: {named(differing_rows, differing)}",
                "A row or the cache was changed after the fact. Clear the cache "
                "(make cache-clear) and run again, or bump PREDICT_VERSION.",
                {"rows": differing},
            )
        )
    checked = f"{total} cache-hit rows match the rows they reuse"
    return findings or [Finding("lineage", OK, checked)]


MEMO = 4096  # distinct values remembered per column (labels, error types; not ids)


def digests(names: list[str]):
    """``result_digest`` of rows given as value tuples in the order of ``names``, without a dict
    and json.dumps per row (a million rows are checked): the same JSON text, keys sorted once,
    each column's frequent values encoded once (tests/test_analysis_sql.py checks it equals
    ``result_digest``)."""
    order = sorted(range(len(names)), key=names.__getitem__)
    keys = [encode_basestring_ascii(names[i]) + ":" for i in order]
    memos = [{} for _ in order]

    def part(key: str, memo: dict, value) -> str:
        found = memo.get(value)
        if found is None:
            found = key + encode_basestring_ascii(_as_stored(value))
            if len(memo) < MEMO:
                memo[value] = found
        return found

    def digest(values) -> str:
        text = ",".join(
            part(keys[j], memos[j], values[i])
            for j, i in enumerate(order)
            if values[i] is not None and values[i] == values[i]  # NULL or NaN: left out
        )
        return hashlib.sha256(("{" + text + "}").encode()).hexdigest()[:16]

    return digest


def check_edited(table, scope: list[str]) -> Finding:
    """Each row's result still has the digest written with it (rows streamed, one at a time)."""
    if not table.has("row_digest"):
        return Finding("edited_rows", SKIP, "no row_digest column (rows written before it)")
    results = result_columns(table)
    digest = digests(results)
    where, args = in_scope(scope)
    cursor = table.connection.execute(
        f"SELECT {selected(table, NAMING)}, row_digest, "
        f"{', '.join(map(sql.quote, results)) or 'NULL'} FROM {table.quoted} "
        f"WHERE {where} AND {sql.text_set('row_digest')} ORDER BY timestamp",
        args,
    )
    checked = edited = 0
    examples = []
    for row in cursor:
        checked += 1
        if digest(row[4 : 4 + len(results)]) != row[3]:
            edited += 1
            if len(examples) < EXAMPLES:
                examples.append(dict(zip(NAMING, row[:3], strict=True)))
    if not edited:
        return Finding("edited_rows", OK, f"{checked} rows as written")
    return Finding(
        "edited_rows",
        FAIL,
        f"{edited} rows were changed after they were written: {named(examples, edited)}",
        "Results must come from predict. Delete these rows (and make cache-clear) and run "
        "again; to change a result, change predict and bump PREDICT_VERSION.",
        {"rows": edited},
    )


def check_phases(table) -> Finding:
    """The results db holds experiment runs only; dev and scratch runs go to dev.db."""
    if not table.has("phase"):
        return Finding("phases", SKIP, "no phase column")
    phases = Counter(
        dict(
            table.connection.execute(
                f"SELECT phase, COUNT(*) FROM {table.quoted} GROUP BY phase ORDER BY MIN(timestamp)"
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


def check_metrics_agree(table, counts: Counter, metrics: list[dict]) -> Finding:
    """Each metrics row equals summarize() over its run's rows of that configuration (one
    configuration in memory at a time)."""
    wrong = []
    checked = 0
    expected, expected_key = {}, None
    for m in metrics:
        key = (m.get("track_id"), m.get("config_id"))
        if not counts.get(key):
            continue
        checked += 1
        if key != expected_key:
            expected, expected_key = summarize(configuration_results(table, *key)), key
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


def check_config_ids(table, scope: list[str]) -> Finding:
    """Each row's config_id is the id of the Params its params columns describe."""
    if not table.has("config_id"):
        return Finding("config_ids", SKIP, "no config_id column")
    columns = sql.params_columns(table.columns)
    group = ", ".join(map(sql.quote, ["config_id", *columns]))
    where, args = in_scope(scope)
    cursor = table.connection.execute(  # each distinct configuration's first row
        f"SELECT {selected(table, NAMING[:2])}, {group}, MIN(timestamp) FROM {table.quoted} "
        f"WHERE {where} GROUP BY {group} ORDER BY MIN(timestamp)",
        args,
    )
    distinct = list(sql.dicts(cursor))
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
    counts = row_counts(table, scope)
    findings = [
        *check_lineage(table, scope),
        check_edited(table, scope),
        check_phases(table),
        check_completeness(counts, metrics, scope),
        check_metrics_agree(table, counts, metrics),
        check_config_ids(table, scope),
    ]
    if all_runs:
        findings.append(check_history(table, max_error_rate))
    return findings
