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
from .fast import Ranked, latencies, resampled, same, statistic
from .fast import latency_intervals as latency_paired
from .means import find_forms, masked_shares, shares, sums
from .means import mean_intervals as mean_paired
from .stats import Interval, Options, cluster_draws, quantiles, resample_summaries, summary

CHUNK = 20  # resamples drawn at a time: bounded memory (the same draws as one call for all)
SAMPLE = 200  # datapoints on which a form must hold before summarize runs on every datapoint


def latency_names(results: list[dict], names: list[str], point: dict):
    """(latencies, the names of ``names`` fast.py computes as summarize did on ``results``)."""
    values = latencies(results)
    candidates = [n for n in names if n in LATENCY_HIGHER_IS_BETTER]
    found = {n: float(statistic(values[None, :], n)[0]) for n in candidates}
    return values, [n for n in candidates if same(found[n], point.get(n))]


def share_forms(results: list[dict], names: list[str], point: dict, seed) -> list[tuple]:
    """[(share columns for ``sums``, forms)] of the metrics of ``names`` that are means, sums or
    ratios of per-datapoint shares: from ``masked_shares`` first, then ``shares`` (one summarize
    call per datapoint: tried only for the forms that first hold on the first SAMPLE)."""
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
            found.append((np.hstack([np.nan_to_num(used, nan=0.0), ~np.isnan(used)]), renamed))
            left = [n for n in left if n not in forms]
    return found


def bootstrap(results, names, point, seed, groups, resamples: int) -> np.ndarray:
    """resamples x ``names``: each metric on each bootstrap resample of ``results`` (draws:
    ``cluster_draws`` with ``np.random.default_rng(seed)``, CHUNK at a time)."""
    n = len(results)
    values, by_latency = latency_names(results, names, point)
    rest = [m for m in names if m not in by_latency]
    by_shares = share_forms(results, rest, point, seed) if rest else []
    served = set(by_latency) | {m for _, forms in by_shares for m in forms}
    by_summary = [m for m in rest if m not in served]
    ranked = Ranked(values) if by_latency else None
    rng = np.random.default_rng(seed)
    boot = np.full((resamples, len(names)), np.nan)
    column = {m: j for j, m in enumerate(names)}
    for start in range(0, resamples, CHUNK):
        size = min(CHUNK, resamples - start)
        draws = cluster_draws(rng, n, groups, size)
        found = {}
        if by_latency:
            picked = np.array(draws) if groups is None else draws
            found.update(resampled(values, ranked, picked, by_latency))
        if by_shares:
            counts = np.array([np.bincount(d, minlength=n) for d in draws], dtype=float)
            for share_values, forms in by_shares:
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
