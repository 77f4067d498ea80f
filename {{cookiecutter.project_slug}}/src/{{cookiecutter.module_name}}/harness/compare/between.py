"""Measurements of the machine judged between replicates, not within one run.

A metric the kind declares in MEASUREMENTS (latency, requests per second, ...) depends on what
else the machine was doing during the run: resampling the datapoints of one run cannot see
that, so two runs of the same code can differ "significantly". compare judges these metrics on
replicates (``run --replicate N``): the runs of each side that measured the same code (same
phase, experiment, git commit, predict version and predict code), the latest run of each
replicate index. Each replicate gives the metric one value per configuration, over the
datapoints every replicate of both sides has; B - A is the difference of the two sides' means,
with Welch's t interval and p-value (then Holm and the threshold rule of ``stats.decide``).
With fewer than two replicates on a side such a metric is *inconclusive* (unless both sides
hold exactly the same values: a cache replay), and the reason says how many to take.

When A and B are replicates of the same code, each side is its own run only.
"""

import math
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import kind
from ..level_checks import measured as measured_rows
from ..tracking import PREDICTIONS, is_result_column, table_columns, table_exists
from .stats import INCONCLUSIVE, MIN_PAIRS, Interval, known, plain, ratio_and_change, summary

REPLICATES_NEEDED = 3  # per side, for a measurement's change to be called (README: Replicates)
# Runs with the same values of these measured the same code: replicates of one another.
SAME_CODE = (
    "phase",
    "experiment",
    "git_commit",
    "git_dirty",
    "predict_version",
    "predict_fingerprint",
)


@dataclass
class Sides:
    """Each side's replicate runs: track_id -> (input_id -> result), in replicate order."""

    a: dict = field(default_factory=dict)
    b: dict = field(default_factory=dict)
    ids_a: list = field(default_factory=list)  # track_ids, for the JSON
    ids_b: list = field(default_factory=list)


def replicate_of(run: dict) -> int:
    value = known(run.get("replicate"))
    return int(value) if value is not None else 0  # rows older than replicates: 0


def code_of(run: dict) -> tuple:
    """What identifies the code a run measured (0 and 0.0 alike: one column read two ways)."""
    values = [known(run.get(column)) for column in SAME_CODE]
    return tuple(str(int(v) if isinstance(v, float) and v.is_integer() else v) for v in values)


def side_runs(all_runs: list[dict], run: dict) -> list[dict]:
    """The replicates of ``run``: runs of the same code, the latest of each replicate index
    (``run`` itself for its own index), ordered by replicate."""
    latest = {}
    for other in all_runs:  # oldest first
        if code_of(other) == code_of(run):
            latest[replicate_of(other)] = other
    latest[replicate_of(run)] = run
    return [latest[index] for index in sorted(latest)]


def run_list(db: Path) -> list[dict]:
    """One dict per run of the db's predictions table (SAME_CODE columns, replicate, started),
    oldest first; [] without a replicate > 0 (nothing to expand)."""
    if not table_exists(db, PREDICTIONS):
        return []
    with sqlite3.connect(db) as connection:
        present = table_columns(connection, PREDICTIONS)
        if "replicate" not in present:
            return []
        found = f'SELECT 1 FROM "{PREDICTIONS}" WHERE replicate > 0 LIMIT 1'
        if connection.execute(found).fetchone() is None:  # no replicate: nothing to expand
            return []
        columns = [c for c in (*SAME_CODE, "replicate") if c in present]
        query = (
            f'SELECT track_id, MIN(timestamp) AS started, {", ".join(columns)} FROM "{PREDICTIONS}"'
            " GROUP BY track_id ORDER BY started"
        )
        return pd.read_sql_query(query, connection).to_dict("records")


def results_of(rows: pd.DataFrame) -> dict:
    """(config_id, input_id) -> the row's result (predict's fields), NULLs as None."""
    columns = [c for c in rows.columns if is_result_column(c)]
    frame = rows[columns].astype(object)
    frame = frame.where(frame.notna(), None)
    keys = zip(rows["config_id"].astype(str), rows["input_id"].astype(str), strict=True)
    return dict(zip(keys, frame.to_dict("records"), strict=True))


def expand(runs_a: list[dict], run_a: dict, runs_b: list[dict], run_b: dict, same_db: bool):
    """(replicate runs of A, of B): each side's replicates, or the two runs alone when they
    measured the same code (or are one run)."""
    # the db's own values of the two runs (replicate, predict_fingerprint) where it has them
    run_a = {**run_a, **next((r for r in runs_a if r["track_id"] == run_a["track_id"]), {})}
    run_b = {**run_b, **next((r for r in runs_b if r["track_id"] == run_b["track_id"]), {})}
    if same_db and code_of(run_a) == code_of(run_b):
        return [run_a], [run_b]
    return side_runs(runs_a, run_a), side_runs(runs_b, run_b)


