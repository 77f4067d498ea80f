"""Per-configuration metrics, computed from one run's result rows."""

import numpy as np


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
