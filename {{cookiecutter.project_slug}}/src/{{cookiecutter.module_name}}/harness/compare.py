"""Compare two runs metric by metric: better, worse or unchanged, beyond noise.

A and B are runs of the predictions table, picked by run id (track_id), experiment name or git
commit (a prefix will do). Datapoints are paired by identity (config_id + input_id); a row
served from the cache carries the result and latency of the computation it reuses, so it is
compared as that computation. For each configuration in both runs, over its paired datapoints:

- configuration metrics: the kind's ``summarize`` of each run (directions: ``HIGHER_IS_BETTER``);
- per-datapoint metrics: the kind's ``row_values`` (directions: ``ROW_HIGHER_IS_BETTER``),
  averaged over the pairs where neither run failed, tested on the paired differences.

A metric is *better* or *worse* only when its relative change is beyond the threshold AND the
paired bootstrap interval of B - A (datapoints resampled, fixed seed) lies beyond it too AND
noise rarely makes a difference as large as the change's excess over the threshold (a paired
permutation test, A and B swapped within random pairs: p < 1 - confidence). Otherwise it is
*unchanged*: a change noise could make, or one that could be within the threshold. So noise
alone does not flag a change, even with many metrics x configurations tested at once.
Datapoints that failed in either run are listed, never dropped silently.

Built on the kind's metrics interface only (metrics.py), so it works for every benchmark kind.
"""

import fnmatch
import json
import math
import textwrap
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import kind
from .tracking import PREDICTIONS, is_result_column, read_table

BETTER, WORSE, UNCHANGED = "better", "worse", "unchanged"
ONLY_A, ONLY_B, NO_VALUE = "only in A", "only in B", "n/a"
MARKS = (WORSE, BETTER, UNCHANGED, ONLY_A, ONLY_B, NO_VALUE)
THRESHOLD = 0.05  # relative change below which a metric is unchanged
CONFIDENCE = 0.95
RESAMPLES = 1000
MIN_PAIRS = 5  # fewer paired datapoints than this: no change is significant
SETTLED = 300  # summarize resamples after which a change none contradicts is settled
RUN_COLUMNS = ("experiment", "phase", "git_commit", "git_dirty", "forced", "predict_version")
SHOWN_IDS = 10  # failed/unpaired ids printed per configuration (JSON has them all)


def known(value):
    """``value``, or None when it is missing: None or NaN (kinds use either for "undefined")."""
    if value is None:
        return None
    try:
        return None if math.isnan(value) else value
    except TypeError:
        return value


def summary(results: list[dict]) -> dict:
    """The kind's summarize, undefined values as None."""
    return {name: known(value) for name, value in kind.summarize(results).items()}


def row_directions() -> dict[str, bool]:
    """Per-datapoint metrics and whether higher is better (kinds declare ROW_HIGHER_IS_BETTER)."""
    return dict(kind.ROW_HIGHER_IS_BETTER)


@dataclass(frozen=True)
class Options:
    threshold: float = THRESHOLD  # relative, for every metric without its own
    thresholds: dict = field(default_factory=dict)  # metric name -> relative threshold
    confidence: float = CONFIDENCE
    resamples: int = RESAMPLES
    seed: int = 0

    def threshold_for(self, metric: str) -> float:
        declared = kind.THRESHOLDS  # a kind may declare noisier metrics
        return float(self.thresholds.get(metric, declared.get(metric, self.threshold)))


@dataclass(frozen=True)
class Interval:
    """A difference B - A, with its noise: a bootstrap interval at ``confidence`` and two
    p-values of a paired permutation test (A and B swapped within random pairs: what noise
    alone makes). ``p_value``: how often noise makes a difference as large; ``p_beyond``: how
    often noise makes one as large as the difference's excess over the threshold's margin."""

    diff: float
    low: float
    high: float
    p_value: float
    p_beyond: float
    confidence: float = CONFIDENCE
    resamples: int = 0


# --- statistics ---------------------------------------------------------------------------


