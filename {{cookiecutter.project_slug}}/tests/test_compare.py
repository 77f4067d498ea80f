"""Comparing runs: the statistics of the decision (intervals, tests, rules, the vectorised
paths against numpy and scipy) and the metrics interface (real runs: test_compare_runs.py).

Kind-agnostic: it uses the metrics interface (HIGHER_IS_BETTER, ROW_HIGHER_IS_BETTER,
summarize, row_values) and the kind's own data, params and predict.
"""

import math

import numpy as np
import pytest

import helpers
from {{ cookiecutter.module_name }} import metrics as kind
from {{ cookiecutter.module_name }} import predict as predict_module
from {{ cookiecutter.module_name }}.harness import compare
from {{ cookiecutter.module_name }}.harness.compare import fast, means, stats

# --- the statistics -------------------------------------------------------------------------


def judge(a, b, threshold=None, higher_is_better=True, seed=1, resamples=1000):
    """(mark, reason, interval) of per-datapoint values ``a`` and ``b``, as compare decides
    (default threshold: 5% relative)."""
    threshold = threshold or stats.Threshold(0.05, False)
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    interval = stats.paired_bootstrap(a, b, resamples, seed, 0.95)
    mark, reason = stats.decide(a.mean(), b.mean(), interval, threshold, higher_is_better, n=a.size)
    return mark, reason, interval


POINTS = stats.Threshold(0.02, True)  # two points: a proportion's threshold


def test_identical_values_give_a_zero_interval_and_no_significance():
    values = np.linspace(1.0, 2.0, 50)
    mark, reason, interval = judge(values, values.copy())
    assert (interval.diff, interval.low, interval.high, interval.p_value) == (0.0, 0.0, 0.0, 1.0)
    assert (mark, reason) == ("unchanged", "equal")


def test_a_constant_shift_is_significant():
    a = np.linspace(1.0, 2.0, 50)
    mark, reason, interval = judge(a, a + 0.5)
    assert interval.low == interval.high == pytest.approx(0.5)
    assert interval.p_value < 1e-6
    assert mark == "better" and reason.startswith("significant")


def test_the_resampling_is_reproducible_with_its_seed():
    rng = np.random.default_rng(7)
    a, b = rng.normal(1, 0.2, 100), rng.normal(1.05, 0.2, 100)
    assert stats.paired_bootstrap(a, b, seed=3) == stats.paired_bootstrap(a, b, seed=3)
    assert stats.paired_bootstrap(a, b, seed=3) != stats.paired_bootstrap(a, b, seed=4)


def test_the_interval_covers_the_true_shift():
    rng = np.random.default_rng(11)
    covered = 0
    for _ in range(40):
        a = rng.normal(10, 2, 200)
        b = a + 1 + rng.normal(0, 1, 200)  # true mean difference: 1
        interval = stats.paired_bootstrap(a, b, resamples=500, seed=int(rng.integers(1e9)))
        covered += interval.low <= 1 <= interval.high
    assert covered >= 34  # a 95% interval: about 38 of 40


def test_the_permutation_p_value_is_uniform_under_noise():
    """p is how often noise alone makes the difference: about 5% of noise runs fall below 0.05."""
    rng = np.random.default_rng(12)
    p_values = [
        stats.paired_bootstrap(rng.normal(1, 0.2, 50), rng.normal(1, 0.2, 50), 100, 0).p_value
        for _ in range(400)
    ]
    assert 0.02 <= np.mean(np.array(p_values) < 0.05) <= 0.09
    assert 0.4 <= np.mean(p_values) <= 0.6


def test_latency_jitter_alone_is_never_worse_or_better():
    """Two runs whose latencies come from one distribution (30% jitter, 400 datapoints): mostly
    unchanged, at times inconclusive, never worse or better."""
    rng = np.random.default_rng(2024)
    marks = []
    for _ in range(300):
        a, b = 1e-3 * rng.lognormal(0, 0.3, 400), 1e-3 * rng.lognormal(0, 0.3, 400)
        marks.append(judge(a, b, stats.Threshold(0.1, False), False, resamples=300)[0])
    assert marks.count("unchanged") > 200
    assert set(marks) <= {"unchanged", "inconclusive"}


