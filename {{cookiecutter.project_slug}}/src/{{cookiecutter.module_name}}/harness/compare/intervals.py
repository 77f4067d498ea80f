"""One configuration's bootstrap intervals and the paired test against the best, vectorised.

The intervals are those of ``ranking.intervals`` (a percentile bootstrap of the kind's
``summarize``: the same random draws, the same numbers up to float rounding), computed without a
summarize call per resample where a metric allows it:

- the latency statistics that fast.py computes as ``summarize`` does: from the resamples'
  counts of each sorted latency;
- the metrics that are means, sums or ratios of per-datapoint shares (means.py): one matrix
  product of the resamples' counts (resamples x datapoints) and the shares;
- every other metric: ``summarize`` on each resample.

The paired test of a configuration against the best goes through the path compare uses
(core.compare_results): fast.latency_intervals, means.mean_intervals, then
stats.resample_summaries for a metric neither serves.
"""

import numpy as np

from ..shared_metrics import LATENCY_HIGHER_IS_BETTER
from . import grouped
from .fast import Ranked, latencies, resampled, same, statistic
from .fast import latency_intervals as latency_paired
from .means import CELLS, find_forms, masked_shares, metrics, shares, sums
from .means import mean_intervals as mean_paired
from .stats import (
    Interval,
    Options,
    cluster_draws,
    normal_p,
    quantiles,
    resample_summaries,
    summary,
)

CHUNK = 20  # resamples drawn at a time: bounded memory (the same draws as one call for all)
SAMPLE = 200  # datapoints on which a form must hold before summarize runs on every datapoint


def latency_names(results: list[dict], names: list[str], point: dict):
    """(latencies, the names of ``names`` fast.py computes as summarize did on ``results``)."""
    values = latencies(results)
    candidates = [n for n in names if n in LATENCY_HIGHER_IS_BETTER]
    found = {n: float(statistic(values[None, :], n)[0]) for n in candidates}
    return values, [n for n in candidates if same(found[n], point.get(n))]


def share_forms(results: list[dict], names: list[str], point: dict, seed) -> list[tuple]:
    """[(share columns for ``sums``, their forms, the forms over all shares)] of the metrics of
    ``names`` that are means, sums or ratios of per-datapoint shares: from ``masked_shares``
    first, then ``shares`` (one summarize call per datapoint: tried only for the forms that
    first hold on the first SAMPLE)."""
    all_names = list(point)
    found, left = [], list(names)
    for make in (masked_shares, shares):
        if not left:
            break
        if make is shares and len(results) > SAMPLE:
            sample = results[:SAMPLE]
            left = list(find_forms([(sample, shares(sample, all_names))], left, all_names, seed))
            if not left:
                break
        values = make(results, all_names)
        forms = find_forms([(results, values)], left, all_names, seed, [point])
        if forms:
            columns = sorted({j for form in forms.values() for j in form[1:]})
            renamed = {n: (f[0], *(columns.index(j) for j in f[1:])) for n, f in forms.items()}
            used = values[:, columns]
            values = np.hstack([np.nan_to_num(used, nan=0.0), ~np.isnan(used)])
            found.append((values, renamed, forms))
            left = [n for n in left if n not in forms]
    return found


def bootstrap(results, names, point, seed, groups, resamples: int) -> np.ndarray:
    """resamples x ``names``: each metric on each bootstrap resample of ``results`` (draws:
    ``cluster_draws`` with ``np.random.default_rng(seed)``, CHUNK at a time; when every metric
    is a latency statistic of few distinct latencies, grouped.latency_statistics instead)."""
    n = len(results)
    values, by_latency = latency_names(results, names, point)
    rest = [m for m in names if m not in by_latency]
    by_shares = share_forms(results, rest, point, seed) if rest else []
    served = set(by_latency) | {m for _, forms, _ in by_shares for m in forms}
    by_summary = [m for m in rest if m not in served]
    rng = np.random.default_rng(seed)
    boot = np.full((resamples, len(names)), np.nan)
    column = {m: j for j, m in enumerate(names)}
    if by_latency == names and groups is None:  # few distinct latencies: drawn as their counts
        found = grouped.latency_statistics(values, by_latency, rng, resamples)
        for name, resample_values in (found or {}).items():
            boot[:, column[name]] = resample_values
        if found is not None:
            return boot
    ranked = Ranked(values) if by_latency else None
    for start in range(0, resamples, CHUNK):
        size = min(CHUNK, resamples - start)
        draws = cluster_draws(rng, n, groups, size)
        found = {}
        if by_latency:
            picked = np.array(draws) if groups is None else draws
            found.update(resampled(values, ranked, picked, by_latency))
        if by_shares:
            counts = np.array([np.bincount(d, minlength=n) for d in draws], dtype=float)
            for share_values, forms, _ in by_shares:
                found.update(sums(counts, share_values, forms))
        for name, resample_values in found.items():
            boot[start : start + size, column[name]] = resample_values
        for r, picked in enumerate(draws if by_summary else ()):
            got = summary([results[i] for i in picked])
            for name in by_summary:
                boot[start + r, column[name]] = np.nan if got.get(name) is None else got[name]
    return boot


