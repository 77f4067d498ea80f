"""Two runs compared configuration by configuration, metric by metric.

Datapoints are paired by identity (config_id + input_id); a row served from the cache carries
the result and latency of the computation it reuses, so it is compared as that computation.
For each configuration in both runs, over its paired datapoints:

- configuration metrics: the kind's ``summarize`` of each run (directions: ``HIGHER_IS_BETTER``);
- per-datapoint metrics: the kind's ``row_values`` (directions: ``ROW_HIGHER_IS_BETTER``),
  averaged over the pairs where neither run failed, tested on the paired differences.

Each metric is then marked by ``stats.decide``. Datapoints that failed in either run are listed,
never dropped silently.
"""

import contextlib
import fnmatch
import gc
import sys
import zlib
from dataclasses import asdict
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .. import kind
from ..tracking import is_result_column
from . import between
from .fast import latency_intervals
from .joint import joint_intervals
from .load import Checked, Rows, paired_streams, row_arrays
from .runs import pick
from .stats import (
    MARKS,
    MIN_PAIRS,
    NO_VALUE,
    WORSE,
    Options,
    Threshold,
    decide,
    holm,
    known,
    paired_bootstrap,
    plain,
    ratio_and_change,
    resample_summaries,
    summary,
)

ONLY_A, ONLY_B = "only in A", "only in B"  # a configuration's status when one run lacks it


def row_directions() -> dict[str, bool]:
    """Per-datapoint metrics and whether higher is better (kinds declare ROW_HIGHER_IS_BETTER)."""
    return dict(kind.ROW_HIGHER_IS_BETTER)


def label(config: dict) -> str:
    return ", ".join(f"{name}={value}" for name, value in config["params"].items())


def results_by_id(rows) -> dict[str, dict]:
    """input_id -> the row's result (predict's fields, what summarize sees), NULLs as None."""
    columns = [c for c in rows.columns if is_result_column(c)]
    frame = rows[columns].astype(object)
    frame = frame.where(frame.notna(), None)
    return {str(record["input_id"]): record for record in frame.to_dict("records")}


def failed(result: dict) -> bool:
    return bool(result.get("error"))


def config_params(rows) -> dict:
    columns = sorted(c for c in rows.columns if c.startswith("params_"))
    first = rows.iloc[0]
    return {c.removeprefix("params_"): plain(first[c]) for c in columns}


def metric_entry(name, per, higher, a, b, threshold, interval=None, n=0, mark=None) -> dict:
    """One metric of one configuration; its mark is set by ``mark_all`` (Holm over all)."""
    ratio, change = ratio_and_change(a, b)
    return {
        "metric": name,
        "per": per,
        "higher_is_better": higher,
        "a": plain(a),
        "b": plain(b),
        "ratio": plain(ratio),
        "change": plain(change),
        "threshold": None if threshold is None else threshold.value,
        "absolute": None if threshold is None else threshold.absolute,
        "diff": None if interval is None else plain(interval.diff),
        "ci": None if interval is None else [plain(interval.low), plain(interval.high)],
        "p_value": None if interval is None else plain(interval.p_value),
        "p_holm": None,
        "resamples": None if interval is None else interval.resamples,
        "n": n,
        "mark": mark,
        "reason": "no datapoint in both runs" if mark == NO_VALUE else mark,
        "_interval": interval,
    }


def mark_all(configurations: list[dict], gate) -> None:
    """Holm's correction over the metric x configuration pairs tested, in two families (the
    gated metrics, the others), then each metric's mark."""
    tested = [
        m for c in configurations for m in c["metrics"] if m["mark"] is None and m["_interval"]
    ]
    for family in (True, False):
        members = [m for m in tested if gated(m["metric"], gate) == family]
        for m, p in zip(members, holm([m["p_value"] for m in members]), strict=True):
            m["p_holm"] = p
    for c in configurations:
        for m in c["metrics"]:
            interval = m.pop("_interval")
            if m["mark"] is None:
                threshold = Threshold(m["threshold"], m["absolute"])
                m["mark"], m["reason"] = decide(
                    m["a"], m["b"], interval, threshold, m["higher_is_better"], m["n"], m["p_holm"]
                )


def side_entries(results_a: list[dict], results_b: list[dict], mark: str) -> list[dict]:
    """Metric entries without a comparison (a configuration one run lacks, or no datapoint in
    both): each run's values over its own datapoints, and ``mark``."""
    summary_a = summary(results_a) if results_a else {}
    summary_b = summary(results_b) if results_b else {}
    entries = [
        metric_entry(
            name, "config", higher, summary_a.get(name), summary_b.get(name), None, mark=mark
        )
        for name, higher in kind.HIGHER_IS_BETTER.items()
    ]
    for name, higher in row_directions().items():
        means = []
        for results in (results_a, results_b):
            values = [known(kind.row_values(r).get(name)) for r in results]
            values = [float(v) for v in values if v is not None]
            means.append(float(np.mean(values)) if values else None)
        entries.append(metric_entry(name, "datapoint", higher, *means, None, mark=mark))
    return entries


