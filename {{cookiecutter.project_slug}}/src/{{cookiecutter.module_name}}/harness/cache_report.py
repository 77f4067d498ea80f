"""Cache analysis: how many executions were computed and how many were served from the cache.

Reads only the db, so it works on any run's db, including one written by plain xetrack.
"""

from contextlib import closing
from pathlib import Path

from tabulate import tabulate

from . import sql
from .tracking import PREDICTIONS, require_engine, table_exists


def analyze(db: Path, table: str = PREDICTIONS, engine: str = "sqlite") -> dict:
    """Counts of the whole table and per parameter combination, as SQL aggregates."""
    if not table_exists(db, table):
        return {"error": f"{db} has no table {table!r}"}
    require_engine(engine)  # the same refusal as the run's, though SQLite reads the file
    with closing(sql.connect(db)) as connection:
        return counts(connection, db, table)


def counts(connection, db: Path, table: str) -> dict:
    names = sql.columns(connection, table)
    params = sql.params_columns(names)
    has_cache = "cache" in names
    hit = sql.text_set("cache") if has_cache else "0"
    runs = "COUNT(DISTINCT track_id)" if "track_id" in names else "1"
    any_null = " OR ".join(f"{sql.quote(c)} IS NULL" for c in params) or "0"
    total, hits, runs, null_rows = connection.execute(
        f"SELECT COUNT(*), COALESCE(SUM({hit}), 0), {runs}, COALESCE(SUM({any_null}), 0) "
        f"FROM {sql.quote(table)}"
    ).fetchone()
    per_config = []
    if params and total:
        group = ", ".join(map(sql.quote, params))
        order = ", ".join(f"{sql.quote(c)} IS NULL, {sql.quote(c)}" for c in params)
        cursor = connection.execute(  # sorted, NULLs last
            f"SELECT {group}, COUNT(*), SUM({hit}) FROM {sql.quote(table)} "
            f"GROUP BY {group} ORDER BY {order}"
        )
        for *values, size, hit_count in cursor:
            per_config.append(
                {
                    **dict(zip(params, values, strict=True)),
                    "executions": size,
                    "hits": hit_count,
                    "hit_rate": hit_count / size,
                }
            )
    return {
        "db": str(db),
        "table": table,
        "has_cache_column": has_cache,
        "runs": runs,
        "total": total,
        "hits": hits,
        "misses": total - hits,
        "unique_params": len(per_config) if params else 0,
        "null_params_rows": null_rows if params else 0,
        "per_config": per_config,
    }


def advice(stats: dict) -> list[str]:
    tips = []
    if not stats["has_cache_column"]:
        tips.append(
            "No cache column: this table was written without a cache, so every row is an execution."
        )
    elif stats["hits"] == 0 and stats["runs"] <= 1:
        tips.append("First run: no hits expected. Run again: every datapoint should then be a hit.")
    elif stats["total"] and stats["hits"] / stats["total"] < 0.5 and stats["runs"] > 1:
        tips.append(
            "Low hit rate over several runs. Usual causes: the cache directory was deleted or "
            "moved; PREDICT_VERSION or params changed; unquantized floats or mutable fields in "
            "params; data ids or text changed; many failed datapoints (errors are retried)."
        )
    if stats["null_params_rows"]:
        tips.append(
            f"{stats['null_params_rows']} rows have NULL params columns (plain xetrack logs cache "
            "hits that way): they drop out of per-configuration analysis."
        )
    return tips


def render(stats: dict) -> str:
    if "error" in stats:
        return f"Cache Analysis: {stats['error']}"
    total = stats["total"] or 1
    first = "  <- first run" if stats["hits"] == 0 and stats["runs"] <= 1 else ""
    lines = [
        "Cache Analysis:",
        f"- Total executions: {stats['total']}",
        f"- Cache hits: {stats['hits']} ({stats['hits'] / total:.1%}){first}",
        f"- Cache misses: {stats['misses']} ({stats['misses'] / total:.1%})",
        f"- Unique parameter combinations: {stats['unique_params']}",
        f"- Runs: {stats['runs']}",
    ]
    if stats["per_config"]:
        table = [{**row, "hit_rate": f"{row['hit_rate']:.1%}"} for row in stats["per_config"]]
        lines += ["", "Per parameter combination:", tabulate(table, "keys")]
    tips = advice(stats)
    if tips:
        lines += ["", "Advice:", *(f"- {tip}" for tip in tips)]
    return "\n".join(lines)
