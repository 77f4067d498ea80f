"""Vectorised resampling of the latency statistics (numpy, no summarize call per resample).

The per-configuration latency metrics of shared_metrics.latency_summary (mean, p50, p95, p99
of the successful datapoints' latency) are recomputed on every bootstrap resample and
permutation at once, as matrices. Used only for the metrics where this computation gives, on
both runs' own datapoints, exactly what the kind's ``summarize`` gave: a kind that computes
them otherwise is resampled through its ``summarize`` (stats.resample_summaries).
"""

import warnings

import numpy as np

from ..shared_metrics import LATENCY_HIGHER_IS_BETTER
from .stats import Interval, Options, cluster_draws, known, normal_p, quantiles, summary

PERCENTILES = {"latency_p50": 50, "latency_p95": 95, "latency_p99": 99}
CHUNK = 50  # resamples per matrix: bounded memory on large datasets


def latencies(results: list[dict]) -> np.ndarray:
    """Each datapoint's latency, NaN where it failed or has none (summarize skips those)."""
    return np.array(
        [
            np.nan if r.get("error") or known(r.get("latency")) is None else float(r["latency"])
            for r in results
        ]
    )


def statistic(matrix: np.ndarray, name: str) -> np.ndarray:
    """``name`` of each row of ``matrix``, NaN values left out (NaN for an all-NaN row).
    Percentiles interpolate linearly between the sorted values, as np.percentile does."""
    valid = (~np.isnan(matrix)).sum(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN row: NaN, as intended
        if name == "latency_mean":
            return np.nansum(matrix, axis=1) / valid
        ordered = np.sort(matrix, axis=1)  # NaN last
        position = PERCENTILES[name] / 100 * np.maximum(valid - 1, 0)
        low = np.floor(position).astype(int)[:, None]
        high = np.minimum(low + 1, np.maximum(valid - 1, 0)[:, None])
        below = np.take_along_axis(ordered, low, axis=1)[:, 0]
        above = np.take_along_axis(ordered, high, axis=1)[:, 0]
        found = below + (above - below) * (position - low[:, 0])
    return np.where(valid > 0, found, np.nan)


def nth(cumulative: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Per row, the index of the k-th (0-based) value: the first j with cumulative[j] > k
    (``k``: one column per value wanted). One binary search per row: no copy of the matrix."""
    k = k.astype(cumulative.dtype)  # one dtype: searchsorted would copy the row to cast it
    found = np.array(
        [np.searchsorted(row, ks, side="right") for row, ks in zip(cumulative, k, strict=True)]
    )
    return np.clip(found.reshape(k.shape), 0, cumulative.shape[1] - 1)


def counted_percentiles(ordered: np.ndarray, counts: np.ndarray, names: list[str]) -> dict:
    """The percentiles of ``names`` of each row of ``counts`` (how many times each value of
    ``ordered``, sorted and without NaN, is in that resample): what ``statistic`` gives on the
    resample itself, as the same order statistics are picked, in O(n) per row, not a sort."""
    if not counts.shape[1]:
        return {name: np.full(len(counts), np.nan) for name in names}
    return cumulative_percentiles(ordered, np.cumsum(counts, axis=1, dtype=np.int32), names)


def cumulative_percentiles(ordered: np.ndarray, cumulative: np.ndarray, names: list[str]):
    """``counted_percentiles`` from the counts' running sums along each row."""
    valid = cumulative[:, -1]
    position = np.stack([PERCENTILES[name] / 100 * np.maximum(valid - 1, 0) for name in names])
    low = np.floor(position).astype(np.int64).T  # rows x names
    high = np.minimum(low + 1, np.maximum(valid - 1, 0)[:, None])
    picked = nth(cumulative, np.hstack([low, high]))
    below, above = ordered[picked[:, : len(names)]], ordered[picked[:, len(names) :]]
    found = below + (above - below) * (position.T - low)
    return {name: np.where(valid > 0, found[:, j], np.nan) for j, name in enumerate(names)}


class Ranked:
    """A vector's non-NaN values sorted once, and each position's rank among them (NaN: m)."""

    def __init__(self, values: np.ndarray):
        order = np.argsort(values, kind="stable")  # NaN last
        self.m = int((~np.isnan(values)).sum())
        self.order = order[: self.m]  # the position of each sorted value
        self.ordered = values[self.order]
        self.rank = np.full(values.size, self.m, dtype=np.int64)
        self.rank[self.order] = np.arange(self.m)

    def counts(self, picked) -> np.ndarray:
        """rows x m: how often each sorted value is in each row of ``picked`` (indices)."""
        found = np.empty((len(picked), self.m), dtype=np.int32)
        for row, indices in enumerate(picked):
            found[row] = np.bincount(self.rank[indices], minlength=self.m + 1)[: self.m]
        return found


def resampled(values: np.ndarray, ranked: Ranked, picked, names: list[str]) -> dict:
    """Every statistic of ``names`` on each resample ``picked`` of ``values`` (a matrix of
    indices, or a list of index vectors of unequal sizes: clusters)."""
    found = {}
    if "latency_mean" in names:
        if isinstance(picked, np.ndarray):
            found["latency_mean"] = statistic(values[picked], "latency_mean")
        else:
            found["latency_mean"] = np.array(
                [statistic(values[None, d], "latency_mean")[0] for d in picked]
            )
    percentiles = [n for n in names if n in PERCENTILES]
    if percentiles:
        counts = ranked.counts(picked)
        found.update(counted_percentiles(ranked.ordered, counts, percentiles))
    return found


def swapped_sides(a: np.ndarray, b: np.ndarray, both: Ranked, swap: np.ndarray, names: list[str]):
    """(statistics of A's side, of B's side) of each row of ``swap`` (True: the pair's values
    trade places); ``both``: the values of a then b, ranked."""
    sides = {}
    if "latency_mean" in names:
        sides["latency_mean"] = (
            statistic(np.where(swap, b, a), "latency_mean"),
            statistic(np.where(swap, a, b), "latency_mean"),
        )
    percentiles = [n for n in names if n in PERCENTILES]
    if percentiles and both.m:
        n = a.size
        pair, from_a = both.order % n, both.order < n  # each sorted value: its pair, its run
        on_a = swap[:, pair] != from_a  # the value is on A's side: A's and kept, or B's and swapped
        cumulative = np.cumsum(on_a, axis=1, dtype=np.int32)
        of_a = cumulative_percentiles(both.ordered, cumulative, percentiles)
        cumulative = np.arange(1, both.m + 1, dtype=np.int32) - cumulative  # B's side: the rest
        of_b = cumulative_percentiles(both.ordered, cumulative, percentiles)
        sides.update({name: (of_a[name], of_b[name]) for name in percentiles})
    elif percentiles:
        nothing = np.full(len(swap), np.nan)
        sides.update({name: (nothing, nothing) for name in percentiles})
    return sides


def same(value, expected) -> bool:
    if value is None or expected is None:
        return False
    return bool(np.isclose(value, expected, rtol=1e-9, atol=0.0))


def latency_intervals(
    results_a: list[dict],
    results_b: list[dict],
    names: list[str],
    options: Options,
    seed,
    groups,
    points: tuple | None = None,
) -> dict[str, Interval]:
    """Intervals of the latency metrics of ``names`` that this module computes as summarize
    does (checked on both runs); the others are left out of the answer. ``points``: summarize
    of each run, when already computed."""
    candidates = [n for n in names if n in LATENCY_HIGHER_IS_BETTER]
    if not candidates:
        return {}
    a, b = latencies(results_a), latencies(results_b)
    point_a, point_b = points or (summary(results_a), summary(results_b))
    matching = [
        n
        for n in candidates
        if same(float(statistic(a[None, :], n)[0]), point_a.get(n))
        and same(float(statistic(b[None, :], n)[0]), point_b.get(n))
    ]
    if not matching:
        return {}
    n, total = a.size, options.resamples
    rng = np.random.default_rng(seed)
    cluster = (
        np.arange(n)
        if groups is None
        else np.unique(np.asarray(groups, dtype=str), return_inverse=True)[1]
    )
    boot = {name: [] for name in matching}
    permuted = {name: [] for name in matching}
    ranked_a, ranked_b, both = Ranked(a), Ranked(b), Ranked(np.concatenate([a, b]))
    for start in range(0, total, CHUNK):
        size = min(CHUNK, total - start)
        draws = cluster_draws(rng, n, groups, size)  # clusters: resamples of unequal sizes
        picked = np.array(draws) if groups is None else draws
        swap = (rng.random((size, cluster.max() + 1)) < 0.5)[:, cluster]
        of_a = resampled(a, ranked_a, picked, matching)
        of_b = resampled(b, ranked_b, picked, matching)
        sides = swapped_sides(a, b, both, swap, matching)
        for name in matching:
            boot[name] += list(of_b[name] - of_a[name])
            permuted_a, permuted_b = sides[name]
            permuted[name] += list(permuted_b - permuted_a)
    found = {}
    for name in matching:
        observed = point_b[name] - point_a[name]
        low, high = quantiles(np.array(boot[name]), options.confidence)
        null = np.array(permuted[name])
        null = null[~np.isnan(null)]
        p = normal_p(observed, float(np.sqrt(np.mean(null**2)))) if null.size else 1.0
        found[name] = Interval(observed, low, high, p, options.confidence, total)
    return found
