"""Metrics that several kinds compute the same way: latency statistics and a classifier's
per-datapoint values. A kind's metrics.py uses them; change them there to do otherwise."""

import numpy as np

LATENCY_HIGHER_IS_BETTER = {
    "latency_mean": False,
    "latency_p50": False,
    "latency_p95": False,
    "latency_p99": False,
}
# Latency varies with the machine's load: a relative threshold of 10% (per datapoint: "latency").
LATENCY_THRESHOLDS = {**dict.fromkeys(LATENCY_HIGHER_IS_BETTER, 0.10), "latency": 0.10}
# Measurements of the machine, not of the answers: compare judges them between replicates.
LATENCY_MEASUREMENTS = tuple(LATENCY_THRESHOLDS)  # latency_mean, ..., latency (per datapoint)


def latency_summary(latencies: list[float], missing=None) -> dict:
    """Mean and 50th, 95th and 99th percentiles of ``latencies`` (seconds), as the names of
    LATENCY_HIGHER_IS_BETTER; each is ``missing`` when there are no latencies."""
    if not latencies:
        return dict.fromkeys(LATENCY_HIGHER_IS_BETTER, missing)
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99])
    return {
        "latency_mean": float(np.mean(latencies)),
        "latency_p50": float(p50),
        "latency_p95": float(p95),
        "latency_p99": float(p99),
    }


def correct_and_latency(result: dict) -> dict:
    """Per-datapoint values of a classifier's result row: ``correct`` (1.0 when the prediction
    is the ground truth, else 0.0) and ``latency``; both None where the datapoint failed."""
    if result.get("error"):
        return {"correct": None, "latency": None}
    return {
        "correct": float(result.get("prediction") == result.get("ground_truth")),
        "latency": result.get("latency"),
    }