def sides(db: Path, run_a: dict, run_b: dict, baseline_db: Path | None = None) -> Sides | None:
    """Each side's replicates read from the db(s); None when neither side has more than its
    own run (the selected rows are all there is)."""
    runs_b = run_list(db)
    runs_a = runs_b if baseline_db is None else run_list(baseline_db)
    a, b = expand(runs_a, run_a, runs_b, run_b, baseline_db is None)
    if len(a) < 2 and len(b) < 2:
        return None
    return Sides(
        a={r["track_id"]: read_run(baseline_db or db, r["track_id"]) for r in a},
        b={r["track_id"]: read_run(db, r["track_id"]) for r in b},
        ids_a=[r["track_id"] for r in a],
        ids_b=[r["track_id"] for r in b],
    )


def read_run(db: Path, track_id: str) -> dict:
    with sqlite3.connect(db) as connection:
        rows = pd.read_sql_query(
            f'SELECT * FROM "{PREDICTIONS}" WHERE track_id = ?', connection, params=(track_id,)
        )
    return results_of(measured_rows(rows))  # without rows of interrupted load levels


def replicate_values(
    side: dict, config_id: str, ids: list[str], name: str, per: str, memo: dict | None = None
) -> list:
    """The metric ``name`` of each replicate run of ``side``, over the datapoints ``ids``
    (``memo``: summaries already computed, by track_id and config_id)."""
    values = []
    memo = {} if memo is None else memo
    for track_id, results in side.items():
        rows = [results[(config_id, i)] for i in ids]
        if per == "config":
            if (track_id, config_id) not in memo:
                memo[track_id, config_id] = summary(rows)
            value = memo[track_id, config_id].get(name)
        else:
            points = [known(kind.row_values(r).get(name)) for r in rows]
            points = [float(p) for p in points if p is not None]
            value = float(np.mean(points)) if points else None
        if known(value) is not None:
            values.append(float(value))
    return values


def common_ids(sides_: Sides, config_id: str) -> list[str]:
    """The datapoints of ``config_id`` every replicate run of both sides has."""
    runs = [*sides_.a.values(), *sides_.b.values()]
    sets = [{i for c, i in results if c == config_id} for results in runs]
    return sorted(set.intersection(*sets)) if sets else []


def apply(configurations: list[dict], sides_: Sides | None, confidence: float) -> None:
    """Judge each MEASUREMENTS metric of the configurations in both runs between replicates:
    Welch's interval of the replicate means when each side has two or more, else the mark
    inconclusive (a metric with the same value on both sides stays "equal")."""
    measured, memo = set(kind.MEASUREMENTS), {}
    for config in configurations:
        if config["status"] != "both":
            continue
        ids = common_ids(sides_, config["config_id"]) if sides_ else []
        for m in config["metrics"]:
            if m["metric"] not in measured or m["mark"] is not None:
                continue
            values_a = values_b = []
            if sides_ and len(ids) >= MIN_PAIRS:
                values_a, values_b = (
                    replicate_values(side, config["config_id"], ids, m["metric"], m["per"], memo)
                    for side in (sides_.a, sides_.b)
                )
            if len(values_a) >= 2 and len(values_b) >= 2:
                between_runs(m, values_a, values_b, len(ids), confidence)
            elif m["a"] is None or m["b"] is None or m["a"] != m["b"]:
                few(m, max(1, len(values_a)), max(1, len(values_b)))
            m["replicates"] = [max(1, len(values_a)), max(1, len(values_b))]


def between_runs(m: dict, values_a: list, values_b: list, n: int, confidence: float) -> None:
    interval = welch(values_a, values_b, confidence)
    a, b = float(np.mean(values_a)), float(np.mean(values_b))
    ratio, change = ratio_and_change(a, b)
    m.update(
        a=a,
        b=b,
        ratio=plain(ratio),
        change=plain(change),
        diff=plain(interval.diff),
        ci=[plain(interval.low), plain(interval.high)],
        p_value=plain(interval.p_value),
        resamples=None,
        n=n,
        _interval=interval,
    )


def few(m: dict, k_a: int, k_b: int) -> None:
    """Too few replicates: inconclusive, with how many to take."""
    reason = (
        f"{k_a} vs {k_b} replicates: a machine measurement needs {REPLICATES_NEEDED} per side "
        f"(run --replicate 1, then 2)"
    )
    m.update(mark=INCONCLUSIVE, reason=reason, ci=None, p_value=None, diff=None, _interval=None)


