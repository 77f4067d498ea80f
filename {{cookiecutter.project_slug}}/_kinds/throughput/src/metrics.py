"""Metrics of the load test, per concurrency level and per request.

The names this file provides (PRIMARY, HIGHER_IS_BETTER, ``summarize``, ``row_values``, ...)
are the kind contract: harness/kind.py says what each one means and who uses it.

Requests/s comes from the rows, not from a stopwatch around the run: for each execution of a
level (``level_run``, one per run that computed some of its requests) the span from its first
request's ``started_at`` to its last one's ``finished_at``; requests/s is the level's requests
over the sum of those spans. A rerun serves every row from the cache with its original
timestamps, so it reports the throughput that was measured. A level is measured whole
(harness/levels.py), so it has one ``level_run``; several occur only in dbs written before
levels were units, where a resumed run topped a level up.
"""

import math
from collections import defaultdict

from .harness.shared_metrics import (
    LATENCY_HIGHER_IS_BETTER,
    LATENCY_MEASUREMENTS,
    LATENCY_THRESHOLDS,
    latency_summary,
)

PRIMARY = "requests_per_second"
PRIMARY_LABEL = "requests per second (all requests of the level over its measured span)"
HIGHER_IS_BETTER = {
    "requests_per_second": True,
    "successes_per_second": True,  # requests that did not fail, per second (goodput)
    "error_rate": False,
    "span_seconds": False,  # wall time the level's requests took (same requests: lower is better)
    "cpu_percent_mean": False,  # the machine's CPU use over the level's span (all cores = 100)
    "memory_percent_max": False,  # the machine's memory use, highest sample
    "driver_rss_mb_max": False,  # memory of the process sending the requests, highest sample
    **LATENCY_HIGHER_IS_BETTER,  # latency_mean, latency_p50, _p95, _p99: lower is better
}
ROW_HIGHER_IS_BETTER = {"latency": False}
# Run-level figures vary with whatever else the machine is doing, which resampling requests
# cannot see: `compare` calls them changed only beyond these relative thresholds.
PROPORTIONS = ("error_rate",)  # an absolute threshold (points), a Wilson interval
# Measurements of the machine and the service: compare judges them between replicates
# (run --replicate), never on the requests of one run.
MEASUREMENTS = (
    *LATENCY_MEASUREMENTS,
    "requests_per_second",
    "successes_per_second",
    "span_seconds",
    "cpu_percent_mean",
    "memory_percent_max",
    "driver_rss_mb_max",
)
THRESHOLDS = {
    **LATENCY_THRESHOLDS,
    "requests_per_second": 0.2,
    "successes_per_second": 0.2,
    "span_seconds": 0.2,
    "cpu_percent_mean": 0.5,
    "memory_percent_max": 0.2,
    "driver_rss_mb_max": 0.2,
}


