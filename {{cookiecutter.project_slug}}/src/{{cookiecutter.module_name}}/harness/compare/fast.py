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


def same(value, expected) -> bool:
    if value is None or expected is None:
        return False
    return bool(np.isclose(value, expected, rtol=1e-9, atol=0.0))


def latency_intervals(
    results_a: list[dict], results_b: list[dict], names: list[str], options: Options, seed, groups
) -> dict[str, Interval]:
    """Intervals of the latency metrics of ``names`` that this module computes as summarize
    does (checked on both runs); the others are left out of the answer."""
    candidates = [n for n in names if n in LATENCY_HIGHER_IS_BETTER]
    if not candidates:
        return {}
    a, b = latencies(results_a), latencies(results_b)
    point_a, point_b = summary(results_a), summary(results_b)
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
    for start in range(0, total, CHUNK):
        size = min(CHUNK, total - start)
        draws = cluster_draws(rng, n, groups, size)  # clusters: resamples of unequal sizes
        picked = np.array(draws) if groups is None else None
        swap = (rng.random((size, cluster.max() + 1)) < 0.5)[:, cluster]
        swapped_a, swapped_b = np.where(swap, b, a), np.where(swap, a, b)
        for name in matching:
            if picked is not None:
                boot[name] += list(statistic(b[picked], name) - statistic(a[picked], name))
            else:
                boot[name] += [
                    statistic(b[None, d], name)[0] - statistic(a[None, d], name)[0] for d in draws
                ]
            permuted[name] += list(statistic(swapped_b, name) - statistic(swapped_a, name))
    found = {}
    for name in matching:
        observed = point_b[name] - point_a[name]
        low, high = quantiles(np.array(boot[name]), options.confidence)
        null = np.array(permuted[name])
        null = null[~np.isnan(null)]
        p = normal_p(observed, float(np.sqrt(np.mean(null**2)))) if null.size else 1.0
        found[name] = Interval(observed, low, high, p, options.confidence, total)
    return found
