"""The end-of-run summary as a person reads it: one line per configuration named by the params
that vary across the grid (not its config_id hash), latency in milliseconds, failed datapoints
and their most frequent error types. ``as_json`` gives the same for scripts (``run --json``)."""

import json
import math

from tabulate import tabulate

from .compare.stats import wilson
from .kind import PROPORTIONS

PARAMS_PREFIX = "params_"
LATENCY = "latency_p50"


def varying_params(rows: list[dict]) -> list[str]:
    """The params columns whose value differs between ``rows`` (all of them if none differs)."""
    columns = [name for name in (rows[0] if rows else {}) if name.startswith(PARAMS_PREFIX)]
    varying = [name for name in columns if len({repr(row.get(name)) for row in rows}) > 1]
    return varying or columns[:1]


def milliseconds(seconds) -> float | None:
    """Seconds -> milliseconds; None stays None (no successful datapoint), NaN becomes None."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return None
    return seconds * 1000


def with_interval(metric: dict, name: str):
    """A proportion with its 95% Wilson interval, as text; other values as they are."""
    value, n = metric.get(name), metric.get("n")
    if name not in PROPORTIONS or value is None or not n or math.isnan(value):
        return value
    low, high = wilson(round(value * n), n)
    return f"{value:.4g} [{low:.3g}, {high:.3g}]"


def table_rows(metrics: list[dict], errors: dict, primary: str) -> list[dict]:
    """One row per configuration: varying params, primary metric and error rate (with their 95%
    intervals when they are proportions), failures, latency (ms), n."""
    params = varying_params(metrics)
    rows = []
    for metric in metrics:
        counts = errors.get(metric["config_id"], {})
        top = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))[:2]
        rows.append(
            {
                **{name.removeprefix(PARAMS_PREFIX): metric.get(name) for name in params},
                primary: with_interval(metric, primary),
                "error_rate": with_interval(metric, "error_rate"),
                "failed": sum(counts.values()),
                "top errors": ", ".join(f"{name} x{count}" for name, count in top),
                "latency_p50_ms": milliseconds(metric.get(LATENCY)),
                "n": metric.get("n"),
                "computed": metric.get("n_computed"),
                "reused": metric.get("n_reused"),
            }
        )
    return rows


def render(metrics: list[dict], errors: dict, primary: str) -> str:
    return tabulate(table_rows(metrics, errors, primary), "keys", floatfmt=".4g", missingval="-")


def as_json(summary, phase: str, db, primary: str) -> str:
    """The run's summary (``runner.RunSummary``) as JSON: counts and one entry per configuration."""
    document = {
        "track_id": summary.track_id,
        "phase": phase,
        "db": str(db),
        "computed": summary.computed,
        "reused": summary.reused,
        "failed": summary.failed,
        "duplicates": summary.duplicates,
        "healed": summary.healed,
        "seconds": round(summary.seconds, 3),
        "primary": primary,
        "configurations": [
            {
                **{name: finite(value) for name, value in metric.items()},
                "errors": dict(summary.errors.get(metric["config_id"], {})),
            }
            for metric in summary.metrics
        ],
    }
    return json.dumps(document, indent=2, default=str)


def finite(value):
    """NaN and infinities are not JSON: null instead."""
    return None if isinstance(value, float) and not math.isfinite(value) else value
