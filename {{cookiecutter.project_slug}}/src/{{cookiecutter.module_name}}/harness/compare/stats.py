"""The statistics of the decision: better, worse, unchanged or inconclusive.

For a metric of two runs (B - A over the datapoints both ran, paired by identity):

- the 95% interval of B - A: a percentile bootstrap (paired datapoints resampled together, or
  whole clusters when the kind declares a GROUP field);
- the p-value of B - A: a paired permutation test (A and B swapped within random pairs), two
  sided, from the normal approximation of its null distribution. For a mean of paired values
  the null's standard deviation is exact, sqrt(sum d_i^2) / n (for 0/1 values: McNemar's test);
  for any other statistic it is the standard deviation of ``resamples`` random swaps;
- p-values adjusted with Holm's method over the metric x configuration pairs tested at once, in
  two families: the metrics the gate checks (default: the primary metric and error_rate, so a
  CI gate keeps its power) and all the others;
- the threshold: absolute (points, for proportions) or relative to A (latency, cost, ...).

The mark: *unchanged* when the interval lies within +-threshold; *worse*/*better* when the change
is significant after Holm (adjusted p < 1 - confidence) and its estimate is beyond the threshold;
*inconclusive* otherwise (significant but small, or not significant with an interval too wide to
rule the threshold out: more datapoints would tell).
"""

import math
from dataclasses import dataclass, field

import numpy as np

from .. import kind

BETTER, WORSE, UNCHANGED, INCONCLUSIVE, NO_VALUE = (
    "better",
    "worse",
    "unchanged",
    "inconclusive",
    "n/a",
)
MARKS = (WORSE, BETTER, INCONCLUSIVE, UNCHANGED, NO_VALUE)
THRESHOLD = 0.05  # relative change within which a metric is unchanged (metrics without their own)
ABSOLUTE = 0.02  # absolute change (points) within which a proportion is unchanged
CONFIDENCE = 0.95
RESAMPLES = 1000
SUMMARY_RESAMPLES = 200  # rounds of summarize (4 calls each) for per-configuration metrics
MIN_PAIRS = 5  # fewer paired datapoints than this: nothing is decided


def known(value):
    """``value``, or None when it is missing: None or NaN (kinds use either for "undefined")."""
    if value is None:
        return None
    try:
        return None if math.isnan(value) else value
    except TypeError:
        return value


def plain(value):
    """A JSON-ready Python value: numpy scalars unwrapped, NaN/inf as None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def summary(results: list[dict]) -> dict:
    """The kind's summarize, undefined values as None."""
    return {name: known(value) for name, value in kind.summarize(results).items()}


@dataclass(frozen=True)
class Threshold:
    value: float
    absolute: bool  # points (proportions) rather than a fraction of A

    def margin(self, a: float) -> float:
        return self.value if self.absolute else self.value * abs(a)

    def __str__(self) -> str:
        return f"{self.value:g} abs" if self.absolute else f"{self.value * 100:g}%"


@dataclass(frozen=True)
class Options:
    threshold: float = THRESHOLD  # relative, for every metric without its own
    thresholds: dict = field(default_factory=dict)  # metric name -> its threshold's value
    confidence: float = CONFIDENCE
    resamples: int = RESAMPLES
    seed: int = 0
    summary_resamples: int = SUMMARY_RESAMPLES  # summarize is the kind's code: not vectorised
    gate: tuple = ()  # what --fail-on-regression checks (default: primary, error_rate)

    def threshold_for(self, metric: str) -> Threshold:
        """The metric's threshold: absolute for ABSOLUTE_THRESHOLDS and PROPORTIONS, else
        relative (the kind's THRESHOLDS, else ``threshold``); ``thresholds`` overrides values."""
        if metric in kind.ABSOLUTE_THRESHOLDS or metric in kind.PROPORTIONS:
            value = kind.ABSOLUTE_THRESHOLDS.get(metric, ABSOLUTE)
            return Threshold(float(self.thresholds.get(metric, value)), True)
        value = kind.THRESHOLDS.get(metric, self.threshold)
        return Threshold(float(self.thresholds.get(metric, value)), False)


