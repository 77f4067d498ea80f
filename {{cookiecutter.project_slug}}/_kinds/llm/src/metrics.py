"""Metrics of the prompt benchmark, per configuration and per datapoint.

Replies are parsed HERE, at analysis time, from the text predict stored: improve
``parse_answer`` and every past run is re-scored without asking the model again.

The names this file provides (PRIMARY, HIGHER_IS_BETTER, ``summarize``, ``row_values``, ...)
are the kind contract: harness/kind.py says what each one means and who uses it.
``extra_plots`` adds the report's accuracy-against-cost and tokens plots.
"""

import math
import re

import numpy as np

from .harness.shared_metrics import (
    LATENCY_HIGHER_IS_BETTER,
    LATENCY_MEASUREMENTS,
    LATENCY_THRESHOLDS,
    latency_summary,
)

PRIMARY = "accuracy"
PRIMARY_LABEL = "accuracy (parsed answer matches; failed requests count as wrong)"
ERROR_TYPES = {  # error_type -> the error_rate_* column it counts in (anything else: other)
    "RequestTimeout": "timeout",
    "RateLimited": "rate_limit",
    "ServerError": "server",
}
HIGHER_IS_BETTER = {
    "accuracy": True,
    "exact_match": True,  # the reply is exactly the answer, unparsed
    "cost_per_correct": False,  # USD per correct answer
    "cost_total": False,  # USD
    "tokens_mean": False,  # prompt + completion tokens per request
    "completion_tokens_mean": False,
    "truncated_rate": False,  # replies cut by max_tokens (finish_reason "length")
    "retries_mean": False,
    "error_rate": False,
    "error_rate_timeout": False,
    "error_rate_rate_limit": False,
    "error_rate_server": False,
    "error_rate_other": False,
    **LATENCY_HIGHER_IS_BETTER,  # latency_mean, latency_p50, _p95, _p99: lower is better
}
ROW_HIGHER_IS_BETTER = {
    "correct": True,
    "exact": True,
    "latency": False,
    "cost": False,
    "tokens": False,
}
PROPORTIONS = (  # absolute thresholds (points), Wilson intervals
    "accuracy",
    "exact_match",
    "truncated_rate",
    "error_rate",
    "error_rate_timeout",
    "error_rate_rate_limit",
    "error_rate_server",
    "error_rate_other",
    "correct",
    "exact",
)
THRESHOLDS = LATENCY_THRESHOLDS  # relative
MEASUREMENTS = LATENCY_MEASUREMENTS  # vary run to run: compared between replicates
# "Answer: X", "answer is X", "The answer is X." (the last one wins)
ANSWER = re.compile(r"\banswer\s*(?:is|:|=)\s*(.+)", re.IGNORECASE)


def normalize(text: str | None) -> str | None:
    """Lowercase, single spaces, no surrounding quotes, stars or final period."""
    if not isinstance(text, str):
        return None  # None, or NaN from a table's NULL
    text = " ".join(text.split()).lower()
    return text.strip(" \"'*`").rstrip(".!").strip(" \"'*`") or None


def parse_answer(reply: str | None) -> str | None:
    """The answer a reply gives, normalized; None when it gives none.

    An "answer: X" / "the answer is X" line wins (the last one); otherwise a one-line reply is
    the answer itself. A longer reply without such a line (cut by max_tokens, say) has none.
    """
    if not isinstance(reply, str) or not reply.strip():
        return None
    found = ANSWER.findall(reply)
    if found:
        return normalize(found[-1])
    lines = reply.strip().splitlines()
    return normalize(lines[0]) if len(lines) == 1 else None


def is_correct(result: dict) -> bool:
    truth = normalize(result.get("ground_truth"))
    if result.get("error") or truth is None:
        return False
    return parse_answer(result.get("prediction")) == truth


def is_exact(result: dict) -> bool:
    reply, truth = result.get("prediction"), result.get("ground_truth")
    if result.get("error") or not isinstance(reply, str) or not isinstance(truth, str):
        return False
    return reply.strip() == truth.strip()


