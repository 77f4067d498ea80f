"""Resamples drawn as counts of each distinct row (harness/compare/grouped.py): bootstrap counts
and permutation swaps of the right distribution; on the very draws, the statistics of the
datapoints those counts stand for; and the same decisions as drawing the datapoints one by one
(the former path), on a clear change and on a null one. Same number of resamples on both."""

import numpy as np
import pytest

import helpers
from {{ cookiecutter.module_name }}.harness.compare import (
    fast,
    grouped,
    intervals,
    joint,
    means,
    stats,
)

N = 6_000  # datapoints: above grouped.SMALLEST, where the counts are drawn


def summarize(results):
    """Accuracy (failures count as wrong) and the mean of the successes' tokens."""
    ok = [r for r in results if not r["error"]]
    tokens = [r["tokens"] for r in ok]
    return {
        "accuracy": sum(r["correct"] for r in ok) / len(results),
        "tokens_mean": float(np.mean(tokens)) if tokens else None,
    }


NAMES = ["accuracy", "tokens_mean"]


def rows(rng, n, p_correct, tokens=(2, 3), failures=0.02):
    """Results with few distinct rows: correct or not, one of ``tokens``, failed or not."""
    return [
        {"correct": bool(c), "tokens": int(t), "error": "x" if f else ""}
        for c, t, f in zip(
            rng.random(n) < p_correct, rng.choice(tokens, n), rng.random(n) < failures, strict=True
        )
    ]


@pytest.fixture
def synthetic(monkeypatch):
    monkeypatch.setattr(means, "summary", summarize)
    monkeypatch.setattr(joint, "summary", summarize)


def test_the_counts_are_multinomial_and_the_swaps_binomial():
    sizes = np.array([3000, 2000, 900, 100])
    counts, swaps = grouped.draw(np.random.default_rng(0), sizes, 4000)
    assert counts.shape == swaps.shape == (4000, 4) and (counts.sum(axis=1) == 6000).all()
    p = sizes / sizes.sum()
    np.testing.assert_allclose(counts.mean(axis=0), sizes, rtol=0.01)
    np.testing.assert_allclose(counts.var(axis=0), 6000 * p * (1 - p), rtol=0.1)
    np.testing.assert_allclose(swaps.mean(axis=0), sizes / 2, rtol=0.02)
    np.testing.assert_allclose(swaps.var(axis=0), sizes / 4, rtol=0.1)
    assert (swaps <= sizes).all() and (swaps >= 0).all()


