"""One set of resamples per configuration, shared by its vectorised metrics.

compare_results used to draw, for each vectorised path (means.py's summarize metrics, each
per-datapoint metric's paired_bootstrap), its own bootstrap resamples and permutations: at 1M
rows drawing them was most of compare's time. Here each chunk of resamples is drawn once, as

- counts: how many times each paired datapoint is in each bootstrap resample (whole clusters
  with the kind's GROUP: a datapoint counts as often as its cluster was drawn);
- swaps: which pairs (clusters) trade places in each permutation;

and every metric is read from them: means.py's forms as one matrix product of the counts (and
of the swaps) with the per-datapoint shares, a per-datapoint metric's mean of paired
differences as counts @ differences / counts' total (its p-value is exact, as paired_bootstrap's:
no draw). The statistics are those of means.mean_intervals and stats.paired_bootstrap; only
the random draws differ (tests/test_compare.py checks both give the same decisions). When the
values take few distinct rows, each resample is drawn as counts of each (grouped.py: the same
distribution, another random stream; tests/test_grouped.py).
"""

import zlib

import numpy as np

from . import grouped, means
from .stats import Interval, Options, cluster_sums, normal_p, quantiles, summary

CELLS = 2_000_000  # resamples x datapoints per chunk: bounded memory (~40 MB at most)


def clusters(n: int, groups) -> np.ndarray:
    """Each datapoint's cluster (0..k-1): itself without ``groups``."""
    if groups is None:
        return np.arange(n)
    return np.unique(np.asarray(groups, dtype=str), return_inverse=True)[1]


def draw(rng, cluster: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(counts, swaps) of ``size`` resamples, each size x datapoints: the number of times each
    datapoint is in a bootstrap resample of the clusters (drawn with replacement, as many as
    there are), and whether its cluster is swapped in a permutation (1.0, probability 1/2, else
    0.0). Floats, for the matrix products (small integers: exact)."""
    k = int(cluster.max()) + 1
    picked = rng.integers(0, k, size=(size, k), dtype=np.int32)
    counts = np.empty((size, k))
    for row, indices in enumerate(picked):
        counts[row] = np.bincount(indices, minlength=k)
    bits = rng.integers(0, 256, size=(size, (k + 7) // 8), dtype=np.uint8)
    swaps = np.unpackbits(bits, axis=1, count=k).astype(float)
    if k == cluster.size and np.array_equal(cluster, np.arange(k)):
        return counts, swaps
    return counts[:, cluster], swaps[:, cluster]


def seed_of(options: Options, names: list[str]) -> list[int]:
    """The configuration's seed: the option's and the names of the metrics resampled."""
    return [options.seed, zlib.crc32(" ".join(names).encode())]


def joint_intervals(
    results_a: list[dict],
    results_b: list[dict],
    names: list[str],
    differences: dict,
    options: Options,
    groups,
    points: tuple | None = None,
) -> tuple[dict[str, Interval], dict[str, Interval]]:
    """(intervals of the summarize metrics of ``names`` that means.py serves, the others left
    out; intervals of each per-datapoint metric of ``differences``: name -> B - A of every
    paired datapoint, none missing), all from one set of resamples."""
    n = len(results_a)
    if not n or not (names or differences):
        return {}, {}
    point_a, point_b = points or (summary(results_a), summary(results_b))
    seed = seed_of(options, [*names, *differences])
    forms, value_a, value_b = {}, np.empty((n, 0)), np.empty((n, 0))
    all_names = [m for m in point_a if m in point_b]
    wanted = [m for m in names if m in all_names]
    if wanted:
        a, b, forms = means.with_forms(
            results_a, results_b, wanted, all_names, seed, (point_a, point_b)
        )
        if forms:
            value_a, value_b, forms = means.used(a, b, forms)
    rows = list(differences)
    d = np.column_stack([differences[r] for r in rows]) if rows else np.empty((n, 0))
    k = value_a.shape[1]
    product = np.hstack([value_a, value_b, d, np.ones((n, 1))])  # the counts' total last
    change = value_b - value_a
    base, both = value_a.sum(axis=0), value_a.sum(axis=0) + value_b.sum(axis=0)
    cluster, total = clusters(n, groups), options.resamples
    rng = np.random.default_rng(seed)
    chunk = max(1, CELLS // n)
    few = grouped.distinct(product[:, :-1], groups)  # few distinct rows: drawn as their counts
    if few:
        product = np.hstack([few[0], np.ones((len(few[0]), 1))])
        change, chunk = few[0][:, k : 2 * k] - few[0][:, :k], max(1, CELLS // len(few[0]))
    boot = {name: [] for name in [*forms, *rows]}
    permuted = {name: [] for name in forms}
    for start in range(0, total, chunk):
        size = min(chunk, total - start)
        counts, swaps = grouped.draw(rng, few[1], size) if few else draw(rng, cluster, size)
        totals = counts @ product
        of_a, of_b = means.metrics(totals[:, :k], forms), means.metrics(totals[:, k : 2 * k], forms)
        if forms:  # A's side of a permutation: A's values, B's where swapped; B's: the rest
            side_a = base + swaps @ change
            side_a, side_b = means.metrics(side_a, forms), means.metrics(both - side_a, forms)
        for name in forms:
            boot[name].append(of_b[name] - of_a[name])
            permuted[name].append(side_b[name] - side_a[name])
        for j, name in enumerate(rows):
            boot[name].append(totals[:, 2 * k + j] / totals[:, -1])
    found, of_rows = {}, {}
    for name in forms:
        observed = point_b[name] - point_a[name]
        low, high = quantiles(np.concatenate(boot[name]).astype(float), options.confidence)
        null = np.concatenate(permuted[name]).astype(float)
        null = null[~np.isnan(null)]
        p = normal_p(observed, float(np.sqrt(np.mean(null**2)))) if null.size else 1.0
        found[name] = Interval(observed, low, high, p, options.confidence, total)
    for j, name in enumerate(rows):
        of_rows[name] = mean_difference(d[:, j], np.concatenate(boot[name]), options, groups)
    return found, of_rows


def mean_difference(d: np.ndarray, boot: np.ndarray, options: Options, groups) -> Interval:
    """stats.paired_bootstrap's Interval of the mean of ``d``, from its resampled means."""
    mean = float(d.mean())
    sums, _ = cluster_sums(d, groups)
    null_sd = float(np.sqrt(np.sum(sums**2)) / d.size)  # the sign-flip test's exact null sd
    low, high = quantiles(boot, options.confidence)
    if np.all(d == d[0]):  # no spread: the interval is the value (no rounding noise)
        low = high = mean
    return Interval(
        mean, low, high, normal_p(mean, null_sd), options.confidence, int(options.resamples)
    )
