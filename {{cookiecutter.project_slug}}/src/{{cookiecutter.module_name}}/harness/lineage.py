"""validate's lineage checks, row by row: a cache-hit row equals the row it reuses
(``check_lineage``, SQL keeps the candidates); whether each row still has the digest written
with it is row_pass.py's. Shared with integrity.py and row_pass.py: scope and naming.
``table`` is validation's Table: connection, name, columns, ``has``, ``one``.
"""

import json

from . import sql
from .findings import FAIL, OK, SKIP, Finding
from .identity import result_digest
from .tracking import is_result_column

EXAMPLES = 5  # rows named in a finding's message
NAMING = ("track_id", "input_id", "config_id")  # what names a row in a message


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


def check_lineage(table, scope: list[str], total: int | None = None) -> list[Finding]:
    """A cache-hit row must equal the row of the run it claims to reuse, and that run exist
    (``total``: the number of cache-hit rows in ``scope`` when already counted)."""
    if not table.has("cache", "cache_key"):
        return [Finding("lineage", SKIP, "no cache/cache_key columns")]
    where, args = in_scope(scope)
    hits = f"{where} AND {sql.text_set('cache')}"
    if total is None:
        (total,) = table.one(f"SELECT COUNT(*) FROM {table.quoted} WHERE {hits}", args)
    checked = f"{total} cache-hit rows match the rows they reuse"
    if not total:  # no hit: none to trace
        return [Finding("lineage", OK, checked)]
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
    return findings or [Finding("lineage", OK, checked)]
