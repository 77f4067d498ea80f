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
CHECKED = 2_000  # datapoints of the resamples on which find_forms checks a form
MASKED = 32  # a column with more distinct values than this is masked in ``masked_shares``


def shares(results: list[dict], names: list[str]) -> np.ndarray:
    """datapoints x ``names``: summarize of each datapoint alone, NaN where undefined."""
    singles = [summary([r]) for r in results]
    return np.array([[np.nan if s.get(m) is None else float(s[m]) for m in names] for s in singles])


def masked_shares(results: list[dict], names: list[str]) -> np.ndarray:
    """``shares``, with one summarize call per distinct row once the columns with more than
    MASKED distinct values (ids, latencies, free text) are set to one value of the same kind
    (None, false or true): accuracy reads no latency. ``find_forms`` checks each form against
    summarize on the real rows, so a metric that reads a masked column finds no form here (it
    is tried again with ``shares``)."""
    columns = sorted(set().union(*results))
    distinct = {c: {repr(r.get(c)) for r in results[: MASKED * 4]} for c in columns}
    masked = {c for c in columns if len(distinct[c]) > MASKED}
    keys = []  # column by column (list comprehensions, not a call per value), then per row
    for c in columns:
        values = [r.get(c) for r in results]
        if c in masked:  # the first value of each kind stands in: None, false, true
            kinds = [None if v is None else bool(v) for v in values]
            stand_ins = {k: values[kinds.index(k)] for k in dict.fromkeys(kinds)}
            values = list(map(stand_ins.__getitem__, kinds))
        keys.append(values)
    rows = list(zip(*keys, strict=True)) if keys else [()] * len(results)
    index = {key: number for number, key in enumerate(dict.fromkeys(rows))}  # distinct rows
    singles = []
    for key in index:
        single = summary([dict(zip(columns, key, strict=True))])
        singles.append([np.nan if single.get(m) is None else float(single[m]) for m in names])
    codes = np.fromiter(map(index.__getitem__, rows), dtype=np.intp, count=len(rows))
    return np.array(singles, dtype=float).reshape(len(index), len(names))[codes]


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


def find_forms(sides, names, all_names, seed, points=None) -> dict[str, tuple]:
    """Metric -> the form that gives what summarize gave, for each metric of ``names`` that has
    one (checked on both runs and on two bootstrap resamples of each, of at most CHECKED
    datapoints: a form holds on any set of datapoints). ``sides``: (results, shares) of each
    run; ``points``: summarize of each run, when already computed."""
    rng = np.random.default_rng([*np.atleast_1d(seed), 7])
    checks = []
    for number, (results, values) in enumerate(sides):
        points_here = [points[number] if points else summary(results)]
        picks = [np.arange(len(results))]
        size = min(len(results), CHECKED)
        for picked in rng.integers(0, len(results), size=(2, size)):
            points_here.append(summary([results[i] for i in picked]))
            picks.append(picked)
        checks.append((values, points_here, picks))
    if len(sides) == 2 and len(sides[0][0]) == len(sides[1][0]):
        # permutations mix the two runs' datapoints: a max is a mean on each run where it is
        # constant, not on a mixture of two runs with different constants
        (results_a, values_a), (results_b, values_b) = sides
        swap = rng.random(len(results_a)) < 0.5
        mixed = [b if s else a for a, b, s in zip(results_a, results_b, swap, strict=True)]
        values = np.where(swap[:, None], values_b, values_a)
        checks.append((values, [summary(mixed)], [np.arange(len(mixed))]))
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


def sums(counts: np.ndarray, values: np.ndarray, forms: dict) -> dict:
    """Each form's metric on each resample: ``counts`` (resamples x datapoints: how often each
    datapoint is in it, or its share of it) times ``values`` (datapoints x 2 metrics: each
    share with NaN as 0, then whether it has a value), as one matrix product."""
    return metrics(counts @ values, forms)


def metrics(totals: np.ndarray, forms: dict) -> dict:
    """Each form's metric from ``totals`` (resamples x 2 metrics: the sums of the shares, then
    how many have a value)."""
    k = totals.shape[1] // 2
    found = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # nothing to average: NaN, as intended
        for name, form in forms.items():
            if form[0] == "mean":
                found[name] = totals[:, form[1]] / totals[:, k + form[1]]
            elif form[0] == "sum":
                found[name] = totals[:, form[1]]
            else:
                denominator = totals[:, form[2]]
                safe = np.where(denominator == 0, 1, denominator)
                found[name] = np.where(denominator == 0, np.nan, totals[:, form[1]] / safe)
    return found