def bootstrap_intervals(results, names, point, confidence, seed, groups, resamples) -> dict:
    """Metric of ``names`` -> (low, high): the percentile bootstrap interval of ``bootstrap``."""
    boot = bootstrap(results, names, point, seed, groups, resamples)
    return {name: quantiles(boot[:, j], confidence) for j, name in enumerate(names)}


def paired(results_a, results_b, name: str, options: Options, seed, groups) -> Interval:
    """summarize(B) - summarize(A) of metric ``name`` on paired datapoints, as compare tests it:
    fast.py, then means.py (when a form holds on A's first SAMPLE datapoints), then the kind's
    summarize on each resample."""
    points = (summary(results_a), summary(results_b))
    found = latency_paired(results_a, results_b, [name], options, seed, groups, points)
    sample = results_a[:SAMPLE]  # a metric with no form there: not worth one summarize call each
    if name not in found and share_forms(sample, [name], summary(sample), seed):
        found = mean_paired(results_a, results_b, [name], options, seed, groups, points)
    if name not in found:
        found = resample_summaries(results_a, results_b, [name], options, seed, groups)
    return found[name]


def pairing(ids: list[str], results: list[dict], name: str, point: dict, seed):
    """(input ids, share columns, form, form over all shares) of metric ``name`` for
    ``paired_shares``, when it is a
    mean, sum or ratio of per-datapoint shares that vary between datapoints (a share constant
    over a configuration can be a max: not a mean over a mixture of two); else None."""
    found = share_forms(results, [name], point, seed)
    if not found:
        return None
    values, forms, original = found[0]
    k = values.shape[1] // 2
    if all(np.ptp(values[:, j]) == 0 for j in range(k)):
        return None
    return np.array(ids), values, forms[name], original[name]


def paired_shares(a: tuple, b: tuple, name: str, options: Options, seed) -> Interval | None:
    """``paired`` from two configurations' ``pairing`` (no result dict): on the input ids both
    ran, means.mean_intervals' computation (bootstrap: resamples' counts times the shares;
    permutation: the shares of swapped pairs traded; the draws as counts of each distinct row
    of shares when they are few, grouped.py). None when the metric is equal."""
    _, at_a, at_b = np.intersect1d(a[0], b[0], assume_unique=True, return_indices=True)
    value_a, value_b, forms = a[1][at_a], b[1][at_b], {name: a[2]}
    point_a = metrics(value_a.sum(axis=0)[None], forms)[name][0]
    point_b = metrics(value_b.sum(axis=0)[None], forms)[name][0]
    if not at_a.size or point_a == point_b or np.isnan(point_a) or np.isnan(point_b):
        return None
    n, total = at_a.size, options.resamples
    rng = np.random.default_rng(seed)
    base, both = value_a.sum(axis=0), value_a.sum(axis=0) + value_b.sum(axis=0)
    few = grouped.distinct(np.hstack([value_a, value_b]))  # few distinct rows: their counts
    if few:
        n, k = len(few[0]), value_a.shape[1]
        value_a, value_b = few[0][:, :k], few[0][:, k:]
    boot, permuted = [], []
    for start in range(0, total, max(1, CELLS // (2 * n))):
        size = min(max(1, CELLS // (2 * n)), total - start)
        if few:
            counts, swap = grouped.draw(rng, few[1], size)
        else:
            draws = cluster_draws(rng, n, None, size)
            bits = np.unpackbits(np.frombuffer(rng.bytes((size * n + 7) // 8), dtype=np.uint8))
            swap = bits[: size * n].reshape(size, n).astype(float)  # 1: the pair trades places
            counts = np.array([np.bincount(d, minlength=n) for d in draws], dtype=float)
        of_a, of_b = sums(counts, value_a, forms)[name], sums(counts, value_b, forms)[name]
        side_a = base + swap @ (value_b - value_a)  # A's side of a permutation
        side_b = both - side_a
        boot.append(of_b - of_a)
        permuted.append(metrics(side_b, forms)[name] - metrics(side_a, forms)[name])
    observed = float(point_b - point_a)
    low, high = quantiles(np.concatenate(boot), options.confidence)
    null = np.concatenate(permuted)
    null = null[~np.isnan(null)]
    p = normal_p(observed, float(np.sqrt(np.mean(null**2)))) if null.size else 1.0
    return Interval(observed, low, high, p, options.confidence, total)