def row_pairs(arrays_a: dict, arrays_b: dict) -> dict:
    """Per-datapoint metric -> (A's values, B's values, kept): NaN where a value is missing,
    ``kept`` where neither is (from each run's ``row_arrays`` on the paired results)."""
    found = {}
    for name in row_directions():
        a, b = arrays_a[name], arrays_b[name]
        found[name] = (a, b, ~np.isnan(a) & ~np.isnan(b))
    return found


def summary_and_arrays(by_id: dict, results: list[dict]) -> tuple[dict, dict]:
    """(summary, row_arrays) of ``results``, ``by_id``'s paired results in input_id order:
    what ``Rows.checked`` computed on these very rows in this order when all are paired."""
    if isinstance(by_id, Checked) and len(by_id) == len(results) and by_id.arrays is not None:
        return by_id.summary, by_id.arrays
    return summary(results), row_arrays(results)


def compare_configuration(config_id: str, rows_a, rows_b, options: Options) -> dict:
    """Every declared metric of one configuration, A against B (either may have no rows)."""
    by_a = results_by_id(rows_a) if len(rows_a) else {}
    by_b = results_by_id(rows_b) if len(rows_b) else {}
    params = config_params(rows_a if len(rows_a) else rows_b)
    return compare_results(config_id, params, by_a, by_b, options)


def compare_results(config_id: str, params: dict, by_a: dict, by_b: dict, options) -> dict:
    """``compare_configuration`` on each run's results (input_id -> result dict)."""
    paired = sorted(by_a.keys() & by_b.keys())
    status = "both" if paired or (by_a and by_b) else (ONLY_A if by_a else ONLY_B)
    entry = {
        "config_id": config_id,
        "params": params,
        "status": status,
        "n_a": len(by_a),
        "n_b": len(by_b),
        "n_paired": len(paired),
        "unpaired": {
            "a": sorted(by_a.keys() - by_b.keys()),
            "b": sorted(by_b.keys() - by_a.keys()),
        },
        "failed": {
            "a": sorted(k for k, r in by_a.items() if failed(r)),
            "b": sorted(k for k, r in by_b.items() if failed(r)),
        },
    }
    entry["failed"]["either"] = len(set(entry["failed"]["a"]) | set(entry["failed"]["b"]))
    if not paired:  # one run lacks the configuration, or they share no datapoint
        mark = {ONLY_A: ONLY_A, ONLY_B: ONLY_B}.get(status, NO_VALUE)
        entry["metrics"] = side_entries(list(by_a.values()), list(by_b.values()), mark)
        return entry

    results_a, results_b = [by_a[k] for k in paired], [by_b[k] for k in paired]
    groups = [results_a[i].get(kind.GROUP) for i in range(len(paired))] if kind.GROUP else None
    (summary_a, arrays_a), (summary_b, arrays_b) = (
        summary_and_arrays(by_a, results_a),
        summary_and_arrays(by_b, results_b),
    )
    # Intervals where they can matter: a metric that changed, not a machine measurement (those
    # are judged between replicate runs, between.py, never on this run's resamples).
    measured = set(kind.MEASUREMENTS)
    changed = [
        name
        for name in kind.HIGHER_IS_BETTER
        if known(summary_a.get(name)) is not None
        and known(summary_b.get(name)) is not None
        and summary_a[name] != summary_b[name]
        and name not in measured
    ]
    pairs = row_pairs(arrays_a, arrays_b)
    differences = {  # per-datapoint metrics on every pair: from the shared resamples
        name: b - a
        for name, (a, b, kept) in pairs.items()
        if kept.all() and name not in measured and not np.array_equal(a, b)
    }
    points = (summary_a, summary_b)  # summarize once per run: each call reads every row
    seed = [options.seed, zlib.crc32(" ".join(changed).encode())]  # seeds name the metrics only
    intervals = latency_intervals(results_a, results_b, changed, options, seed, groups, points)
    others = [name for name in changed if name not in intervals]
    served, of_rows = joint_intervals(
        results_a, results_b, others, differences, options, groups, points
    )
    intervals.update(served)
    rest = [name for name in changed if name not in intervals]  # through the kind's summarize
    if rest:
        intervals.update(resample_summaries(results_a, results_b, rest, options, seed, groups))
    metrics = [
        metric_entry(
            name,
            "config",
            higher,
            summary_a.get(name),
            summary_b.get(name),
            options.threshold_for(name),
            intervals.get(name),
            n=len(paired),
        )
        for name, higher in kind.HIGHER_IS_BETTER.items()
    ]
    for name, higher in row_directions().items():
        a, b, kept = pairs[name]
        if not kept.any():
            metrics.append(metric_entry(name, "datapoint", higher, None, None, None, mark=NO_VALUE))
            continue
        interval = of_rows.get(name)
        a, b = a[kept], b[kept]
        if interval is None and name not in measured and not np.array_equal(a, b):
            # some pairs failed on a side: resampled over the others, on draws of their own
            seed = [options.seed, zlib.crc32(name.encode())]
            kept_groups = None if groups is None else list(np.asarray(groups, object)[kept])
            interval = paired_bootstrap(
                a, b, options.resamples, seed, options.confidence, kept_groups
            )
        threshold = options.threshold_for(name)
        metrics.append(
            metric_entry(name, "datapoint", higher, a.mean(), b.mean(), threshold, interval, a.size)
        )
    entry["metrics"] = metrics
    return entry


