"""Resamples of datapoints that share their values, drawn as counts of each distinct row.

When the per-datapoint values a resample sums (means.py's shares, paired differences) take few
distinct rows (a classification's correct 0/1 and error flag: a handful), drawing datapoints
one by one is not needed to get the same statistics:

- a bootstrap resample (n datapoints drawn with replacement) puts into the datapoints of one
  distinct row a number of draws that is, jointly over the rows, multinomial(n, each row's
  share of the datapoints);
- a permutation (each pair's A and B swapped with probability 1/2, independently) swaps, among
  a row's datapoints, a binomial(its datapoints, 1/2) number.

Drawn so, a resample costs the number of distinct rows, not n: every sum over the datapoints
(counts @ values, swaps @ changes) has exactly the distribution it has when the datapoints are
drawn one by one (joint.draw, stats.cluster_draws), from another random stream, with the same
number of resamples. Not for clusters (the kind's GROUP): those are drawn whole, as before.
"""

import numpy as np

from . import fast

LIMIT = 16_384  # distinct rows at most
SHARE = 8  # and at most one per SHARE datapoints: else the datapoints are drawn one by one
SMALLEST = 5_000  # fewer datapoints: drawn one by one (cheap; tests check those on the draws)


def distinct(values: np.ndarray, groups=None) -> tuple[np.ndarray, np.ndarray] | None:
    """(the distinct rows of ``values`` (datapoints x columns), how many datapoints have each),
    or None when they are too many (or NaN, or clusters): draw the datapoints one by one."""
    n = len(values)
    if groups is not None or n < SMALLEST or np.isnan(values).any():
        return None
    # each row as one integer, its columns' codes (the first column first): 1-d sorts only
    key, radix = np.zeros(n, dtype=np.int64), 1
    for column in values.T:
        found, code = np.unique(column, return_inverse=True)
        key, radix = key * found.size + code.ravel(), radix * found.size
        if radix > 2**31:  # the combinations so far renumbered: no int64 overflow
            renumbered, key = np.unique(key, return_inverse=True)
            key, radix = key.ravel().astype(np.int64), renumbered.size
    _, first, sizes = np.unique(key, return_index=True, return_counts=True)
    if first.size > min(LIMIT, n // SHARE):
        return None
    return values[first], sizes


def draw(rng, sizes: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(counts, swaps) of ``size`` resamples, each size x distinct rows (``sizes``: each row's
    datapoints): how many draws of a bootstrap resample land on the row's datapoints, and how
    many of its pairs a permutation swaps. Floats, for the matrix products (exact integers)."""
    n = int(sizes.sum())
    counts = rng.multinomial(n, sizes / n, size=size).astype(float)
    swaps = rng.binomial(sizes.astype(np.int64), 0.5, size=(size, sizes.size)).astype(float)
    return counts, swaps


def latency_statistics(values: np.ndarray, names: list[str], rng, size: int) -> dict | None:
    """fast.py's latency statistics of ``names`` on ``size`` bootstrap resamples of ``values``
    (NaN: a failed datapoint, left out), each drawn as counts of each distinct value (sorted;
    the percentiles as fast.counted_percentiles picks them); None when they are too many."""
    valid = values[~np.isnan(values)]
    if values.size < SMALLEST or not valid.size:
        return None
    ordered, sizes = np.unique(valid, return_counts=True)
    if ordered.size > min(LIMIT, values.size // SHARE):
        return None
    sizes = np.append(sizes, values.size - valid.size)  # the failed datapoints last
    counts = rng.multinomial(values.size, sizes / values.size, size=size)[:, :-1]
    found = fast.counted_percentiles(ordered, counts, [n for n in names if n in fast.PERCENTILES])
    if "latency_mean" in names:
        with np.errstate(invalid="ignore", divide="ignore"):  # no valid value: NaN, as intended
            found["latency_mean"] = counts @ ordered / counts.sum(axis=1)
    return found