@dataclass(frozen=True)
class Interval:
    """A difference B - A with its ``confidence`` interval (bootstrap) and two-sided p-value
    (paired permutation test, normal approximation)."""

    diff: float
    low: float
    high: float
    p_value: float
    confidence: float = CONFIDENCE
    resamples: int = 0


def normal_p(diff: float, null_sd: float) -> float:
    """Two-sided p of ``diff`` under a null distribution centred on 0 with ``null_sd``."""
    if diff == 0 or not np.isfinite(diff):
        return 1.0
    if not null_sd > 0:
        return 0.0  # every swap gives the same nonzero difference: no noise at all
    return math.erfc(abs(diff) / null_sd / math.sqrt(2))


def quantiles(boot: np.ndarray, confidence: float) -> tuple[float, float]:
    boot = boot[~np.isnan(boot)]
    if not boot.size:
        return math.nan, math.nan
    low, high = np.quantile(boot, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(low), float(high)


def cluster_sums(values: np.ndarray, groups) -> tuple[np.ndarray, np.ndarray]:
    """(sum of ``values``, count) per cluster; each value its own cluster without ``groups``."""
    if groups is None:
        return values, np.ones(values.size)
    _, index = np.unique(np.asarray(groups, dtype=str), return_inverse=True)
    return np.bincount(index, weights=values), np.bincount(index).astype(float)


def paired_bootstrap(
    a,
    b,
    resamples: int = RESAMPLES,
    seed=0,
    confidence: float = CONFIDENCE,
    groups=None,
) -> Interval:
    """Mean of b - a over paired values: the bootstrap interval (pairs, or clusters of pairs
    when ``groups`` names each pair's cluster, resampled ``resamples`` times) and the p-value
    of the sign-flip permutation test (exact null sd: sqrt(sum of squared cluster sums) / n)."""
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    if d.size == 0:
        raise ValueError("no paired values")
    mean = float(d.mean())
    sums, counts = cluster_sums(d, groups)
    null_sd = float(np.sqrt(np.sum(sums**2)) / d.size)
    rng = np.random.default_rng(seed)
    chunk = max(1, 2_000_000 // sums.size)  # bounded memory for large datasets
    boot = []
    for start in range(0, resamples, chunk):
        picked = rng.integers(0, sums.size, size=(min(chunk, resamples - start), sums.size))
        sizes = d.size if groups is None else counts[picked].sum(axis=1)  # no clusters: n
        boot.append(sums[picked].sum(axis=1) / sizes)
    low, high = quantiles(np.concatenate(boot), confidence)
    if np.all(d == d[0]):  # no spread: the interval is the value (no rounding noise)
        low = high = mean
    return Interval(mean, low, high, normal_p(mean, null_sd), confidence, int(resamples))


def cluster_draws(rng, n: int, groups, size: int) -> list[np.ndarray]:
    """``size`` bootstrap draws of row indices: rows, or whole clusters of ``groups``."""
    if groups is None:
        return list(rng.integers(0, n, size=(size, n)))
    _, index = np.unique(np.asarray(groups, dtype=str), return_inverse=True)
    members = [np.flatnonzero(index == g) for g in range(index.max() + 1)]
    picked = rng.integers(0, len(members), size=(size, len(members)))
    return [np.concatenate([members[g] for g in row]) for row in picked]


def resample_summaries(
    results_a: list[dict],
    results_b: list[dict],
    names: list[str],
    options: Options,
    seed,
    groups=None,
) -> dict[str, Interval]:
    """``Interval`` of summarize(B) - summarize(A) for each metric of ``names``: each round
    draws a bootstrap resample of the paired datapoints (clusters with ``groups``) and a
    permutation (A and B swapped within random pairs, or clusters): two summarize calls each.
    p: the observed difference against the permutations' standard deviation."""
    point_a, point_b = summary(results_a), summary(results_b)
    observed = [point_b[name] - point_a[name] for name in names]
    n, total = len(results_a), min(options.resamples, options.summary_resamples)
    rng = np.random.default_rng(seed)
    boot = np.full((total, len(names)), np.nan)
    permuted = np.full((total, len(names)), np.nan)
    if groups is None:
        cluster = np.arange(n)
    else:
        cluster = np.unique(np.asarray(groups, dtype=str), return_inverse=True)[1]

    def differences(sa: dict, sb: dict) -> list[float]:
        return [
            np.nan if sa.get(name) is None or sb.get(name) is None else sb[name] - sa[name]
            for name in names
        ]

    for r, picked in enumerate(cluster_draws(rng, n, groups, total)):
        boot[r] = differences(
            summary([results_a[i] for i in picked]), summary([results_b[i] for i in picked])
        )
        swap = (rng.random(cluster.max() + 1) < 0.5)[cluster]
        pairs = list(zip(results_a, results_b, swap, strict=True))
        permuted[r] = differences(
            summary([y if s else x for x, y, s in pairs]),
            summary([x if s else y for x, y, s in pairs]),
        )
    intervals = {}
    for j, name in enumerate(names):
        low, high = quantiles(boot[:, j], options.confidence)
        null = permuted[:, j][~np.isnan(permuted[:, j])]
        null_sd = float(np.sqrt(np.mean(null**2))) if null.size else math.nan
        p = normal_p(observed[j], null_sd) if null.size else 1.0
        intervals[name] = Interval(observed[j], low, high, p, options.confidence, total)
    return intervals


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (same order): the k-th smallest of m is multiplied by
    m - k + 1, kept non-decreasing, capped at 1."""
    order = np.argsort(p_values, kind="stable")
    m = len(p_values)
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def wilson(successes: float, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of a proportion ``successes`` / ``n``."""
    if n <= 0:
        return math.nan, math.nan
    z = float(np.sqrt(2) * erfinv(confidence))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def erfinv(y: float) -> float:
    """Inverse error function (Newton's method on math.erf; |y| < 1)."""
    x = 0.0
    for _ in range(60):
        step = (math.erf(x) - y) / (2 / math.sqrt(math.pi) * math.exp(-x * x))
        x -= step
        if abs(step) < 1e-15:
            break
    return x


def z_of(probability: float) -> float:
    """The standard normal quantile of ``probability``."""
    return math.sqrt(2) * erfinv(2 * probability - 1)


def share(value: float) -> str:
    return f"{value * 100:g}%"


def decide(
    a,
    b,
    interval: Interval | None,
    threshold: Threshold,
    higher_is_better: bool,
    n: int = MIN_PAIRS,
    p_adjusted: float | None = None,
) -> tuple[str, str]:
    """(mark, reason) of a change from ``a`` to ``b`` (see the module's docstring).

    ``p_adjusted``: the interval's p-value after Holm's correction (default: as it is).
    """
    if a is None or b is None:
        return NO_VALUE, "no value"
    if a == b:
        return UNCHANGED, "equal"
    if n < MIN_PAIRS:
        return INCONCLUSIVE, f"fewer than {MIN_PAIRS} datapoints"
    if interval is None or not np.isfinite(interval.low):
        return INCONCLUSIVE, "no interval"
    margin = threshold.margin(a)
    if -margin <= interval.low and interval.high <= margin:
        return UNCHANGED, f"interval within {threshold}"
    p = interval.p_value if p_adjusted is None else p_adjusted
    significant = p < 1 - interval.confidence
    if significant and abs(b - a) > margin:
        mark = BETTER if (b > a) == higher_is_better else WORSE
        return mark, f"significant, beyond {threshold}"
    if significant:
        return INCONCLUSIVE, f"significant, within {threshold}"
    return INCONCLUSIVE, f"not significant, interval reaches {threshold}"


def ratio_and_change(a, b) -> tuple[float | None, float | None]:
    if a is None or b is None:
        return None, None
    if a == b:
        return 1.0, 0.0
    if a == 0:
        return None, None
    return b / a, (b - a) / abs(a)