def compare_rows(
    rows_a, run_a: dict, rows_b, run_b: dict, options: Options | None = None, sides=None
) -> dict:
    """The comparison of two runs' prediction rows (DataFrames), as a JSON-ready dict
    (``sides``: each side's replicate runs, between.py; None: each run alone)."""
    options = options or Options()
    config_ids = sorted(set(rows_a["config_id"]) | set(rows_b["config_id"]))
    configurations = [
        compare_configuration(
            config_id,
            rows_a[rows_a["config_id"] == config_id],
            rows_b[rows_b["config_id"] == config_id],
            options,
        )
        for config_id in tqdm(
            config_ids, desc="compare", unit="configuration", disable=not sys.stderr.isatty()
        )
    ]
    return comparison(configurations, run_a, run_b, options, sides)


def compare_runs(
    rows_a: Rows, run_a: dict, rows_b: Rows, run_b: dict, options=None, sides=None, streams=None
) -> dict:
    """``compare_rows`` of two runs read from their db one configuration at a time (SQL);
    ``streams``: their ``paired_streams``, when the caller also reads them (the report)."""
    options = options or Options()
    with no_cycle_collection():
        configurations = [
            compare_results(config_id, params, by_a, by_b, options)
            for config_id, params, by_a, by_b in tqdm(
                streams or paired_streams(rows_a, rows_b),
                desc="compare",
                unit="configuration",
                disable=not sys.stderr.isatty(),
            )
        ]
    return comparison(configurations, run_a, run_b, options, sides)


@contextlib.contextmanager
def no_cycle_collection():
    """Python's cycle collector paused: a configuration is hundreds of thousands of small
    dicts (rows) without reference cycles, freed as soon as it is compared; the collector
    walked them again and again (a fifth of compare's time at 1M rows per run)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def comparison(
    configurations: list[dict], run_a: dict, run_b: dict, options: Options, sides=None
) -> dict:
    """Holm's correction and the marks over every configuration's metrics, in order, counted
    (MEASUREMENTS judged between the replicate runs of ``sides`` first, between.py)."""
    between.apply(configurations, sides, options.confidence)
    mark_all(configurations, list(options.gate))
    order = {"both": 0, ONLY_A: 1, ONLY_B: 2}
    configurations.sort(key=lambda c: (order[c["status"]], label(c)))
    marks = [m["mark"] for c in configurations for m in c["metrics"] if c["status"] == "both"]
    return {
        "a": run_a,
        "b": run_b,
        "options": {**asdict(options), "min_pairs": MIN_PAIRS, "holm": True},
        "primary": kind.PRIMARY,
        "configurations": configurations,
        "replicates": between.replicate_ids(sides, run_a, run_b),
        "counts": {
            "metrics": {mark: marks.count(mark) for mark in MARKS},
            "configurations": {
                status: sum(c["status"] == status for c in configurations) for status in order
            },
            "failed_a": sum(len(c["failed"]["a"]) for c in configurations),
            "failed_b": sum(len(c["failed"]["b"]) for c in configurations),
        },
    }


def compare(
    db: Path,
    a: str | None = None,
    b: str | None = None,
    baseline_db: Path | None = None,
    engine: str = "sqlite",
    options: Options | None = None,
) -> dict:
    """Two runs of the db(s) compared (see ``runs.pick`` for A and B)."""
    run_a, run_b = pick(db, a, b, baseline_db)
    rows_a, rows_b = Rows(Path(run_a["db"]), run_a["track_id"]), Rows(db, run_b["track_id"])
    sides = between.sides(db, run_a, run_b, baseline_db)  # each side's replicates, if any
    return compare_runs(rows_a, run_a, rows_b, run_b, options, sides)


DEFAULT_GATE = ("primary", "error_rate")  # what --fail-on-regression checks without --gate


def gated(metric: str, gate: list[str] | None) -> bool:
    """Whether --fail-on-regression checks ``metric``: names, globs (``latency_*``, ``*`` for
    every metric) or ``primary`` (the kind's PRIMARY); without a gate, DEFAULT_GATE."""
    patterns = [kind.PRIMARY if g == "primary" else g for g in (gate or DEFAULT_GATE)]
    return any(fnmatch.fnmatchcase(metric, pattern) for pattern in patterns)


def regressions(comparison: dict, gate: list[str] | None = None) -> list[dict]:
    """The metrics marked worse (beyond threshold and significant) that the gate checks."""
    return [
        {"config_id": c["config_id"], "params": c["params"], **m}
        for c in comparison["configurations"]
        for m in c["metrics"]
        if m["mark"] == WORSE and gated(m["metric"], gate)
    ]
