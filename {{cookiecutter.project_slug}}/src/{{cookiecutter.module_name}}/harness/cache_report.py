"""Cache analysis: how many executions were computed and how many were served from the cache.

Reads only the db, so it works on any run's db, including one written by plain xetrack.
"""

from pathlib import Path

from tabulate import tabulate

from .tracking import PREDICTIONS, read_table


def analyze(db: Path, table: str = PREDICTIONS, engine: str = "sqlite") -> dict:
    frame = read_table(db, table, engine)
    if frame is None:
        return {"error": f"{db} has no table {table!r}"}
    params = sorted(c for c in frame.columns if c.startswith("params_"))
    has_cache = "cache" in frame.columns
    frame = frame.assign(hit=frame["cache"].fillna("") != "" if has_cache else False)
    total, hits = len(frame), int(frame["hit"].sum())
    per_config = []
    if params and total:
        grouped = frame.groupby(params, dropna=False)["hit"].agg(["size", "sum"])
        for values, row in grouped.iterrows():
            values = values if isinstance(values, tuple) else (values,)
            per_config.append(
                {
                    **dict(zip(params, values, strict=True)),
                    "executions": int(row["size"]),
                    "hits": int(row["sum"]),
                    "hit_rate": row["sum"] / row["size"],
                }
            )
    return {
        "db": str(db),
        "table": table,
        "has_cache_column": has_cache,
        "runs": int(frame["track_id"].nunique()) if "track_id" in frame.columns else 1,
        "total": total,
        "hits": hits,
        "misses": total - hits,
        "unique_params": len(per_config) if params else 0,
        "null_params_rows": int(frame[params].isna().any(axis=1).sum()) if params else 0,
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
