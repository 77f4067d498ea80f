"""compare's shared resamples (harness/compare/joint.py): exactly what summarize gives on the
very resamples drawn, and the same decisions as the former paths (draws of their own per
metric) on a clear regression and on a null change, with synthetic metrics of each form and
with the kind's own metrics."""

import numpy as np
import pytest

import helpers
from {{ cookiecutter.module_name }} import predict as predict_module
from {{ cookiecutter.module_name }}.harness import kind
from {{ cookiecutter.module_name }}.harness.compare import joint, means, stats

NAMES = ["accuracy", "tokens_mean", "cost_total", "cost_per_correct"]


summarize = helpers.summarize_forms


def rows(rng, n, p_correct, tokens=20, failures=0.05):
    return [
        {"correct": bool(c), "tokens": int(t), "cost": 0.01 * t, "error": "x" if f else ""}
        for c, t, f in zip(
            rng.random(n) < p_correct,
            rng.integers(tokens - 10, tokens + 10, n),
            rng.random(n) < failures,
            strict=True,
        )
    ]


@pytest.fixture
def synthetic(monkeypatch):
    monkeypatch.setattr(means, "summary", summarize)
    monkeypatch.setattr(joint, "summary", summarize)


def test_the_draws_are_bootstrap_counts_and_swaps_of_whole_clusters():
    rng = np.random.default_rng(0)
    counts, swaps = joint.draw(rng, joint.clusters(50, None), 400)
    assert counts.shape == swaps.shape == (400, 50) and (counts.sum(axis=1) == 50).all()
    assert abs(counts.mean() - 1) < 0.05 and abs(swaps.mean() - 0.5) < 0.05
    assert set(np.unique(swaps)) == {0.0, 1.0} and (counts == np.round(counts)).all()
    groups = [f"g{i // 5}" for i in range(50)]  # 10 clusters of 5
    counts, swaps = joint.draw(rng, joint.clusters(50, groups), 400)
    for matrix in (counts, swaps):  # a datapoint counts as its cluster
        assert (matrix.reshape(400, 10, 5) == matrix.reshape(400, 10, 5)[:, :, :1]).all()
    assert (counts.sum(axis=1) == 50).all()  # 10 clusters drawn, 5 datapoints each


@pytest.mark.parametrize("groups", [None, [f"g{i // 4}" for i in range(120)]])
def test_the_shared_intervals_are_what_summarize_gives_on_the_same_draws(
    synthetic, monkeypatch, groups
):
    rng = np.random.default_rng(4)
    a, b = rows(rng, 120, 0.8), rows(rng, 120, 0.6)
    d = rng.normal(0.1, 1.0, 120)
    drawn = helpers.recorded_draws(monkeypatch, joint)
    options = stats.Options(resamples=60)
    served, of_rows = joint.joint_intervals(a, b, NAMES, {"d": d}, options, groups)
    assert set(served) == set(NAMES) and set(of_rows) == {"d"}
    counts, swaps = (np.vstack(m) for m in zip(*drawn, strict=True))
    assert len(counts) == 60
    draws = [
        (np.repeat(np.arange(120), count.astype(int)), swap.astype(bool))
        for count, swap in zip(counts, swaps, strict=True)
    ]
    reference = helpers.summarized_draws(summarize, NAMES, a, b, d, draws)
    helpers.assert_served_as_drawn(served, of_rows, NAMES, reference)
    # its p-value: paired_bootstrap's exact sign-flip null, whatever the draws
    expected = stats.paired_bootstrap(np.zeros(120), d, 60, 0, 0.95, groups)
    assert of_rows["d"].p_value == pytest.approx(expected.p_value, rel=1e-12)
    assert of_rows["d"].diff == pytest.approx(expected.diff, rel=1e-12)


def marks(a, b, intervals, higher, thresholds, n):
    return {
        name: stats.decide(a[name], b[name], interval, thresholds[name], higher[name], n)[0]
        for name, interval in intervals.items()
    }


def both_paths(results_a, results_b, names, differences, options):
    """(intervals of the former paths, of the shared one): means.mean_intervals with draws of
    its own, stats.paired_bootstrap per per-datapoint metric; joint.joint_intervals."""
    former = means.mean_intervals(results_a, results_b, names, options, [options.seed, 1], None)
    for name, d in differences.items():
        former[name] = stats.paired_bootstrap(
            np.zeros(d.size), d, options.resamples, [options.seed, 2], options.confidence
        )
    served, of_rows = joint.joint_intervals(results_a, results_b, names, differences, options, None)
    return former, {**served, **of_rows}