def test_a_tail_percentile_of_few_datapoints_is_not_flagged_by_noise(monkeypatch):
    """p99 of 60 datapoints is about their maximum: noise moves it far, and the permutation
    test sees that noise makes such changes."""
    monkeypatch.setattr(
        stats, "summary", lambda rows: {"p99": float(np.percentile([r["x"] for r in rows], 99))}
    )
    rng = np.random.default_rng(99)
    options = stats.Options(resamples=300)
    marks = []
    for trial in range(20):
        a = [{"x": x} for x in 1e-3 * rng.lognormal(0, 0.2, 60)]
        b = [{"x": x} for x in 1e-3 * rng.lognormal(0, 0.2, 60)]
        pa, pb = stats.summary(a)["p99"], stats.summary(b)["p99"]
        interval = stats.resample_summaries(a, b, ["p99"], options, trial)["p99"]
        marks.append(stats.decide(pa, pb, interval, stats.Threshold(0.1, False), False, 60)[0])
    assert "worse" not in marks and "better" not in marks


@pytest.mark.parametrize(
    ("shift", "higher_is_better", "expected"),
    [(-0.3, True, "worse"), (0.3, True, "better"), (0.3, False, "worse"), (-0.3, False, "better")],
)
def test_a_real_change_is_marked_by_the_metric_direction(shift, higher_is_better, expected):
    rng = np.random.default_rng(5)
    a = rng.normal(1.0, 0.05, 200)
    b = a * (1 + shift) + rng.normal(0, 0.01, 200)
    mark, reason, _ = judge(a, b, higher_is_better=higher_is_better)
    assert mark == expected and reason.startswith("significant")


def test_a_certain_change_within_the_threshold_is_unchanged():
    a = np.linspace(1.0, 2.0, 200)
    b = a * 1.02  # certain, but only 2%
    mark, reason, interval = judge(a, b)
    assert interval.low > 0 and interval.p_value < 1e-6
    assert (mark, reason) == ("unchanged", "interval within 5%")
    assert judge(a, b, threshold=stats.Threshold(0.01, False))[0] == "better"


def test_one_flip_in_ten_is_inconclusive_not_unchanged():
    a = np.array([0.0, 1.0] * 5)
    b = a.copy()
    b[1] = 0.0  # accuracy 0.5 -> 0.4: p = 0.32, the interval reaches well beyond 2 points
    mark, reason, interval = judge(a, b, threshold=POINTS)
    assert interval.p_value == pytest.approx(math.erfc(1 / math.sqrt(2)))
    assert (mark, reason) == ("inconclusive", "not significant, interval reaches 0.02 abs")


def test_an_accuracy_drop_of_six_points_is_worse():
    """The llm regression of issue 15: 14 of 240 answers turn wrong, none turns right."""
    a = np.array([1.0] * 150 + [0.0] * 90)
    b = a.copy()
    b[:14] = 0.0
    mark, reason, interval = judge(a, b, threshold=POINTS)
    assert interval.p_value == pytest.approx(math.erfc(math.sqrt(14) / math.sqrt(2)))
    assert interval.high < -0.02  # the whole interval beyond two points
    assert mark == "worse"


@pytest.mark.parametrize(
    ("low", "high", "p", "expected"),
    [
        (-0.01, 0.01, 0.5, "unchanged"),  # interval within the threshold
        (0.005, 0.015, 0.001, "unchanged"),  # certain but within
        (0.03, 0.07, 0.001, "better"),  # significant, beyond
        (0.01, 0.07, 0.001, "better"),  # significant, estimate beyond
        (-0.10, 0.20, 0.6, "inconclusive"),  # too wide to tell
    ],
)
def test_the_decision_rule(low, high, p, expected):
    b = 0.5 + (low + high) / 2
    interval = stats.Interval(b - 0.5, low, high, p)
    assert stats.decide(0.5, b, interval, POINTS, True, n=100)[0] == expected


def test_significant_within_the_threshold_but_reaching_beyond_is_inconclusive():
    interval = stats.Interval(0.01, 0.001, 0.03, 0.001)
    assert stats.decide(0.5, 0.51, interval, POINTS, True, n=100) == (
        "inconclusive",
        "significant, within 0.02 abs",
    )


