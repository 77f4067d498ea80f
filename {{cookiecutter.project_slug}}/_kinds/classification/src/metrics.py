"""Metrics of the classification benchmark, per configuration and per datapoint.

The names this file provides (PRIMARY, HIGHER_IS_BETTER, ``summarize``, ``row_values``, ...)
are the kind contract: harness/kind.py says what each one means and who uses it.
"""

from .harness.shared_metrics import (
    LATENCY_HIGHER_IS_BETTER,
    LATENCY_MEASUREMENTS,
    LATENCY_THRESHOLDS,
    correct_and_latency,
    latency_summary,
)

PRIMARY = "accuracy"
PRIMARY_LABEL = "accuracy (fraction correct; failed datapoints count as wrong)"
HIGHER_IS_BETTER = {
    "accuracy": True,
    "error_rate": False,
    **LATENCY_HIGHER_IS_BETTER,  # latency_mean, latency_p50, _p95, _p99: lower is better
}
ROW_HIGHER_IS_BETTER = {"correct": True, "latency": False}
PER_CLASS = True  # the report shows each class's precision and recall
PROPORTIONS = ("accuracy", "error_rate", "correct")  # absolute thresholds, Wilson intervals
THRESHOLDS = LATENCY_THRESHOLDS  # relative
MEASUREMENTS = LATENCY_MEASUREMENTS  # vary run to run: compared between replicates

# Per datapoint, for comparisons: correct (1.0 or 0.0) and latency; None where it failed.
row_values = correct_and_latency


# The result fields summarize reads (the runner reads only these back for the metrics rows).
SUMMARY_FIELDS = ("error", "latency", "prediction", "ground_truth")


def summarize(results: list[dict]) -> dict:
    """Accuracy (errors count as wrong), error rate and latency statistics in seconds."""
    n = len(results)
    ok = [r for r in results if not r.get("error")]
    latencies = [r["latency"] for r in ok if r.get("latency") is not None]
    correct = sum(1 for r in ok if r.get("prediction") == r.get("ground_truth"))
    return {
        "n": n,
        "n_failed": n - len(ok),
        "error_rate": (n - len(ok)) / n if n else 0.0,
        "accuracy": correct / n if n else 0.0,
        **latency_summary(latencies),  # None without a successful datapoint
    }