def test_distinct_rows_only_when_few_and_enough_datapoints():
    few = np.repeat(np.array([[0.0, 1.0], [1.0, 1.0], [1.0, 0.0]]), 2000, axis=0)
    rows_found, sizes = grouped.distinct(few)
    assert rows_found.tolist() == [[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
    assert sizes.tolist() == [2000, 2000, 2000]
    assert grouped.distinct(few[:100]) is None  # few datapoints: drawn one by one
    assert grouped.distinct(few, groups=["g"] * len(few)) is None  # clusters: drawn whole
    spread = np.random.default_rng(1).normal(size=(N, 1))
    assert grouped.distinct(spread) is None  # as many rows as datapoints


def expanded(sizes_of_rows, inverse, counts_row):
    """Datapoint-level counts that ``counts_row`` (per distinct row) stands for: each row's
    count given to its first datapoint (any split has the same sums)."""
    counts = np.zeros(inverse.size)
    first = np.array([np.flatnonzero(inverse == u)[0] for u in range(len(sizes_of_rows))])
    counts[first] = counts_row
    return counts


def test_the_shared_intervals_are_what_summarize_gives_on_the_very_grouped_draws(
    synthetic, monkeypatch
):
    rng = np.random.default_rng(4)
    a, b = rows(rng, N, 0.8), rows(rng, N, 0.7)
    d = np.array([float(y["correct"]) - float(x["correct"]) for x, y in zip(a, b, strict=True)])
    drawn = helpers.recorded_draws(monkeypatch, grouped)
    options = stats.Options(resamples=12)
    served, of_rows = joint.joint_intervals(a, b, NAMES, {"d": d}, options, None)
    assert set(served) == set(NAMES) and drawn  # the grouped path served them
    counts, swaps = (np.vstack(m) for m in zip(*drawn, strict=True))
    assert len(counts) == 12
    # the rows joint grouped: each datapoint's shares in A and B, and d
    shares_a, shares_b = means.masked_shares(a, NAMES), means.masked_shares(b, NAMES)
    matrix = np.hstack([np.nan_to_num(shares_a), ~np.isnan(shares_a)])
    matrix = np.hstack([matrix, np.nan_to_num(shares_b), ~np.isnan(shares_b), d[:, None]])
    found, inverse = np.unique(matrix, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    draws = []
    for count, swap in zip(counts, swaps, strict=True):
        picked = np.repeat(np.arange(N), expanded(found, inverse, count).astype(int))
        swapped = np.zeros(N, dtype=bool)  # the first ``swap[u]`` datapoints of each row
        for u in range(len(found)):
            swapped[np.flatnonzero(inverse == u)[: int(swap[u])]] = True
        draws.append((picked, swapped))
    reference = helpers.summarized_draws(summarize, NAMES, a, b, d, draws)
    helpers.assert_served_as_drawn(served, of_rows, NAMES, reference)


def one_by_one(monkeypatch):
    """The former path: every datapoint drawn (no grouping, whatever the size)."""
    monkeypatch.setattr(grouped, "SMALLEST", 10**12)


def flipped(correct) -> list[int]:
    """Two correct answers and a wrong one: flipped, a net change of one answer."""
    right = [i for i, c in enumerate(correct) if c]
    wrong = [i for i, c in enumerate(correct) if not c]
    return [right[0], right[1], wrong[0]]


@pytest.mark.parametrize("case", ["clear", "null"])
def test_the_shared_intervals_decide_as_drawing_datapoints_one_by_one(synthetic, monkeypatch, case):
    rng = np.random.default_rng(11)
    a = rows(rng, N, 0.85, failures=0.0)
    if case == "clear":
        b = rows(rng, N, 0.80, tokens=(3, 4), failures=0.0)
    else:  # A's rows, three answers flipped: one point of 6000 lost, no p near a cut-off
        b = [dict(r) for r in a]
        for i in flipped([r["correct"] for r in a]):
            b[i]["correct"] = not b[i]["correct"]
    d = np.array([float(y["correct"]) - float(x["correct"]) for x, y in zip(a, b, strict=True)])
    point_a, point_b = summarize(a), summarize(b)
    names = [m for m in NAMES if point_a[m] != point_b[m]]
    options = stats.Options()
    found = [joint.joint_intervals(a, b, names, {"correct": d}, options, None)]
    one_by_one(monkeypatch)
    found.append(joint.joint_intervals(a, b, names, {"correct": d}, options, None))
    point_a["correct"], point_b["correct"] = point_a["accuracy"], point_b["accuracy"]
    higher = {"accuracy": True, "tokens_mean": False, "correct": True}
    thresholds = {"accuracy": stats.Threshold(0.02, True), "correct": stats.Threshold(0.02, True)}
    thresholds["tokens_mean"] = stats.Threshold(0.05, False)
    decided = []
    for served, of_rows in found:
        both = {**served, **of_rows}
        decided.append(
            {
                m: stats.decide(point_a[m], point_b[m], i, thresholds[m], higher[m], N)[0]
                for m, i in both.items()
            }
        )
        p_values = [i.p_value for i in both.values()]
        assert max(p_values) < 1e-3 if case == "clear" else min(p_values) > 0.2, p_values
    assert decided[0] == decided[1]
    expected = {"accuracy": "worse", "correct": "worse", "tokens_mean": "worse"}
    assert decided[0] == (
        expected if case == "clear" else {"accuracy": "unchanged", "correct": "unchanged"}
    )


def pairing(correct: np.ndarray):
    """intervals.pairing of a configuration whose primary is the mean of ``correct``."""
    ids = np.array([f"x{i:05d}" for i in range(correct.size)])
    return ids, np.column_stack([correct, np.ones(correct.size)]), ("mean", 0), ("mean", 0)


@pytest.mark.parametrize("case", ["clear", "null"])
def test_the_ranking_test_decides_as_drawing_datapoints_one_by_one(monkeypatch, case):
    rng = np.random.default_rng(5)
    best = (rng.random(N) < 0.8).astype(float)
    other = (rng.random(N) < 0.75).astype(float) if case == "clear" else best.copy()
    if case == "null":
        other[flipped(best)] = 1 - other[flipped(best)]
    options = stats.Options()
    found = [intervals.paired_shares(pairing(best), pairing(other), "p", options, 0)]
    one_by_one(monkeypatch)
    found.append(intervals.paired_shares(pairing(best), pairing(other), "p", options, 0))
    grouped_path, former = found
    assert grouped_path.diff == former.diff == pytest.approx(other.mean() - best.mean())
    assert grouped_path.resamples == former.resamples == options.resamples
    if case == "clear":
        assert max(grouped_path.p_value, former.p_value) < 1e-3
    else:
        assert min(grouped_path.p_value, former.p_value) > 0.2
    # the same interval up to resampling noise (its width: a few thousandths here)
    assert grouped_path.low == pytest.approx(former.low, abs=0.004)
    assert grouped_path.high == pytest.approx(former.high, abs=0.004)


def test_the_latency_statistics_are_those_of_the_datapoints_on_the_very_draws():
    rng = np.random.default_rng(2)
    values = rng.choice([0.001, 0.002, 0.0025, 0.004, 0.03], N)
    values[rng.random(N) < 0.05] = np.nan  # failed datapoints
    names = ["latency_mean", "latency_p50", "latency_p95", "latency_p99"]
    found = grouped.latency_statistics(values, names, np.random.default_rng(9), 30)
    assert set(found) == set(names)
    # the same draws again: counts of each distinct latency (sorted), the failed last
    ordered, sizes = np.unique(values[~np.isnan(values)], return_counts=True)
    sizes = np.append(sizes, np.isnan(values).sum())
    counts = np.random.default_rng(9).multinomial(N, sizes / N, size=30)
    members = [np.flatnonzero(values == v)[0] for v in ordered] + [
        np.flatnonzero(np.isnan(values))[0]
    ]
    for r, count in enumerate(counts):
        resample = values[np.repeat(members, count)][None, :]  # the datapoints they stand for
        for name in names:
            expected = fast.statistic(resample, name)[0]
            assert found[name][r] == pytest.approx(expected, rel=1e-9), name
    assert grouped.latency_statistics(values[:100], names, rng, 30) is None  # one by one
    spread = rng.random(N)
    assert grouped.latency_statistics(spread, names, rng, 30) is None  # too many values


@pytest.mark.parametrize("shift", [0.0, 0.0004])
def test_the_latency_intervals_match_drawing_datapoints_one_by_one(monkeypatch, shift):
    rng = np.random.default_rng(3)
    values = rng.choice([0.001, 0.002, 0.0025, 0.004, 0.03], N) + shift
    results = [{"latency": v, "error": ""} for v in values]
    point = {
        "latency_mean": float(np.mean(values)),
        "latency_p95": float(np.percentile(values, 95)),
    }
    names = list(point)
    monkeypatch.setattr(intervals, "summary", lambda rows: point)
    found = [intervals.bootstrap(results, names, point, [0, N], None, 400)]
    one_by_one(monkeypatch)
    found.append(intervals.bootstrap(results, names, point, [0, N], None, 400))
    assert not np.isnan(found[0]).any() and found[0].shape == found[1].shape == (400, 2)
    for j, name in enumerate(names):  # the same distribution: quantiles agree to its noise
        (low, high), (former_low, former_high) = (stats.quantiles(f[:, j], 0.95) for f in found)
        width = former_high - former_low
        assert low == pytest.approx(former_low, abs=0.25 * width + 1e-12), name
        assert high == pytest.approx(former_high, abs=0.25 * width + 1e-12), name