@pytest.mark.parametrize(
    "p_b, tokens_b, expected",
    [
        (0.55, 35, {"accuracy": "worse", "tokens_mean": "worse", "cost_total": "worse"}),
        (0.85, 20, {"accuracy": "unchanged", "cost_total": "unchanged"}),  # B's rows: A's
    ],
)
def test_the_shared_and_former_paths_decide_alike(synthetic, p_b, tokens_b, expected):
    rng = np.random.default_rng(11)
    a = rows(rng, 3000, 0.85, failures=0.0)
    if tokens_b == 20:  # the null change: A's rows, three answers flipped
        b = [dict(r) for r in a]
        for r in b[:3]:
            r["correct"] = not r["correct"]
    else:
        b = rows(rng, 3000, p_b, tokens=tokens_b, failures=0.0)
    point_a, point_b = summarize(a), summarize(b)
    correct_a = np.array([float(r["correct"]) for r in a])
    correct_b = np.array([float(r["correct"]) for r in b])
    higher = {"accuracy": True, "tokens_mean": False, "cost_total": False}
    higher |= {"cost_per_correct": False, "correct": True}
    thresholds = dict.fromkeys(higher, stats.Threshold(0.05, False))
    thresholds |= {"accuracy": stats.Threshold(0.02, True), "correct": stats.Threshold(0.02, True)}
    point_a["correct"], point_b["correct"] = correct_a.mean(), correct_b.mean()
    options = stats.Options()
    former, shared = both_paths(a, b, NAMES, {"correct": correct_b - correct_a}, options)
    assert set(former) == set(shared) == {*NAMES, "correct"}
    decided = marks(point_a, point_b, shared, higher, thresholds, len(a))
    assert decided == marks(point_a, point_b, former, higher, thresholds, len(a))
    assert decided["correct"] == decided["accuracy"]
    assert {name: decided[name] for name in expected} == expected


def kind_rows(items, configurations, copies=25):
    """The kind's own results (predict over its items), each item ``copies`` times."""
    found = [predict_module.predict(item, configurations[0]) for item in items]
    return [dict(r, input_id=f"{r.get('input_id')}-{k}") for k in range(copies) for r in found]


@pytest.mark.parametrize("every", [3, 0])  # every third datapoint fails in B; none (the null)
def test_the_kind_metrics_are_decided_alike_on_both_paths(items, configurations, every):
    a = kind_rows(items, configurations)
    b = [dict(r) for r in a]
    failing = b[::every] if every else b[:1]
    for r in failing:
        r["error"] = "injected failure"
    point_a, point_b = stats.summary(a), stats.summary(b)
    names = [
        m
        for m in kind.HIGHER_IS_BETTER
        if m not in kind.MEASUREMENTS
        and point_a.get(m) is not None
        and point_b.get(m) is not None
        and point_a[m] != point_b[m]
    ]
    assert "error_rate" in names
    options = stats.Options(resamples=400)
    former, shared = both_paths(a, b, names, {}, options)
    assert set(former) == set(shared) and "error_rate" in shared
    thresholds = {name: options.threshold_for(name) for name in shared}
    # the metrics whose decision is far from every cut-off (a kind's other metrics may change
    # by about their threshold here: their mark then depends on the draws)
    former = {m: i for m, i in former.items() if clear(point_a[m], i, thresholds[m])}
    assert "error_rate" in former
    higher = dict(kind.HIGHER_IS_BETTER)
    decided = marks(point_a, point_b, {m: shared[m] for m in former}, higher, thresholds, len(a))
    assert decided == marks(point_a, point_b, former, higher, thresholds, len(a))
    assert decided["error_rate"] == ("worse" if every else "unchanged")


def clear(a, interval, threshold) -> bool:
    """The interval well within the threshold, or well beyond it with a tiny p-value."""
    margin = threshold.margin(a)
    within = -0.7 * margin < interval.low and interval.high < 0.7 * margin
    beyond = interval.low > 1.3 * margin or interval.high < -1.3 * margin
    return within or (beyond and interval.p_value < 1e-3)