def test_holm_matches_a_hand_computed_example():
    # sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 -> kept at 0.06
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert stats.holm([]) == []


def test_clusters_widen_the_interval_of_correlated_datapoints():
    rng = np.random.default_rng(4)
    shifts = np.repeat(rng.normal(0, 1, 20), 10)  # 20 clusters of 10 alike datapoints
    a = rng.normal(0, 0.1, 200)
    b = a + 0.1 + shifts
    groups = np.repeat([f"g{i}" for i in range(20)], 10)
    alone = stats.paired_bootstrap(a, b, 1000, 0)
    clustered = stats.paired_bootstrap(a, b, 1000, 0, groups=groups)
    assert alone.diff == clustered.diff
    assert (clustered.high - clustered.low) > 2 * (alone.high - alone.low)
    assert clustered.p_value > alone.p_value


def test_too_few_datapoints_and_missing_values():
    interval = stats.Interval(1.0, 1.0, 1.0, 0.001)
    relative = stats.Threshold(0.05, False)
    assert stats.decide(1.0, 2.0, interval, relative, True, n=3)[0] == "inconclusive"
    assert stats.decide(1.0, 2.0, interval, relative, True, n=5)[0] == "better"
    assert stats.decide(None, 2.0, interval, relative, True)[0] == "n/a"
    assert stats.known(math.nan) is None and stats.known(0.0) == 0.0
    assert stats.ratio_and_change(0.0, 0.1) == (None, None)
    assert stats.ratio_and_change(0.0, 0.0) == (1.0, 0.0)
    assert stats.ratio_and_change(2.0, 1.0) == (0.5, -0.5)


def test_the_vectorised_latency_statistics_match_numpy():
    rng = np.random.default_rng(0)
    matrix = rng.lognormal(0, 1, (50, 37))
    matrix[3, :5] = np.nan  # failed datapoints
    matrix[4, :] = np.nan  # none succeeded
    for name in ("latency_mean", "latency_p50", "latency_p95", "latency_p99"):
        expected = [
            np.nan
            if np.isnan(row).all()
            else np.mean(row[~np.isnan(row)])
            if name == "latency_mean"
            else np.percentile(row[~np.isnan(row)], fast.PERCENTILES[name])
            for row in matrix
        ]
        assert np.allclose(fast.statistic(matrix, name), expected, equal_nan=True), name


def test_the_vectorised_path_serves_only_what_summarize_agrees_with(monkeypatch):
    rng = np.random.default_rng(1)
    a = [{"latency": x, "error": ""} for x in rng.lognormal(0, 0.3, 80)]
    b = [{"latency": x, "error": ""} for x in rng.lognormal(0.5, 0.3, 80)]

    def agreeing(rows):
        values = [r["latency"] for r in rows]
        return {"latency_mean": float(np.mean(values)), "latency_p50": 123.0}  # p50: not ours

    monkeypatch.setattr(fast, "summary", agreeing)
    found = fast.latency_intervals(a, b, ["latency_mean", "latency_p50"], stats.Options(), 0, None)
    assert set(found) == {"latency_mean"}
    interval = found["latency_mean"]
    assert interval.low < interval.diff < interval.high and interval.p_value < 1e-6


def test_the_vectorised_means_agree_with_summarize_and_serve_only_those(monkeypatch):
    rng = np.random.default_rng(2)

    def rows(p_correct):
        return [
            {"correct": bool(c), "tokens": None if f else int(t), "cost": 0.01 * t, "error": f}
            for c, t, f in zip(
                rng.random(90) < p_correct,
                rng.integers(5, 50, 90),
                rng.random(90) < 0.1,
                strict=True,
            )
        ]

    def summarize(results):
        tokens = [r["tokens"] for r in results if not r["error"]]
        p50 = float(np.median(tokens)) if tokens else None  # none of the forms
        return {**helpers.summarize_forms(results), "tokens_p50": p50}

    monkeypatch.setattr(means, "summary", summarize)
    a, b = rows(0.9), rows(0.3)
    names = list(summarize(a))
    found = means.mean_intervals(a, b, names, stats.Options(resamples=400), 0, None)
    assert set(found) == set(names) - {"tokens_p50"}  # the median: through summarize
    for results in (a, b):  # exactly what summarize gives, on the full data
        shares = means.shares(results, names)
        forms = means.find_forms([(results, shares)], names, names, 0)
        for name, form in forms.items():
            assert means.reduce(shares, form) == pytest.approx(summarize(results)[name], rel=1e-12)
    accuracy = found["accuracy"]
    assert accuracy.diff == pytest.approx(summarize(b)["accuracy"] - summarize(a)["accuracy"])
    assert accuracy.low < accuracy.diff < accuracy.high < 0 and accuracy.p_value < 0.01