def at_least(values: np.ndarray, size: float) -> int:
    """How many of ``values`` are at least ``size`` away from 0 (NaN: never)."""
    if size <= 0:
        return int(np.count_nonzero(~np.isnan(values)))
    return int(np.count_nonzero(np.abs(values) >= size * (1 - 1e-9)))  # ties count


def interval_from(
    diff: float,
    boot: np.ndarray,
    permuted: np.ndarray,
    margin: float,
    confidence: float,
) -> Interval:
    """``Interval`` of ``diff`` from bootstrap and permutation differences (NaN: undefined)."""
    drawn = len(permuted)
    p_value = min(1.0, (at_least(permuted, abs(diff)) + 1) / (drawn + 1))
    p_beyond = min(1.0, (at_least(permuted, abs(diff) - abs(margin)) + 1) / (drawn + 1))
    boot = boot[~np.isnan(boot)]
    low, high = (
        np.quantile(boot, [(1 - confidence) / 2, (1 + confidence) / 2])
        if boot.size
        else (np.nan, np.nan)
    )
    return Interval(float(diff), float(low), float(high), p_value, p_beyond, confidence, int(drawn))


def paired_bootstrap(
    a,
    b,
    resamples: int = RESAMPLES,
    seed=0,
    confidence: float = CONFIDENCE,
    margin: float = 0.0,
) -> Interval:
    """Mean of b - a over paired values: bootstrap interval (pairs resampled ``resamples``
    times) and sign-flip permutation p-values (each pair's difference negated at random)."""
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    if d.size == 0:
        raise ValueError("no paired values")
    mean = float(d.mean())
    rng = np.random.default_rng(seed)
    chunk = max(1, 2_000_000 // d.size)  # bounded memory for large datasets
    boot, flipped = [], []
    for start in range(0, resamples, chunk):
        size = (min(chunk, resamples - start), d.size)
        if np.all(d == d[0]):  # no spread: every resample has the same mean
            boot.append(np.full(size[0], mean))
        else:
            boot.append(d[rng.integers(0, d.size, size=size)].mean(axis=1))
        flipped.append((d * rng.choice((-1.0, 1.0), size=size)).mean(axis=1))
    return interval_from(mean, np.concatenate(boot), np.concatenate(flipped), margin, confidence)


def resample_summaries(
    results_a: list[dict],
    results_b: list[dict],
    margins: dict[str, float],
    options: Options,
    seed,
    batch: int = 100,
) -> dict[str, Interval]:
    """``Interval`` of summarize(B) - summarize(A) for each metric of ``margins``.

    Each round draws a bootstrap resample of the paired datapoints and a permutation (A and B
    swapped within random pairs): two summarize calls each. ``margins`` maps each metric to
    the change its interval must clear to matter (threshold x A, signed like the change).
    Rounds stop early once every metric is settled: surely unchanged (more resamples on the
    wrong side of its margin than the interval's tail holds, or enough permutations beyond its
    excess for p >= 1 - confidence: the full run could not say otherwise), or none of either
    in the first ``SETTLED`` rounds. Intervals then use the rounds drawn so far.
    """
    names = list(margins)
    point_a, point_b = summary(results_a), summary(results_b)
    observed = [point_b[name] - point_a[name] for name in names]
    n, total = len(results_a), options.resamples
    tail = math.ceil((total - 1) * (1 - options.confidence) / 2) + 1
    not_significant = math.ceil((1 - options.confidence) * (total + 1) - 1)
    rng = np.random.default_rng(seed)
    boot = np.full((total, len(names)), np.nan)
    permuted = np.full((total, len(names)), np.nan)

    def differences(sa: dict, sb: dict) -> list[float]:
        return [
            np.nan if sa.get(name) is None or sb.get(name) is None else sb[name] - sa[name]
            for name in names
        ]

    drawn = 0
    while drawn < total:
        for r in range(drawn, min(drawn + batch, total)):
            picked = rng.integers(0, n, size=n)
            boot[r] = differences(
                summary([results_a[i] for i in picked]), summary([results_b[i] for i in picked])
            )
            swap = rng.random(n) < 0.5
            pairs = list(zip(results_a, results_b, swap, strict=True))
            permuted[r] = differences(
                summary([y if s else x for x, y, s in pairs]),
                summary([x if s else y for x, y, s in pairs]),
            )
        drawn = min(drawn + batch, total)
        settled = []
        for j, margin in enumerate(margins.values()):
            column = boot[:drawn, j]
            wrong = np.count_nonzero(column <= margin if margin >= 0 else column >= margin)
            beyond = at_least(permuted[:drawn, j], abs(observed[j]) - abs(margin))
            settled.append(
                wrong >= tail
                or beyond >= not_significant
                or (wrong == 0 and beyond == 0 and drawn >= SETTLED)
            )
        if all(settled):
            break
    return {
        name: interval_from(
            observed[j], boot[:drawn, j], permuted[:drawn, j], margins[name], options.confidence
        )
        for j, name in enumerate(names)
    }


def beyond_threshold(a: float, b: float, threshold: float) -> bool:
    return abs(b - a) > threshold * abs(a)  # any change from 0 is beyond


def share(value: float) -> str:
    return f"{value * 100:g}%"


def decide(
    a, b, interval: Interval | None, threshold: float, higher_is_better: bool, n: int = MIN_PAIRS
) -> tuple[str, str]:
    """(mark, reason): better/worse only for a change beyond the threshold, beyond noise.

    Three conditions, all needed: the change is beyond ``threshold`` (relative to A); its
    bootstrap interval lies beyond the threshold too; and noise (the paired permutations)
    rarely makes a difference as large as the change's excess over the threshold
    (p_beyond < 1 - confidence). The permutation test holds for any statistic, a tail
    percentile of few datapoints included, where a bootstrap interval is too narrow.
    """
    if a is None or b is None:
        return NO_VALUE, "no value"
    if a == b:
        return UNCHANGED, "equal"
    if not beyond_threshold(a, b, threshold):
        return UNCHANGED, f"within {share(threshold)}"
    if n < MIN_PAIRS:
        return UNCHANGED, f"fewer than {MIN_PAIRS} datapoints"
    if interval is None:
        return UNCHANGED, "not tested"
    margin = threshold * abs(a)
    clears = interval.low > margin or interval.high < -margin
    if not clears or interval.p_beyond >= 1 - interval.confidence:
        return UNCHANGED, "noise"
    return (BETTER if (b > a) == higher_is_better else WORSE), "significant"


def ratio_and_change(a, b) -> tuple[float | None, float | None]:
    if a is None or b is None:
        return None, None
    if a == b:
        return 1.0, 0.0
    if a == 0:
        return None, None
    return b / a, (b - a) / abs(a)


# --- selecting runs ---------------------------------------------------------------------------


def runs(predictions) -> list[dict]:
    """One dict per run of the predictions table (track_id, started, metadata), oldest first."""
    if predictions is None or predictions.empty:
        return []
    columns = [c for c in RUN_COLUMNS if c in predictions.columns]
    grouped = predictions.groupby("track_id", sort=False)
    first = grouped[columns].first() if columns else None
    started, sizes = grouped["timestamp"].min(), grouped.size()
    found = []
    for track_id in started.sort_values().index:
        run = {
            "track_id": track_id,
            "started": str(started[track_id]),
            "rows": int(sizes[track_id]),
        }
        for column in columns:
            run[column] = plain(first.loc[track_id, column])
        found.append(run)
    return found


def describe_run(run: dict) -> str:
    commit = (run.get("git_commit") or "")[:8] or "none"
    return (
        f"run {run['track_id']} ({run.get('phase') or '?'}, experiment {run.get('experiment')!r}, "
        f"commit {commit}, predict {run.get('predict_version')}, {run['started'][:19]})"
    )


def preferred(candidates: list[dict]) -> list[dict]:
    """Experiment-phase runs when there are any (dev runs are subsets), else all of them."""
    experiment = [r for r in candidates if r.get("phase") == "experiment"]
    return experiment or candidates


def resolve(all_runs: list[dict], selector: str) -> dict:
    """The run a selector names: a run id, else an experiment name (its latest run), else a git
    commit or a prefix of one (its latest run). LookupError when none or several match."""
    if not all_runs:
        raise LookupError("the db has no run")
    by_id = [r for r in all_runs if r["track_id"] == selector]
    if by_id:
        return by_id[0]
    named = [r for r in all_runs if r.get("experiment") == selector]
    if named:
        return preferred(named)[-1]
    commits = {r.get("git_commit") for r in all_runs if r.get("git_commit")}
    matching = sorted(c for c in commits if len(selector) >= 4 and c.startswith(selector))
    if len(matching) > 1:
        raise LookupError(f"{selector!r} is a prefix of several commits: {matching}")
    if matching:
        return preferred([r for r in all_runs if r.get("git_commit") == matching[0]])[-1]
    known = "\n".join(f"  {describe_run(r)}" for r in all_runs[-10:])
    raise LookupError(
        f"no run, experiment or git commit {selector!r} in the db; latest runs:\n{known}"
    )


def default_runs(runs_a: list[dict], runs_b: list[dict], same_db: bool) -> tuple[dict, dict]:
    """(A, B) when not named: the last two (experiment-phase) runs of one db, or the latest run
    of each db."""
    if same_db:
        candidates = preferred(runs_b)
        if len(candidates) < 2:
            raise LookupError(
                f"comparing needs two runs, the db has {len(candidates)}: run the benchmark again "
                "(with other code or params), or name A and B"
            )
        return candidates[-2], candidates[-1]
    if not runs_a or not runs_b:
        raise LookupError("each db needs at least one run")
    return preferred(runs_a)[-1], preferred(runs_b)[-1]


def select(
    db: Path,
    a: str | None = None,
    b: str | None = None,
    baseline_db: Path | None = None,
    engine: str = "sqlite",
):
    """((rows A, run A), (rows B, run B)) read from the db(s); LookupError if a run is missing.

    B is looked up in ``db``, A in ``baseline_db`` if given (a stored baseline), else in ``db``.
    Unnamed runs default as in ``default_runs``; A alone compares A with the latest run.
    """
    predictions_b = read_table(db, PREDICTIONS, engine)
    if predictions_b is None:
        raise LookupError(f"{db} has no predictions table: run the benchmark first")
    if baseline_db is None:
        predictions_a = predictions_b
    else:
        predictions_a = read_table(baseline_db, PREDICTIONS, engine)
        if predictions_a is None:
            raise LookupError(f"{baseline_db} has no predictions table")
    runs_a, runs_b = runs(predictions_a), runs(predictions_b)
    default_a, default_b = (None, None)
    if a is None or b is None:
        if a is not None:
            default_b = preferred(runs_b)[-1] if runs_b else None
            if default_b is None:
                raise LookupError(f"{db} has no run")
        else:
            default_a, default_b = default_runs(runs_a, runs_b, same_db=baseline_db is None)
    run_a = resolve(runs_a, a) if a is not None else default_a
    run_b = resolve(runs_b, b) if b is not None else default_b
    run_a = {**run_a, "selector": a or "default", "db": str(baseline_db or db)}
    run_b = {**run_b, "selector": b or "default", "db": str(db)}
    rows_a = predictions_a[predictions_a["track_id"] == run_a["track_id"]]
    rows_b = predictions_b[predictions_b["track_id"] == run_b["track_id"]]
    return (rows_a, run_a), (rows_b, run_b)


def previous_run(predictions, track_id: str) -> dict | None:
    """The latest run of the same phase that started before ``track_id`` (for the report)."""
    all_runs = runs(predictions)
    this = next((r for r in all_runs if r["track_id"] == track_id), None)
    if this is None:
        return None
    earlier = [
        r
        for r in all_runs
        if r["started"] < this["started"] and r.get("phase") == this.get("phase")
    ]
    return earlier[-1] if earlier else None


# --- comparing ----------------------------------------------------------------------------


def plain(value):
    """A JSON-ready Python value: numpy scalars unwrapped, NaN/inf as None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


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
    ratio, change = ratio_and_change(a, b)
    if mark is None:
        mark, reason = decide(a, b, interval, threshold, higher, n)
    else:
        reason = "no datapoint in both runs" if mark == NO_VALUE else mark
    return {
        "metric": name,
        "per": per,
        "higher_is_better": higher,
        "a": plain(a),
        "b": plain(b),
        "ratio": plain(ratio),
        "change": plain(change),
        "threshold": threshold,
        "diff": None if interval is None else plain(interval.diff),
        "ci": None if interval is None else [plain(interval.low), plain(interval.high)],
        "p_value": None if interval is None else plain(interval.p_value),
        "p_beyond": None if interval is None else plain(interval.p_beyond),
        "resamples": None if interval is None else interval.resamples,
        "n": n,
        "mark": mark,
        "reason": reason,
    }


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


def compare_configuration(config_id: str, rows_a, rows_b, options: Options) -> dict:
    """Every declared metric of one configuration, A against B (either may have no rows)."""
    by_a = results_by_id(rows_a) if len(rows_a) else {}
    by_b = results_by_id(rows_b) if len(rows_b) else {}
    paired = sorted(by_a.keys() & by_b.keys())
    status = "both" if paired or (by_a and by_b) else (ONLY_A if by_a else ONLY_B)
    entry = {
        "config_id": config_id,
        "params": config_params(rows_a if len(rows_a) else rows_b),
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

    seed = [options.seed, zlib.crc32(config_id.encode())]
    results_a, results_b = [by_a[k] for k in paired], [by_b[k] for k in paired]
    summary_a, summary_b = summary(results_a), summary(results_b)
    # Intervals only where they can matter: a change beyond its threshold.
    margins = {}
    for name in kind.HIGHER_IS_BETTER:
        a, b = summary_a.get(name), summary_b.get(name)
        threshold = options.threshold_for(name)
        if a is not None and b is not None and a != b and beyond_threshold(a, b, threshold):
            margins[name] = math.copysign(threshold * abs(a), b - a)
    intervals = resample_summaries(results_a, results_b, margins, options, seed) if margins else {}
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
    values_a = [kind.row_values(r) for r in results_a]
    values_b = [kind.row_values(r) for r in results_b]
    for name, higher in row_directions().items():
        pairs = [
            (x, y)
            for x, y in (
                (known(va.get(name)), known(vb.get(name)))
                for va, vb in zip(values_a, values_b, strict=True)
            )
            if x is not None and y is not None
        ]
        if not pairs:
            metrics.append(metric_entry(name, "datapoint", higher, None, None, None))
            continue
        a, b = (np.asarray(side, dtype=float) for side in zip(*pairs, strict=True))
        threshold = options.threshold_for(name)
        margin = threshold * abs(a.mean())
        interval = paired_bootstrap(a, b, options.resamples, seed, options.confidence, margin)
        metrics.append(
            metric_entry(
                name, "datapoint", higher, a.mean(), b.mean(), threshold, interval, len(pairs)
            )
        )
    entry["metrics"] = metrics
    return entry


def compare_rows(rows_a, run_a: dict, rows_b, run_b: dict, options: Options | None = None) -> dict:
    """The comparison of two runs' prediction rows, as a JSON-ready dict."""
    options = options or Options()
    config_ids = sorted(set(rows_a["config_id"]) | set(rows_b["config_id"]))
    configurations = [
        compare_configuration(
            config_id,
            rows_a[rows_a["config_id"] == config_id],
            rows_b[rows_b["config_id"] == config_id],
            options,
        )
        for config_id in config_ids
    ]
    order = {"both": 0, ONLY_A: 1, ONLY_B: 2}
    configurations.sort(key=lambda c: (order[c["status"]], label(c)))
    marks = [m["mark"] for c in configurations for m in c["metrics"] if c["status"] == "both"]
    return {
        "a": run_a,
        "b": run_b,
        "options": {**asdict(options), "min_pairs": MIN_PAIRS},
        "primary": kind.PRIMARY,
        "configurations": configurations,
        "counts": {
            "metrics": {mark: marks.count(mark) for mark in (WORSE, BETTER, UNCHANGED, NO_VALUE)},
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
    (rows_a, run_a), (rows_b, run_b) = select(db, a, b, baseline_db, engine)
    return compare_rows(rows_a, run_a, rows_b, run_b, options)


def report_section(predictions, track_id: str, folder: Path, db: Path) -> list[str]:
    """Markdown lines of the report's comparison with the previous run of the same phase (none
    when ``track_id`` is the first), and its PNG in ``folder``."""
    previous = previous_run(predictions, track_id)
    if previous is None:
        return []
    this = next(r for r in runs(predictions) if r["track_id"] == track_id)
    comparison = compare_rows(
        predictions[predictions["track_id"] == previous["track_id"]],
        {**previous, "selector": previous["track_id"], "db": str(db)},
        predictions[predictions["track_id"] == track_id],
        {**this, "selector": track_id, "db": str(db)},
    )
    plot(comparison, Path(folder) / "compare.png")
    title = "Compared with the previous run"
    text = markdown(comparison, level=2, title=title, image="compare.png")
    hint = (
        f"Any two runs: `python -m {__package__} compare A B` (`--markdown`, `--json`); "
        'README, "Comparing runs".'
    )
    return [*text.rstrip("\n").splitlines(), "", hint, ""]


def gated(metric: str, gate: list[str] | None) -> bool:
    """Whether --fail-on-regression checks ``metric``: every metric without a gate; else names,
    globs (``latency_*``) or ``primary`` (the kind's PRIMARY)."""
    if not gate:
        return True
    patterns = [kind.PRIMARY if g == "primary" else g for g in gate]
    return any(fnmatch.fnmatchcase(metric, pattern) for pattern in patterns)


def regressions(comparison: dict, gate: list[str] | None = None) -> list[dict]:
    """The metrics marked worse (beyond threshold and significant) that the gate checks."""
    return [
        {"config_id": c["config_id"], "params": c["params"], **m}
        for c in comparison["configurations"]
        for m in c["metrics"]
        if m["mark"] == WORSE and gated(m["metric"], gate)
    ]


# --- output -------------------------------------------------------------------------------


def label(config: dict) -> str:
    return ", ".join(f"{name}={value}" for name, value in config["params"].items())


def number(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def percent(value) -> str:
    return "-" if value is None else f"{value:+.1%}"


def interval_text(metric: dict) -> str:
    if metric["ci"] is None or metric["ci"][0] is None:
        return "-"
    low, high = metric["ci"]
    a = metric["a"]
    if a:  # relative to A, like the change
        return f"[{low / abs(a):+.1%}, {high / abs(a):+.1%}]"
    return f"[{low:+.3g}, {high:+.3g}]"


HEADERS = ("config_id", "params", "metric", "per", "A", "B", "B/A", "change", "CI", "p", "mark")


def table_rows(comparison: dict, strong=lambda text: text) -> list[list[str]]:
    rows = []
    for config in comparison["configurations"]:
        for i, m in enumerate(config["metrics"]):
            mark = strong(m["mark"]) if m["mark"] in (WORSE, BETTER) else m["mark"]
            mark += " (noise)" if m["reason"] == "noise" else ""
            first = i == 0
            rows.append(
                [
                    config["config_id"] if first else "",
                    label(config) if first else "",
                    m["metric"],
                    m["per"],
                    number(m["a"]),
                    number(m["b"]),
                    "-" if m["ratio"] is None else f"{m['ratio']:.3f}",
                    percent(m["change"]),
                    interval_text(m),
                    "-" if m["p_value"] is None else f"{m['p_value']:.3g}",
                    mark,
                ]
            )
    return rows


def one_run_only(comparison: dict) -> list[str]:
    return [
        f"{c['config_id']} ({label(c)}): {c['status']}"
        for c in comparison["configurations"]
        if c["status"] != "both"
    ]


def ids_text(ids: list[str]) -> str:
    shown = ", ".join(ids[:SHOWN_IDS])
    return shown + (f", ... ({len(ids)} in all)" if len(ids) > SHOWN_IDS else "")


def failed_rows(comparison: dict) -> list[list]:
    return [
        [
            c["config_id"],
            len(c["failed"]["a"]),
            len(c["failed"]["b"]),
            ids_text(c["failed"]["a"]) or "-",
            ids_text(c["failed"]["b"]) or "-",
        ]
        for c in comparison["configurations"]
        if c["failed"]["a"] or c["failed"]["b"]
    ]


def unpaired_rows(comparison: dict) -> list[list]:
    return [
        [c["config_id"], ids_text(c["unpaired"]["a"]) or "-", ids_text(c["unpaired"]["b"]) or "-"]
        for c in comparison["configurations"]
        if c["status"] == "both" and (c["unpaired"]["a"] or c["unpaired"]["b"])
    ]


def headline(comparison: dict) -> str:
    counts = comparison["counts"]
    metrics, configs = counts["metrics"], counts["configurations"]
    return (
        f"{metrics[WORSE]} worse, {metrics[BETTER]} better, {metrics[UNCHANGED]} unchanged "
        f"(metric x configuration); configurations: {configs['both']} in both, "
        f"{configs[ONLY_A]} only in A, {configs[ONLY_B]} only in B; failed datapoints: "
        f"{counts['failed_a']} in A, {counts['failed_b']} in B."
    )


def method(comparison: dict) -> str:
    options = comparison["options"]
    own = options["thresholds"] or kind.THRESHOLDS
    own = " (or the metric's own)" if own else ""
    alpha = f"{1 - options['confidence']:.2g}"
    return (
        f"Datapoints paired by input_id + config_id. Better/worse: the change is beyond "
        f"{share(options['threshold'])}{own} of A, its {share(options['confidence'])} paired "
        f"bootstrap interval (CI) too, and noise rarely makes its excess over the threshold "
        f"(paired permutation test, p < {alpha}; {options['resamples']} resamples, seed "
        f"{options['seed']}). Else unchanged, '(noise)' when beyond the threshold. Change and "
        "CI are relative to A; p: noise making a difference as large. Per-datapoint metrics "
        "average the pairs where neither run failed."
    )


def render(comparison: dict, gate: list[str] | None = None, fmt: str = "simple") -> str:
    """The terminal table (``fmt="simple"``)."""
    from tabulate import tabulate

    lines = [
        f"A: {describe_run(comparison['a'])} in {comparison['a']['db']}",
        f"B: {describe_run(comparison['b'])} in {comparison['b']['db']}",
        method(comparison),
        "",
        tabulate(table_rows(comparison), HEADERS, tablefmt=fmt, disable_numparse=True),
    ]
    only = one_run_only(comparison)
    if only:
        lines += ["", "Configurations in one run only:", *(f"  {line}" for line in only)]
    failures = failed_rows(comparison)
    if failures:
        lines += [
            "",
            "Failed datapoints (not in per-datapoint metrics; config metrics count them):",
        ]
        headers = ("config_id", "failed in A", "failed in B", "ids in A", "ids in B")
        lines.append(tabulate(failures, headers, tablefmt=fmt, disable_numparse=True))
    unpaired = unpaired_rows(comparison)
    if unpaired:
        lines += ["", "Datapoints in one run only (not compared):"]
        headers = ("config_id", "only in A", "only in B")
        lines.append(tabulate(unpaired, headers, tablefmt=fmt, disable_numparse=True))
    lines += ["", headline(comparison)]
    found = regressions(comparison, gate)
    if found:
        lines.append(
            "Regressions: "
            + "; ".join(f"{r['config_id']} {r['metric']} {percent(r['change'])}" for r in found)
        )
    return "\n".join(lines)


def markdown(
    comparison: dict,
    gate: list[str] | None = None,
    level: int = 1,
    title: str = "Comparison",
    image: str | None = None,
) -> str:
    """The comparison as Markdown: a document, or a report section (``level=2``)."""
    from tabulate import tabulate

    def heading(text: str, depth: int = 0) -> str:
        return f"{'#' * (level + depth)} {text}"

    a, b = comparison["a"], comparison["b"]
    lines = [
        heading(title),
        "",
        f"- **A**: {describe_run(a)}",
        f"- **B**: {describe_run(b)}",
        "",
        method(comparison),
        "",
        f"**{headline(comparison)}**",
        "",
    ]
    found = regressions(comparison, gate)
    if found:
        lines += [heading("Regressions", 1), ""]
        lines += [
            f"- `{r['config_id']}` ({label(r)}): {r['metric']} {number(r['a'])} -> "
            f"{number(r['b'])} ({percent(r['change'])}, p={r['p_value']:.3g})"
            for r in found
        ]
        lines.append("")
    if image:
        lines += [f"![A vs B per configuration]({image})", ""]
    lines += [heading("Metrics", 1), ""]
    lines.append(
        tabulate(
            table_rows(comparison, strong=lambda text: f"**{text}**"),
            HEADERS,
            tablefmt="github",
            disable_numparse=True,
        )
    )
    only = one_run_only(comparison)
    if only:
        lines += ["", heading("Configurations in one run only", 1), ""]
        lines += [f"- {line}" for line in only]
    lines += ["", heading("Failed datapoints", 1), ""]
    failures = failed_rows(comparison)
    if failures:
        headers = ("config_id", "failed in A", "failed in B", "ids in A", "ids in B")
        lines.append(tabulate(failures, headers, tablefmt="github", disable_numparse=True))
    else:
        lines.append("No datapoint failed in either run.")
    unpaired = unpaired_rows(comparison)
    if unpaired:
        lines += ["", heading("Datapoints in one run only (not compared)", 1), ""]
        headers = ("config_id", "only in A", "only in B")
        lines.append(tabulate(unpaired, headers, tablefmt="github", disable_numparse=True))
    lines.append("")
    return "\n".join(lines)


def to_json(comparison: dict, gate: list[str] | None = None) -> str:
    return json.dumps(
        {**comparison, "gate": gate or [], "regressions": regressions(comparison, gate)},
        indent=2,
        default=plain,
    )


def plot(comparison: dict, path: Path) -> Path:
    """PNG: A vs B per configuration, one panel per plotted metric (the primary metric, then the
    per-datapoint means), the mark of B written next to its bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    configurations = comparison["configurations"]
    panels = [(comparison["primary"], "config")]
    panels += [(name, "datapoint") for name in row_directions()]
    # Labels: the params that differ between configurations, wrapped (as the report's plots).
    names = {name for c in configurations for name in c["params"]}
    varying = [
        n for n in sorted(names) if len({str(c["params"].get(n)) for c in configurations}) > 1
    ]
    labels = [
        textwrap.fill(
            ", ".join([c["config_id"], *(f"{n}={c['params'].get(n)}" for n in varying)]), 40
        )
        for c in configurations
    ]
    y = np.arange(len(configurations))
    colors = {WORSE: "tab:red", BETTER: "tab:green"}
    fig, axes = plt.subplots(
        1, len(panels), figsize=(5 * len(panels) + 2, 0.7 * len(configurations) + 2), sharey=True
    )
    axes = np.atleast_1d(axes)
    for ax, (name, per) in zip(axes, panels, strict=True):
        entries = [
            next((m for m in c["metrics"] if m["metric"] == name and m["per"] == per), None)
            for c in configurations
        ]
        values_a = [np.nan if m is None or m["a"] is None else m["a"] for m in entries]
        values_b = [np.nan if m is None or m["b"] is None else m["b"] for m in entries]
        ax.barh(y - 0.2, values_a, height=0.4, color="tab:gray", label="A")
        ax.barh(y + 0.2, values_b, height=0.4, color="tab:blue", label="B")
        top = np.nanmax([*values_a, *values_b, 0.0])
        for i, m in enumerate(entries):
            if m is not None:
                value = 0.0 if np.isnan(values_b[i]) else values_b[i]
                ax.text(
                    value + top * 0.02,
                    i + 0.2,
                    m["mark"],
                    va="center",
                    fontsize=8,
                    color=colors.get(m["mark"], "black"),
                )
        ax.set_xlim(0, top * 1.35 if top > 0 else 1)
        ax.set_title(name if per == "config" else f"{name} (mean per datapoint)")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="upper right", fontsize=8)
    axes[0].set_yticks(y, labels, fontsize=8)
    axes[0].invert_yaxis()
    fig.suptitle(
        f"A = {comparison['a']['track_id']} vs B = {comparison['b']['track_id']}", fontsize=10
    )
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
