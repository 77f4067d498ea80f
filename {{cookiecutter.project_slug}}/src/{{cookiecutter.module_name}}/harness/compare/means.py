"""Vectorised resampling of the summarize metrics that are means, sums or ratios of sums of a
per-datapoint value (accuracy, error rates, tokens_mean, cost_total, cost_per_correct, ...).

Each datapoint's share of a metric is what ``summarize`` gives for that datapoint alone (NaN
where it gives none: a failed request has no tokens). A metric is served here only when one of
these forms gives, on both runs' datapoints and on two resamples of them, exactly what
``summarize`` gave:

- mean: the mean of the shares that have a value;
- sum: the sum of the shares (a resample keeps the number of datapoints);
- ratio: the sum of one metric's shares over the sum of another's (cost_per_correct is
  cost_total over the number of correct answers).

Then every bootstrap resample and permutation is an index matrix over the shares (numpy, no
summarize call); every other metric goes through ``summarize`` (stats.resample_summaries).
"""

import warnings

import numpy as np

from .stats import Interval, Options, cluster_draws, normal_p, quantiles, summary

CELLS = 2_000_000  # resamples x datapoints x metrics per matrix: bounded memory


def shares(results: list[dict], names: list[str]) -> np.ndarray:
    """datapoints x ``names``: summarize of each datapoint alone, NaN where undefined."""
    singles = [summary([r]) for r in results]
    return np.array([[np.nan if s.get(m) is None else float(s[m]) for m in names] for s in singles])


def reduce(values: np.ndarray, form: tuple) -> np.ndarray:
    """The metric of ``form`` over the datapoints axis (-2) of ``values`` (... x n x metrics)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # nothing to average: NaN, as intended
        if form[0] == "mean":
            return np.nanmean(values[..., form[1]], axis=-1)
        if form[0] == "sum":
            return np.nansum(values[..., form[1]], axis=-1)
        denominator = np.nansum(values[..., form[2]], axis=-1)
        found = np.nansum(values[..., form[1]], axis=-1) / np.where(
            denominator == 0, 1, denominator
        )
        return np.where(denominator == 0, np.nan, found)


def agrees(found, expected) -> bool:
    if expected is None:
        return bool(np.isnan(found))
    return bool(np.isfinite(found) and np.isclose(found, expected, rtol=1e-9, atol=1e-12))


def forms_of(name: str, all_names: list[str]) -> list[tuple]:
    j = all_names.index(name)
    others = range(len(all_names))
    return [("mean", j), ("sum", j)] + [
        ("ratio", j2, k) for j2 in others for k in others if j2 != k
    ]


def find_forms(sides, names, all_names, seed) -> dict[str, tuple]:
    """Metric -> the form that gives what summarize gave, for each metric of ``names`` that has
    one (checked on both runs and on two bootstrap resamples of each). ``sides``: (results,
    shares) of each run."""
    rng = np.random.default_rng([*np.atleast_1d(seed), 7])
    checks = []
    for results, values in sides:
        points = [summary(results)]
        picks = [np.arange(len(results))]
        for picked in rng.integers(0, len(results), size=(2, len(results))):
            points.append(summary([results[i] for i in picked]))
            picks.append(picked)
        checks.append((values, points, picks))
    found = {}
    for name in names:
        for form in forms_of(name, all_names):
            if all(
                agrees(float(reduce(values[picked], form)), point.get(name))
                for values, points, picks in checks
                for point, picked in zip(points, picks, strict=True)
            ):
                found[name] = form
                break
    return found


def mean_intervals(
    results_a: list[dict], results_b: list[dict], names: list[str], options: Options, seed, groups
) -> dict[str, Interval]:
    """Intervals of the metrics of ``names`` that are means, sums or ratios of per-datapoint
    shares (see the module's docstring); the others are left out of the answer."""
    if not names or not results_a:
        return {}
    all_names = [m for m in summary(results_a) if m in summary(results_b)]
    a, b = shares(results_a, all_names), shares(results_b, all_names)
    wanted = [n for n in names if n in all_names]
    forms = find_forms([(results_a, a), (results_b, b)], wanted, all_names, seed)
    if not forms:
        return {}
    n, total = len(results_a), options.resamples
    rng = np.random.default_rng(seed)
    cluster = (
        np.arange(n)
        if groups is None
        else np.unique(np.asarray(groups, dtype=str), return_inverse=True)[1]
    )
    chunk = max(1, CELLS // (n * len(all_names)))
    boot = {name: [] for name in forms}
    permuted = {name: [] for name in forms}
    for start in range(0, total, chunk):
        size = min(chunk, total - start)
        draws = cluster_draws(rng, n, groups, size)  # clusters: resamples of unequal sizes
        swap = (rng.random((size, cluster.max() + 1)) < 0.5)[:, cluster][:, :, None]
        swapped_a, swapped_b = np.where(swap, b, a), np.where(swap, a, b)
        for name, form in forms.items():
            if groups is None:
                picked = np.array(draws)
                boot[name] += list(reduce(b[picked], form) - reduce(a[picked], form))
            else:
                boot[name] += [float(reduce(b[d], form) - reduce(a[d], form)) for d in draws]
            permuted[name] += list(reduce(swapped_b, form) - reduce(swapped_a, form))
    point_a, point_b = summary(results_a), summary(results_b)
    found = {}
    for name in forms:
        observed = point_b[name] - point_a[name]
        low, high = quantiles(np.array(boot[name], dtype=float), options.confidence)
        null = np.array(permuted[name], dtype=float)
        null = null[~np.isnan(null)]
        p = normal_p(observed, float(np.sqrt(np.mean(null**2)))) if null.size else 1.0
        found[name] = Interval(observed, low, high, p, options.confidence, total)
    return found
