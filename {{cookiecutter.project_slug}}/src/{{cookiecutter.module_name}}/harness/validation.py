"""Can these results be trusted? Checks over a predictions table, for people and for CI.

Works on any xetrack db: a check that needs a column the table lacks is skipped, and says so.
"""

import json
import types
import typing
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from .findings import FAIL, OK, SKIP, WARN, Finding
from .identity import type_hints
from .integrity import check_rows
from .kind import Params, grid
from .level_checks import check_levels, measured
from .schema import declared, params_drift
from .tracking import METRICS, PREDICTIONS, flatten, read_table

MAX_ERROR_RATE = 0.2  # failed-datapoint rate of the latest run above which validation fails


def params_columns(frame: pd.DataFrame) -> list[str]:
    return sorted(c for c in frame.columns if c.startswith("params_"))


def identity_columns(frame: pd.DataFrame) -> list[str]:
    """What makes two rows the same computation: cache_key if recorded, else input and params."""
    if "cache_key" in frame.columns:
        return ["cache_key"]
    return [c for c in ("input_id", *params_columns(frame)) if c in frame.columns]


def computed_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows that ran predict (not served from the cache)."""
    if "cache" not in frame.columns:
        return frame
    return frame[frame["cache"].fillna("") == ""]


def succeeded(frame: pd.DataFrame) -> pd.DataFrame:
    if "error" not in frame.columns:
        return frame
    return frame[frame["error"].fillna("") == ""]


def latest_run(frame: pd.DataFrame) -> pd.DataFrame:
    if "track_id" not in frame.columns or frame.empty:
        return frame
    last = frame.sort_values("timestamp")["track_id"].iloc[-1]
    return frame[frame["track_id"] == last]


def check_leaks(frame: pd.DataFrame) -> Finding:
    keys = identity_columns(frame)
    if not keys:
        return Finding(
            "leaks", SKIP, "no input_id, params_* or cache_key columns to identify computations"
        )
    done = succeeded(computed_rows(frame))
    counts = done.groupby(keys, dropna=False).size()
    leaked = counts[counts > 1]
    if leaked.empty:
        return Finding("leaks", OK, f"every computation ran once ({len(done)} computed rows)")
    return Finding(
        "leaks",
        FAIL,
        f"{len(leaked)} computations ran more than once "
        f"({int(leaked.sum() - len(leaked))} extra executions)",
        "The same (input, params) was computed again instead of served from the cache: was the "
        "cache directory deleted, or two runs started at once? Delete the extra rows or bump "
        "PREDICT_VERSION to start clean.",
        {"examples": [str(k) for k in leaked.index[:5]]},
    )


def check_duplicates(frame: pd.DataFrame) -> Finding:
    keys = identity_columns(frame)
    if "track_id" not in frame.columns or not keys:
        return Finding("duplicates", SKIP, "no track_id or identity columns")
    counts = frame.groupby(["track_id", *keys], dropna=False).size()
    duplicated = counts[counts > 1]
    if duplicated.empty:
        return Finding("duplicates", OK, "no datapoint appears twice within a run")
    return Finding(
        "duplicates",
        FAIL,
        f"{len(duplicated)} datapoints appear more than once within a run",
        "A run logs each (input, params) once: look for duplicate ids in the data or the grid.",
        {"examples": [str(k) for k in duplicated.index[:5]]},
    )


def optional_columns() -> set[str]:
    """params columns of Params fields declared ``X | None``: NULL there is a value."""
    return {
        f"params_{name}"
        for name, hint in type_hints(Params).items()
        if typing.get_origin(hint) in (typing.Union, types.UnionType)
        and type(None) in typing.get_args(hint)
    }


def check_null_params(frame: pd.DataFrame) -> Finding:
    columns = params_columns(frame)
    if not columns:
        return Finding("null_params", SKIP, "no params_* columns")
    optional = optional_columns()
    nulls = {c: int(n) for c, n in frame[columns].isna().sum().items() if n and c not in optional}
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


def check_failures(frame: pd.DataFrame, max_error_rate: float) -> Finding:
    if "error" not in frame.columns:
        return Finding("failures", SKIP, "no error column")
    run = latest_run(frame)
    errors = run[run["error"].fillna("") != ""]
    rate = len(errors) / len(run) if len(run) else 0.0
    top = {}
    if "error_type" in errors.columns and not errors.empty:
        top = errors["error_type"].fillna("").value_counts().head(5).to_dict()
    details = {"failed": len(errors), "rows": len(run), "rate": rate, "top_error_types": top}
    message = f"latest run: {len(errors)}/{len(run)} datapoints failed ({rate:.1%})"
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
    return Finding("failures", WARN if len(errors) else OK, message, "", details)


def check_cache(frame: pd.DataFrame) -> Finding:
    if "cache" not in frame.columns:
        return Finding("cache", SKIP, "no cache column: this db was written without a cache")
    hits = int((frame["cache"].fillna("") != "").sum())
    runs = frame["track_id"].nunique() if "track_id" in frame.columns else 1
    rate = hits / len(frame) if len(frame) else 0.0
    message = f"{hits}/{len(frame)} rows served from the cache ({rate:.1%}) over {runs} runs"
    replicates = frame["replicate"].fillna(0).nunique() if "replicate" in frame.columns else 1
    if runs > replicates and hits == 0:  # each replicate (run --replicate N) computes anew
        return Finding(
            "cache",
            WARN,
            message,
            "Several runs and no cache hit: was the cache directory deleted, or did "
            "PREDICT_VERSION or the params change between runs?",
        )
    return Finding("cache", OK, message)


def check_metrics(frame: pd.DataFrame, metrics: pd.DataFrame | None) -> Finding:
    if metrics is None:
        return Finding("metrics", SKIP, f"no {METRICS} table in this db")
    if "track_id" not in frame.columns or "config_id" not in frame.columns:
        return Finding("metrics", SKIP, "no track_id/config_id columns to match metrics rows")
    run = latest_run(frame)
    track_id = run["track_id"].iloc[0]
    expected = set(run["config_id"].dropna())
    have = (
        set(metrics.loc[metrics["track_id"] == track_id, "config_id"].dropna())
        if "config_id" in metrics.columns
        else set()
    )
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


def check_drift(db: Path, table: str, frame: pd.DataFrame) -> Finding:
    if "config_id" not in frame.columns:
        return Finding(
            "schema_drift", SKIP, "table not written by this project: no Params to compare"
        )
    drift = params_drift(db, table, set(flatten("params", grid()[0])), declared(Params))
    lines = drift.describe(table)
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
    """Every check; the row-level ones (integrity.py) on the latest run, or all with all_runs."""
    if not Path(db).exists():
        return [
            Finding("database", FAIL, f"{db} does not exist", "Run the benchmark first (make run).")
        ]
    frame = read_table(db, table, engine)
    if frame is None:
        return [
            Finding(
                "database",
                FAIL,
                f"{db} has no table {table!r}",
                "Pass the table name as the second argument.",
            )
        ]
    if frame.empty:
        return [
            Finding(
                "database", FAIL, f"table {table!r} is empty", "Run the benchmark first (make run)."
            )
        ]
    metrics = read_table(db, METRICS, engine) if table == PREDICTIONS else None
    return [
        check_leaks(measured(frame)),  # interrupted load levels: level_checks.py
        check_duplicates(frame),
        check_null_params(frame),
        check_failures(frame, max_error_rate),
        check_cache(frame),
        check_metrics(frame, metrics),
        check_drift(db, table, frame),
        *check_rows(db, table, all_runs, max_error_rate),
        *check_levels(frame),
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
