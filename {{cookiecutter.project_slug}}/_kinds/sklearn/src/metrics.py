"""Metrics of the model comparison, per configuration and per datapoint.

The names this file provides (PRIMARY, HIGHER_IS_BETTER, ``summarize``, ``row_values``, ...)
are the kind contract: harness/kind.py says what each one means and who uses it.
``extra_plots`` adds this kind's plot to the report.
"""

from sklearn.metrics import f1_score

from .harness.shared_metrics import (
    LATENCY_HIGHER_IS_BETTER,
    LATENCY_MEASUREMENTS,
    LATENCY_THRESHOLDS,
    correct_and_latency,
    latency_summary,
)

PRIMARY = "macro_f1"
PRIMARY_LABEL = "macro F1 (failed datapoints count as wrong)"
HIGHER_IS_BETTER = {
    "macro_f1": True,
    "accuracy": True,
    "fit_seconds": False,
    "error_rate": False,
    **LATENCY_HIGHER_IS_BETTER,  # latency_mean, latency_p50, _p95, _p99: lower is better
}
ROW_HIGHER_IS_BETTER = {"correct": True, "latency": False}
PER_CLASS = True  # the report shows each class's precision and recall
PROPORTIONS = ("accuracy", "error_rate", "correct")  # absolute thresholds, Wilson intervals
ABSOLUTE_THRESHOLDS = {"macro_f1": 0.02}  # in [0, 1] like a proportion: two points
THRESHOLDS = {**LATENCY_THRESHOLDS, "fit_seconds": 0.2}  # relative
MEASUREMENTS = (*LATENCY_MEASUREMENTS, "fit_seconds")  # vary run to run: between replicates

# Per datapoint, for comparisons: correct (1.0 or 0.0) and latency; None where it failed.
row_values = correct_and_latency


# The result fields summarize reads (the runner reads only these back for the metrics rows).
SUMMARY_FIELDS = ("error", "latency", "prediction", "ground_truth", "fit_seconds")


def summarize(results: list[dict]) -> dict:
    """Macro F1 and accuracy (errors count as wrong), the model's fit time, error rate and
    prediction latency statistics, all times in seconds."""
    n = len(results)
    ok = [r for r in results if not r.get("error")]
    latencies = [r["latency"] for r in ok if r.get("latency") is not None]
    truth = [str(r.get("ground_truth")) for r in results]
    # A failed datapoint predicts "" (no class): wrong for accuracy and for F1.
    predicted = ["" if r.get("error") else str(r.get("prediction")) for r in results]
    classes = sorted(set(truth))  # F1 of each true class, averaged: every class counts the same
    f1 = f1_score(truth, predicted, labels=classes, average="macro", zero_division=0) if n else 0
    fits = [r["fit_seconds"] for r in ok if r.get("fit_seconds") is not None]
    return {
        "n": n,
        "n_failed": n - len(ok),
        "error_rate": (n - len(ok)) / n if n else 0.0,
        "macro_f1": float(f1),
        "accuracy": sum(t == p for t, p in zip(truth, predicted, strict=True)) / n if n else 0.0,
        "fit_seconds": max(fits) if fits else None,
        **latency_summary(latencies),  # None without a successful datapoint
    }


def extra_plots(metrics, predictions, labels: list[str], folder) -> list[tuple[str, str]]:
    """The report's model-comparison plot: the fit time of each configuration.

    ``metrics``: one row per configuration (best first), ``labels`` in the same order.
    """
    import matplotlib.pyplot as plt  # the report's import: `run` never loads matplotlib

    fig, ax = plt.subplots(figsize=(8, 0.5 * len(labels) + 1.5))
    ax.barh(labels, metrics["fit_seconds"].astype(float) * 1000, color="tab:orange")
    ax.set_xscale("log")  # a forest fits 100x slower than k-NN: keep both readable
    ax.set_xlabel("fit time (ms, log scale; once per configuration, on the training rows)")
    ax.set_title("Fit time per configuration")
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(folder / "fit_time.png", dpi=100)
    plt.close(fig)
    return [("Fit time per configuration", "fit_time.png")]