# --- the statistics against scipy's (test-only dependency) -----------------------------------


def test_wilson_matches_scipy():
    scipy_stats = pytest.importorskip("scipy.stats")
    for k, n in ((37, 120), (0, 12), (12, 12), (149, 240)):
        expected = scipy_stats.binomtest(k, n).proportion_ci(0.95, method="wilson")
        low, high = stats.wilson(k, n)
        assert (low, high) == pytest.approx((expected.low, expected.high), abs=1e-9)


def test_the_bootstrap_interval_matches_scipy():
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(21)
    a = rng.normal(1.0, 0.3, 150)
    b = a + rng.normal(0.05, 0.2, 150)
    ours = stats.paired_bootstrap(a, b, 20000, 0)
    theirs = scipy_stats.bootstrap(
        (b - a,), np.mean, n_resamples=20000, method="percentile", random_state=0
    ).confidence_interval
    assert (ours.low, ours.high) == pytest.approx((theirs.low, theirs.high), abs=0.004)


def test_the_paired_permutation_test_matches_scipy():
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(8)
    a = rng.normal(1.0, 0.3, 200)
    for shift in (0.0, 0.02, 0.04):  # p about 0.5, 0.2 and 0.01
        b = a + shift + rng.normal(0, 0.2, 200)
        theirs = scipy_stats.permutation_test(
            (a, b),
            lambda x, y: np.mean(y - x),
            permutation_type="samples",
            n_resamples=20000,
            random_state=0,
        ).pvalue
        ours = stats.paired_bootstrap(a, b, 100, 0).p_value
        assert ours == pytest.approx(theirs, abs=0.01 + 0.1 * theirs)


def test_gate_patterns():
    assert compare.gated(kind.PRIMARY, None) and compare.gated("error_rate", None)
    assert not compare.gated("latency_p95", None)  # default: primary and error_rate
    assert compare.gated("anything", ["*"])
    assert compare.gated(kind.PRIMARY, ["primary"])
    assert compare.gated("latency_p95", ["latency_*"])
    assert not compare.gated("latency_p95", ["primary"])


# --- the metrics interface ------------------------------------------------------------------


@pytest.mark.skipif(
    not hasattr(kind, "ROW_HIGHER_IS_BETTER"),
    reason="this kind declares no ROW_HIGHER_IS_BETTER: compare skips per-datapoint metrics",
)
def test_every_per_datapoint_metric_has_a_direction(items, configurations):
    result = predict_module.predict(items[0], configurations[0])
    assert set(kind.ROW_HIGHER_IS_BETTER) == set(kind.row_values(result))
    assert all(isinstance(v, bool) for v in kind.ROW_HIGHER_IS_BETTER.values())
    assert all(isinstance(v, bool) for v in kind.HIGHER_IS_BETTER.values())


def test_a_max_constant_within_each_run_is_not_served_as_a_mean(monkeypatch):
    """A metric that is a max equals the mean on a run where its value is constant; the
    permutations mix both runs' datapoints, so the vectorised path must not take it for one."""

    def summarize(results):
        values = [r["x"] for r in results]
        return {"peak": max(values), "average": sum(values) / len(values)}

    monkeypatch.setattr(means, "summary", summarize)
    results_a = [{"x": 3.2} for _ in range(50)]
    results_b = [{"x": 3.1} for _ in range(50)]
    names = ["peak", "average"]
    sides = [(results, means.shares(results, names)) for results in (results_a, results_b)]
    forms = means.find_forms(sides, names, names, 0)
    assert "peak" not in forms and forms["average"][0] == "mean"