def number(value) -> float | None:
    """A float, None for a missing value (None or NaN, as the db gives it back)."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def level_runs(results: list[dict]) -> list[tuple[float, float | None]]:
    """(span in seconds, CPU percent over that span) of each execution of the level.

    The span is from the first request's ``started_at`` to the last one's ``finished_at``; the
    CPU figure is the last request's ``system_cpu_percent``, measured from the level's start.
    """
    runs = defaultdict(lambda: {"first": math.inf, "last": -math.inf, "cpu": (-math.inf, None)})
    for result in results:
        started, finished = number(result.get("started_at")), number(result.get("finished_at"))
        if started is None or finished is None:
            continue
        run = runs[result.get("level_run")]
        run["first"], run["last"] = min(run["first"], started), max(run["last"], finished)
        cpu = number(result.get("system_cpu_percent"))
        if cpu is not None and finished >= run["cpu"][0]:
            run["cpu"] = (finished, cpu)
    return [(run["last"] - run["first"], run["cpu"][1]) for run in runs.values()]


def row_values(result: dict) -> dict:
    """Per-request metrics of one result row (None where the request failed)."""
    return {"latency": None if result.get("error") else number(result.get("latency"))}


def summarize(results: list[dict]) -> dict:
    """Requests/s, error rate, latency statistics in seconds and the machine's CPU and memory
    while the level ran. Undefined values (no successful request, no sample) are NaN."""
    n = len(results)
    ok = [r for r in results if not r.get("error")]
    latencies = [v for v in (number(r.get("latency")) for r in ok) if v is not None]
    timed = [r for r in results if number(r.get("started_at")) is not None]
    runs = level_runs(timed)
    span = float(sum(seconds for seconds, _ in runs))
    timed_ok = sum(1 for r in timed if not r.get("error"))
    cpu_time = [(seconds, cpu) for seconds, cpu in runs if cpu is not None and seconds > 0]

    def values(name: str) -> list[float]:
        return [v for v in (number(r.get(name)) for r in results) if v is not None]

    memory, rss = values("system_memory_percent"), values("driver_rss_mb")
    return {
        "n": n,
        "n_failed": n - len(ok),
        "error_rate": (n - len(ok)) / n if n else 0.0,
        "requests_per_second": len(timed) / span if span > 0 else math.nan,
        "successes_per_second": timed_ok / span if span > 0 else math.nan,
        "span_seconds": span if timed else math.nan,
        "cpu_percent_mean": (
            sum(s * c for s, c in cpu_time) / sum(s for s, _ in cpu_time) if cpu_time else math.nan
        ),
        "memory_percent_max": max(memory) if memory else math.nan,
        "driver_rss_mb_max": max(rss) if rss else math.nan,
        **latency_summary(latencies, missing=math.nan),
    }


def extra_plots(metrics, predictions, labels: list[str], folder) -> list[tuple[str, str]]:
    """The report's load-test plots: requests/s, latency percentiles and the machine's CPU and
    memory, each against the concurrency level (one line per other configuration, if any).

    ``metrics``: one row per configuration (best first), ``labels`` in the same order.
    """
    import matplotlib.pyplot as plt  # the report's import: `run` never loads matplotlib

    others = [
        c
        for c in sorted(metrics.columns)
        if c.startswith("params_") and c != "params_concurrency" and metrics[c].nunique() > 1
    ]
    lines = []  # (name, that configuration's levels, lowest first)
    for key, group in metrics.groupby(others, sort=True) if others else [((), metrics)]:
        key = key if isinstance(key, tuple) else (key,)
        pairs = zip(others, key, strict=True)
        name = ", ".join(f"{c.removeprefix('params_')}={v}" for c, v in pairs)
        name = name or f"target={group['params_target'].iloc[0]}"
        lines.append((name, group.sort_values("params_concurrency")))
    levels = sorted(metrics["params_concurrency"].astype(int).unique())

    def axes(title: str, ylabel: str):
        fig, ax = plt.subplots(figsize=(8, 5))
        ax.set_xscale("log", base=2)
        ax.set_xticks(levels, [str(level) for level in levels])
        ax.set_xlabel("concurrency (requests in flight)")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        return fig, ax

    def save(fig, ax, name: str) -> None:
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(folder / name, dpi=100)
        plt.close(fig)

    fig, ax = axes("Requests per second per concurrency level", "requests/s")
    for name, group in lines:
        x, y = group["params_concurrency"].astype(int), group["requests_per_second"].astype(float)
        ax.plot(x, y, marker="o", label=name)
        ideal = y.iloc[0] * x / x.iloc[0]  # perfect scaling from the lowest level
        ax.plot(x, ideal, linestyle="--", color="gray", alpha=0.6, label=f"{name} (linear)")
    ax.set_ylim(bottom=0)
    save(fig, ax, "requests_per_second_by_level.png")

    fig, ax = axes("Latency percentiles per concurrency level", "latency (ms)")
    for name, group in lines:
        x = group["params_concurrency"].astype(int)
        for column, style in (("latency_p50", "-"), ("latency_p95", "--"), ("latency_p99", ":")):
            y = group[column].astype(float) * 1000
            label = column.removeprefix("latency_") + (f", {name}" if len(lines) > 1 else "")
            ax.plot(x, y, marker="o", linestyle=style, label=label)
    ax.set_ylim(bottom=0)
    save(fig, ax, "latency_by_level.png")
    plots = [
        ("Requests per second per concurrency level", "requests_per_second_by_level.png"),
        ("Latency percentiles per concurrency level", "latency_by_level.png"),
    ]

    system = metrics[["cpu_percent_mean", "memory_percent_max"]].astype(float)
    if system.notna().any().any():
        fig, ax = axes("The machine while each level ran (sampled by the driver)", "percent")
        for name, group in lines:
            x = group["params_concurrency"].astype(int)
            suffix = f", {name}" if len(lines) > 1 else ""
            cpu = group["cpu_percent_mean"].astype(float)
            memory = group["memory_percent_max"].astype(float)
            ax.plot(x, cpu, marker="o", label=f"CPU, mean{suffix}")
            ax.plot(x, memory, marker="s", linestyle="--", label=f"memory, max{suffix}")
        ax.set_ylim(0, 100)
        save(fig, ax, "system_by_level.png")
        plots.append(("System CPU and memory per concurrency level", "system_by_level.png"))
    return plots