# --- Welch's t test ---------------------------------------------------------------------------


def welch(a, b, confidence: float) -> Interval:
    """Mean of ``b`` minus mean of ``a`` (independent samples, unequal variances): Welch's t
    interval at ``confidence`` and two-sided p-value."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    diff = float(b.mean() - a.mean())
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = math.sqrt(va + vb)
    if se == 0:  # no spread on either side
        return Interval(diff, diff, diff, 1.0 if diff == 0 else 0.0, confidence, 0)
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    p = min(1.0, 2 * t_tail(abs(diff) / se, df))
    half = t_quantile((1 + confidence) / 2, df) * se
    return Interval(diff, diff - half, diff + half, p, confidence, 0)


def t_tail(t: float, df: float) -> float:
    """P(T > t) for Student's t with ``df`` degrees of freedom (t >= 0)."""
    return 0.5 * incomplete_beta(df / 2, 0.5, df / (df + t * t))


def t_quantile(probability: float, df: float) -> float:
    """The t with P(T <= t) = ``probability`` (> 0.5), by bisection on ``t_tail``."""
    low, high = 0.0, 1.0
    while t_tail(high, df) > 1 - probability:
        high *= 2
    for _ in range(100):
        middle = (low + high) / 2
        low, high = (middle, high) if t_tail(middle, df) > 1 - probability else (low, middle)
    return (low + high) / 2


def incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b) (continued fraction, Lentz)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    if x > (a + 1) / (a + b + 2):  # the fraction converges fast on this side only
        return 1.0 - incomplete_beta(b, a, 1 - x)
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    front = math.exp(log_front + a * math.log(x) + b * math.log1p(-x)) / a
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for i in range(1, 300):
        for numerator in (
            i * (b - i) * x / ((a + 2 * i - 1) * (a + 2 * i)),
            -(a + i) * (a + b + i) * x / ((a + 2 * i) * (a + 2 * i + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return front * result


def default_pair(candidates: list[dict]) -> tuple[dict, dict]:
    """(A, B) of ``compare`` without names: B the latest run; A the run before it, or, when B's
    code has replicates, the latest run of other code (so A and B are not two replicates)."""
    last = candidates[-1]
    if any(replicate_of(r) > 0 for r in candidates if code_of(r) == code_of(last)):
        other = [r for r in candidates if code_of(r) != code_of(last)]
        if other:
            return other[-1], last
    return candidates[-2], last


def replicate_ids(sides_: Sides | None, run_a: dict, run_b: dict) -> dict:
    """The runs each side's machine measurements were judged on (track_ids)."""
    if sides_ is None:
        return {"a": [run_a["track_id"]], "b": [run_b["track_id"]]}
    return {"a": list(sides_.ids_a), "b": list(sides_.ids_b)}


def note(comparison: dict) -> str:
    """One line on how MEASUREMENTS were judged, and how many replicates to take ("": none)."""
    entries = [m for c in comparison["configurations"] for m in c["metrics"] if "replicates" in m]
    if not entries:
        return ""
    runs = comparison.get("replicates") or {"a": [None], "b": [None]}
    k_a, k_b = len(runs["a"]), len(runs["b"])
    few = sum(m["mark"] == INCONCLUSIVE and min(m["replicates"]) < 2 for m in entries)
    text = (
        f"Machine measurements ({', '.join(kind.MEASUREMENTS)}) are judged between replicate "
        f"runs (A: {k_a}, B: {k_b}; Welch's t interval of the replicate means)"
    )
    if few:
        package = __package__.split(".")[0]
        text += (
            f"; {few} inconclusive with fewer than 2 replicates on a side: take "
            f"{REPLICATES_NEEDED} per side, `python -m {package} run --replicate 1`, then "
            "`--replicate 2`, on each side's code (README, Replicates)"
        )
    return text + "."


def earlier_code(all_runs: list[dict], this: dict, previous: dict) -> dict:
    """The run the report compares ``this`` with: ``previous``, or, when that is a replicate
    of the same code and the code has replicates, the latest earlier run of other code of the
    same phase (if any)."""
    same = [r for r in all_runs if code_of(r) == code_of(this)]
    if code_of(previous) != code_of(this) or not any(replicate_of(r) > 0 for r in same):
        return previous
    earlier = [
        r
        for r in all_runs
        if r["started"] < this["started"]
        and r.get("phase") == this.get("phase")
        and code_of(r) != code_of(this)
    ]
    return earlier[-1] if earlier else previous
