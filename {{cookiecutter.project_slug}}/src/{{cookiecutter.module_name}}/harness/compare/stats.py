"""The statistics of the decision: better, worse or unchanged, beyond noise.

A metric is *better* or *worse* only when its relative change is beyond the threshold AND the
paired bootstrap interval of B - A (datapoints resampled, fixed seed) lies beyond it too AND
noise rarely makes a difference as large as the change's excess over the threshold (a paired
permutation test, A and B swapped within random pairs: p < 1 - confidence). Otherwise it is
*unchanged*: a change noise could make, or one that could be within the threshold. So noise
alone does not flag a change, even with many metrics x configurations tested at once.
"""

import math
from dataclasses import dataclass, field

import numpy as np

from .. import kind

BETTER, WORSE, UNCHANGED, NO_VALUE = "better", "worse", "unchanged", "n/a"
THRESHOLD = 0.05  # relative change below which a metric is unchanged
CONFIDENCE = 0.95
RESAMPLES = 1000
MIN_PAIRS = 5  # fewer paired datapoints than this: no change is significant
SETTLED = 300  # summarize resamples after which a change none contradicts is settled


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
