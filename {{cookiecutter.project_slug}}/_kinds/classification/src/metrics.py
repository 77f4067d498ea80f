"""Metrics of the classification benchmark, per configuration and per datapoint.

Every benchmark kind declares the same names: PRIMARY (the metric the report plots and the
summary ranks by), HIGHER_IS_BETTER (each metric of ``summarize`` with its direction),
``summarize(results)``, ``row_values(result)`` (per-datapoint values, for comparisons) and
ROW_HIGHER_IS_BETTER (each key of ``row_values`` with its direction: ``compare`` tests them on
the paired datapoints of two runs).
"""

import numpy as np

PRIMARY = "accuracy"
PRIMARY_LABEL = "accuracy (fraction correct; failed datapoints count as wrong)"
HIGHER_IS_BETTER = {
    "accuracy": True,
    "error_rate": False,
    "latency_mean": False,
    "latency_p50": False,
    "latency_p95": False,
    "latency_p99": False,
}
ROW_HIGHER_IS_BETTER = {"correct": True, "latency": False}


def row_values(result: dict) -> dict:
    """Per-datapoint metrics of one result row (None where the datapoint failed)."""
    failed = bool(result.get("error"))
    return {
        "correct": None
        if failed
        else float(result.get("prediction") == result.get("ground_truth")),
        "latency": None if failed else result.get("latency"),
    }


def summarize(results: list[dict]) -> dict:
    """Accuracy (errors count as wrong), error rate and latency statistics in seconds."""
    n = len(results)
    ok = [r for r in results if not r.get("error")]
    latencies = [r["latency"] for r in ok if r.get("latency") is not None]
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99]) if latencies else (None, None, None)
    correct = sum(1 for r in ok if r.get("prediction") == r.get("ground_truth"))
    return {
        "n": n,
        "n_failed": n - len(ok),
        "error_rate": (n - len(ok)) / n if n else 0.0,
        "accuracy": correct / n if n else 0.0,
        "latency_mean": float(np.mean(latencies)) if latencies else None,
        "latency_p50": None if p50 is None else float(p50),
        "latency_p95": None if p95 is None else float(p95),
        "latency_p99": None if p99 is None else float(p99),
    }