def used(a: np.ndarray, b: np.ndarray, forms: dict):
    """(A's, B's values for ``sums``, forms): only the share columns the forms use."""
    columns = sorted({j for form in forms.values() for j in form[1:]})
    renamed = {
        name: (form[0], *(columns.index(j) for j in form[1:])) for name, form in forms.items()
    }
    a, b = a[:, columns], b[:, columns]
    value_a = np.hstack([np.nan_to_num(a, nan=0.0), ~np.isnan(a)])
    value_b = np.hstack([np.nan_to_num(b, nan=0.0), ~np.isnan(b)])
    return value_a, value_b, renamed


def with_forms(results_a, results_b, wanted, all_names, seed, points=None):
    """(shares of A, of B, forms): from ``masked_shares`` when every wanted metric finds its
    form there, else from ``shares`` (one summarize call per datapoint)."""
    for make in (masked_shares, shares):
        a, b = make(results_a, all_names), make(results_b, all_names)
        forms = find_forms([(results_a, a), (results_b, b)], wanted, all_names, seed, points)
        if len(forms) == len(wanted):
            break
    return a, b, forms


def mean_intervals(
    results_a: list[dict],
    results_b: list[dict],
    names: list[str],
    options: Options,
    seed,
    groups,
    points: tuple | None = None,
) -> dict[str, Interval]:
    """Intervals of the metrics of ``names`` that are means, sums or ratios of per-datapoint
    shares (see the module's docstring); the others are left out of the answer. ``points``:
    summarize of each run, when already computed."""
    if not names or not results_a:
        return {}
    point_a, point_b = points or (summary(results_a), summary(results_b))
    all_names = [m for m in point_a if m in point_b]
    wanted = [n for n in names if n in all_names]
    a, b, forms = with_forms(results_a, results_b, wanted, all_names, seed, (point_a, point_b))
    if not forms:
        return {}
    n, total = len(results_a), options.resamples
    rng = np.random.default_rng(seed)
    cluster = (
        np.arange(n)
        if groups is None
        else np.unique(np.asarray(groups, dtype=str), return_inverse=True)[1]
    )
    value_a, value_b, used_forms = used(a, b, forms)
    chunk = max(1, CELLS // (n * len(all_names)))  # the draws of the former matrices
    boot = {name: [] for name in forms}
    permuted = {name: [] for name in forms}
    k = value_a.shape[1]
    batch = chunk * max(1, CELLS // (2 * n) // chunk)  # resamples per matrix product
    for first in range(0, total, batch):
        counts, swaps = [], []
        for start in range(first, min(first + batch, total), chunk):
            size = min(chunk, total - start)
            draws = cluster_draws(rng, n, groups, size)  # clusters: resamples of unequal sizes
            swaps.append((rng.random((size, cluster.max() + 1)) < 0.5)[:, cluster])
            counts += [np.bincount(d, minlength=n) for d in draws]
        counts, swap = np.array(counts, dtype=float), np.vstack(swaps).astype(float)
        totals = counts @ np.hstack([value_a, value_b])
        of_a, of_b = metrics(totals[:, :k], used_forms), metrics(totals[:, k:], used_forms)
        # A's side of a permutation: A's values, B's where the pair is swapped; B's: the rest
        side_a = value_a.sum(axis=0) + swap @ (value_b - value_a)
        side_b = value_a.sum(axis=0) + value_b.sum(axis=0) - side_a
        side_a, side_b = metrics(side_a, used_forms), metrics(side_b, used_forms)
        for name in forms:
            boot[name] += list(of_b[name] - of_a[name])
            permuted[name] += list(side_b[name] - side_a[name])
    found = {}
    for name in forms:
        observed = point_b[name] - point_a[name]
        low, high = quantiles(np.array(boot[name], dtype=float), options.confidence)
        null = np.array(permuted[name], dtype=float)
        null = null[~np.isnan(null)]
        p = normal_p(observed, float(np.sqrt(np.mean(null**2)))) if null.size else 1.0
        found[name] = Interval(observed, low, high, p, options.confidence, total)
    return found