def row_values(result: dict) -> dict:
    """Per-datapoint metrics of one result row (None where the datapoint failed)."""
    if result.get("error"):
        return {"correct": None, "exact": None, "latency": None, "cost": None, "tokens": None}
    return {
        "correct": float(is_correct(result)),
        "exact": float(is_exact(result)),
        "latency": result.get("latency"),
        "cost": number(result.get("cost")),
        "tokens": result.get("total_tokens"),
    }


def number(value) -> float:
    """A float, NaN for a missing value (a model without a price has cost NULL)."""
    return math.nan if value is None else float(value)


def mean(values: list) -> float:
    return float(np.mean(values)) if values else math.nan


def summarize(results: list[dict]) -> dict:
    """Accuracy (errors count as wrong), cost, tokens, error rates by type and latency in
    seconds. Undefined values (no successful request, no correct answer) are NaN."""
    n = len(results)
    ok = [r for r in results if not r.get("error")]
    failed = [r for r in results if r.get("error")]
    latencies = [r["latency"] for r in ok if r.get("latency") is not None]
    correct = sum(is_correct(r) for r in ok)
    cost_total = float(sum(number(r.get("cost")) for r in ok))  # NaN if a price is unknown
    summary = {
        "n": n,
        "n_failed": len(failed),
        "error_rate": len(failed) / n if n else 0.0,
        "accuracy": correct / n if n else 0.0,
        "exact_match": sum(is_exact(r) for r in ok) / n if n else 0.0,
        "cost_total": cost_total,
        "cost_per_correct": cost_total / correct if correct else math.nan,
        "tokens_mean": mean([r.get("total_tokens") or 0 for r in ok]),
        "completion_tokens_mean": mean([r.get("completion_tokens") or 0 for r in ok]),
        "truncated_rate": sum(r.get("finish_reason") == "length" for r in ok) / n if n else 0.0,
        "retries_mean": mean([r.get("retries") or 0 for r in results]),
        **latency_summary(latencies, missing=math.nan),
    }
    for bucket in ("timeout", "rate_limit", "server", "other"):
        count = sum(ERROR_TYPES.get(r.get("error_type"), "other") == bucket for r in failed)
        summary[f"error_rate_{bucket}"] = count / n if n else 0.0
    return summary


def extra_plots(metrics, predictions, labels: list[str], folder) -> list[tuple[str, str]]:
    """The report's prompt-benchmark plots: accuracy against cost, tokens per configuration.

    ``metrics``: one row per configuration (best first), ``labels`` in the same order.
    """
    import matplotlib.pyplot as plt  # the report's import: `run` never loads matplotlib

    fig, ax = plt.subplots(figsize=(8, 5 + 0.25 * len(labels)))
    cost, accuracy = metrics["cost_total"].astype(float), metrics["accuracy"].astype(float)
    markers = "osD^vP*X"
    for number, (x, y, label) in enumerate(zip(cost, accuracy, labels, strict=True)):
        name = " ".join(label.split())
        ax.scatter(x, y, marker=markers[number % len(markers)], s=60, label=name)
    scale = ""
    if (cost > 0).all():
        ax.set_xscale("log")
        scale = ", log scale"
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.15), frameon=False)
    ax.set_xlabel(f"cost over the dataset (USD{scale}; models without a price are not shown)")
    ax.set_ylabel("accuracy")
    ax.set_title("Accuracy against cost (up and left is better)")
    fig.tight_layout()
    fig.savefig(folder / "cost_vs_accuracy.png", dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 0.5 * len(labels) + 1.5))
    completion = metrics["completion_tokens_mean"].astype(float)
    prompt = metrics["tokens_mean"].astype(float) - completion
    ax.barh(labels, prompt, color="tab:gray", label="prompt")
    ax.barh(labels, completion, left=prompt, color="tab:orange", label="completion")
    ax.set_xlabel("tokens per request (mean)")
    ax.set_title("Tokens per configuration")
    ax.invert_yaxis()
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(folder / "tokens.png", dpi=100)
    plt.close(fig)
    return [
        ("Accuracy against cost", "cost_vs_accuracy.png"),
        ("Tokens per request", "tokens.png"),
    ]
