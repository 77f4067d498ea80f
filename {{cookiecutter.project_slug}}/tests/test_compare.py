"""Comparing runs: the statistics of the decision, run selection, and real runs compared.

Kind-agnostic: it uses the metrics interface (HIGHER_IS_BETTER, ROW_HIGHER_IS_BETTER,
summarize, row_values) and the kind's own data, params and predict.
"""

import functools
import json
import math
import sqlite3

import numpy as np
import pytest
from typer.testing import CliRunner

from {{ cookiecutter.module_name }} import metrics as kind
from {{ cookiecutter.module_name }} import predict as predict_module
from {{ cookiecutter.module_name }}.cli import app
from {{ cookiecutter.module_name }}.harness import compare, runner
from {{ cookiecutter.module_name }}.harness.compare import stats
from {{ cookiecutter.module_name }}.harness.report import write_report
from {{ cookiecutter.module_name }}.harness.tracking import run_metadata
from {{ cookiecutter.module_name }}.params import grid

# --- the statistics -------------------------------------------------------------------------


def judge(a, b, threshold=0.05, higher_is_better=True, seed=1, resamples=1000):
    """(mark, reason, interval) of per-datapoint values ``a`` and ``b``, as compare decides."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    margin = threshold * abs(a.mean())
    interval = stats.paired_bootstrap(a, b, resamples, seed, 0.95, margin)
    mark, reason = stats.decide(a.mean(), b.mean(), interval, threshold, higher_is_better, n=a.size)
    return mark, reason, interval


def test_identical_values_give_a_zero_interval_and_no_significance():
    values = np.linspace(1.0, 2.0, 50)
    mark, reason, interval = judge(values, values.copy())
    assert (interval.diff, interval.low, interval.high) == (0.0, 0.0, 0.0)
    assert interval.p_value == interval.p_beyond == 1.0
    assert (mark, reason) == ("unchanged", "equal")


def test_a_constant_shift_is_significant():
    a = np.linspace(1.0, 2.0, 50)
    mark, reason, interval = judge(a, a + 0.5)
    assert interval.low == interval.high == pytest.approx(0.5)
    assert interval.p_value < 0.01 and interval.p_beyond < 0.01
    assert (mark, reason) == ("better", "significant")


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
        stats.paired_bootstrap(
            rng.normal(1, 0.2, 50), rng.normal(1, 0.2, 50), 400, int(rng.integers(1e9))
        ).p_value
        for _ in range(300)
    ]
    assert 0.02 <= np.mean(np.array(p_values) < 0.05) <= 0.09
    assert 0.4 <= np.mean(p_values) <= 0.6


def noise_trials(n: int, jitter: float, trials: int = 300):
    """(mark, beyond threshold) of comparisons of two runs that differ by latency jitter only:
    both draw each datapoint's latency from one distribution."""
    rng = np.random.default_rng(2024)
    for _ in range(trials):
        a = 1e-3 * rng.lognormal(0, jitter, n)
        b = 1e-3 * rng.lognormal(0, jitter, n)
        mark, _, _ = judge(a, b, higher_is_better=False, seed=int(rng.integers(1e9)), resamples=500)
        yield mark, stats.beyond_threshold(a.mean(), b.mean(), 0.05)


def test_noise_alone_does_not_flag_a_change():
    marks = [mark for mark, _ in noise_trials(n=200, jitter=0.2)]
    assert set(marks) == {"unchanged"}


def test_noise_as_large_as_the_threshold_rarely_flags_a_change():
    """100 datapoints with 30% jitter: the mean's noise is about the threshold's size, so the
    threshold alone is crossed often; the rest of the rule keeps those changes unchanged."""
    trials = list(noise_trials(n=100, jitter=0.3))
    flagged = sum(mark != "unchanged" for mark, _ in trials)
    beyond = sum(beyond for _, beyond in trials)
    assert beyond > 0.15 * len(trials)  # the threshold alone would flag these
    assert flagged <= 0.01 * len(trials)


def test_a_tail_percentile_of_few_datapoints_is_not_flagged_by_noise(monkeypatch):
    """p99 of 60 datapoints is about their maximum: noise moves it beyond the threshold most of
    the time, and its bootstrap interval is too narrow to rely on; the permutation test sees
    that noise makes such changes."""
    monkeypatch.setattr(
        stats, "summary", lambda rows: {"p99": float(np.percentile([r["x"] for r in rows], 99))}
    )
    rng = np.random.default_rng(99)
    options = stats.Options(resamples=400)
    beyond = flagged = 0
    for trial in range(30):
        a = [{"x": x} for x in 1e-3 * rng.lognormal(0, 0.2, 60)]
        b = [{"x": x} for x in 1e-3 * rng.lognormal(0, 0.2, 60)]
        pa, pb = stats.summary(a)["p99"], stats.summary(b)["p99"]
        if not stats.beyond_threshold(pa, pb, 0.05):
            continue
        beyond += 1
        margin = math.copysign(0.05 * pa, pb - pa)
        interval = stats.resample_summaries(a, b, {"p99": margin}, options, trial)["p99"]
        flagged += stats.decide(pa, pb, interval, 0.05, False, n=60)[0] != "unchanged"
    assert beyond >= 15  # of 30: the threshold alone would flag these
    assert flagged == 0


@pytest.mark.parametrize(
    ("shift", "higher_is_better", "expected"),
    [(-0.3, True, "worse"), (0.3, True, "better"), (0.3, False, "worse"), (-0.3, False, "better")],
)
def test_a_real_change_is_marked_by_the_metric_direction(shift, higher_is_better, expected):
    rng = np.random.default_rng(5)
    a = rng.normal(1.0, 0.05, 200)
    b = a * (1 + shift) + rng.normal(0, 0.01, 200)
    mark, reason, _ = judge(a, b, higher_is_better=higher_is_better)
    assert (mark, reason) == (expected, "significant")


def test_a_certain_change_within_the_threshold_is_unchanged():
    a = np.linspace(1.0, 2.0, 200)
    b = a * 1.02  # certain, but only 2%
    mark, reason, interval = judge(a, b)
    assert interval.low > 0 and interval.p_value < 0.01
    assert (mark, reason) == ("unchanged", "within 5%")
    assert judge(a, b, threshold=0.01)[0] == "better"


def test_a_large_change_noise_could_make_is_unchanged():
    a = np.array([0.0, 1.0] * 5)
    b = a.copy()
    b[1] = 0.0  # one datapoint of ten flips: -20%, which noise makes
    assert judge(a, b)[:2] == ("unchanged", "noise")


def test_the_interval_must_clear_the_threshold():
    rng = np.random.default_rng(3)
    a = rng.normal(0, 0.3, 40) + 1.0
    a += 1.0 - a.mean()
    d = rng.normal(0, 0.3, 40)
    b = a + d - d.mean() + 0.08  # +8% exactly, but the interval reaches below +5%
    mark, reason, interval = judge(a, b)
    assert interval.low < 0.05 * abs(a.mean())
    assert (mark, reason) == ("unchanged", "noise")


def test_too_few_datapoints_and_missing_values():
    interval = stats.Interval(1.0, 1.0, 1.0, 0.001, 0.001)
    assert stats.decide(1.0, 2.0, interval, 0.05, True, n=3)[0] == "unchanged"
    assert stats.decide(1.0, 2.0, interval, 0.05, True, n=5)[0] == "better"
    assert stats.decide(None, 2.0, interval, 0.05, True)[0] == "n/a"
    assert stats.known(math.nan) is None and stats.known(0.0) == 0.0
    assert stats.ratio_and_change(0.0, 0.1) == (None, None)
    assert stats.ratio_and_change(0.0, 0.0) == (1.0, 0.0)
    assert stats.ratio_and_change(2.0, 1.0) == (0.5, -0.5)


def test_gate_patterns():
    assert compare.gated("anything", None)
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


# --- real runs --------------------------------------------------------------------------------


def run_into(db, items, configurations, experiment, commit):
    metadata = run_metadata(experiment, "experiment", predict_module.PREDICT_VERSION, (commit, 0))
    options = runner.RunOptions(db=db, metadata=metadata, parallelism="none", progress=False)
    return runner.run(items, configurations, options)


@pytest.fixture
def history(tmp_path, items, configurations):
    """A db with runs a (computed), b (a rerun: all cache hits) and c (predict fails on every
    other datapoint; the first configuration left out, another one added)."""
    db = tmp_path / "bench.db"
    runs = {
        "a": run_into(db, items, configurations, "a", "a1" * 20),
        "b": run_into(db, items, configurations, "b", "b2" * 20),
    }
    inner = predict_module.predict
    failing = {item.input_id for item in items[::2]}

    @functools.wraps(inner)
    def predict(item, params):
        if item.input_id in failing:
            raise RuntimeError("injected failure")
        return inner(item, params)

    extra = next(p for p in grid() if p not in configurations)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(predict_module, "predict", predict)
        patch.setattr(predict_module, "PREDICT_VERSION", "failing")
        runs["c"] = run_into(db, items, [configurations[1], extra], "c", "c3" * 20)
    return db, runs, {str(i) for i in failing}, extra


def test_a_rerun_of_cache_hits_compares_equal(history):
    db, runs, _, _ = history
    result = compare.compare(db, "a", "b")
    picked = (result["a"]["track_id"], result["b"]["track_id"])
    assert picked == (runs["a"].track_id, runs["b"].track_id)
    assert [c["status"] for c in result["configurations"]] == ["both", "both"]
    for config in result["configurations"]:
        assert config["n_paired"] == config["n_a"] == config["n_b"] > 0
        for metric in config["metrics"]:
            assert metric["a"] == metric["b"], metric
            assert metric["mark"] in ("unchanged", "n/a"), metric
            if metric["a"] is not None:
                assert (metric["ratio"], metric["change"], metric["reason"]) == (1.0, 0.0, "equal")
    assert compare.regressions(result) == []


def selected(db, *args, **kwargs) -> tuple[str, str]:
    (rows_a, run_a), (rows_b, run_b) = compare.select(db, *args, **kwargs)
    assert set(rows_a["track_id"]) == {run_a["track_id"]}
    assert set(rows_b["track_id"]) == {run_b["track_id"]}
    return run_a["track_id"], run_b["track_id"]


def test_runs_are_selected_by_id_experiment_commit_or_default(history, tmp_path):
    db, runs, _, _ = history
    a, b, c = (runs[k].track_id for k in "abc")
    assert selected(db) == (b, c)  # default: the last two
    assert selected(db, a, c) == (a, c)  # run ids
    assert selected(db, "c", "a") == (c, a)  # experiment names
    assert selected(db, "b2b2b2", "c3c3") == (b, c)  # commit prefixes
    assert selected(db, "a") == (a, c)  # A alone: against the latest
    with pytest.raises(LookupError, match="no run, experiment or git commit 'nope'"):
        selected(db, "nope", "a")
    with pytest.raises(LookupError, match="no run"):
        selected(db, "b2", "a")  # 2 characters: not taken as a commit prefix
    other = tmp_path / "other.db"
    with sqlite3.connect(db) as source, sqlite3.connect(other) as copy:
        source.backup(copy)
    assert selected(db, baseline_db=other) == (c, c)  # the latest run of each db
    assert selected(db, "a", "b", baseline_db=other) == (a, b)


def test_failures_and_configurations_in_one_run_are_listed(history):
    db, runs, failing, extra = history
    result = compare.compare(db, "a", "c")
    by_status = {}
    for config in result["configurations"]:
        by_status.setdefault(config["status"], []).append(config)
    assert sorted(by_status) == ["both", "only in A", "only in B"]
    assert by_status["only in B"][0]["config_id"] == extra.config_id
    assert {m["mark"] for m in by_status["only in A"][0]["metrics"]} == {"only in A"}
    both = by_status["both"][0]
    assert both["failed"] == {"a": [], "b": sorted(failing), "either": len(failing)}
    for metric in both["metrics"]:
        if metric["per"] == "datapoint" and metric["a"] is not None:
            assert metric["n"] == both["n_paired"] - len(failing)  # pairs where neither failed
    marks = {m["metric"]: m["mark"] for m in both["metrics"] if m["per"] == "config"}
    if "error_rate" in kind.HIGHER_IS_BETTER:
        assert marks["error_rate"] == "worse"
        assert any(r["metric"] == "error_rate" for r in compare.regressions(result))
    text = compare.render(result)
    assert "only in A" in text and "only in B" in text and sorted(failing)[0] in text
    data = json.loads(compare.to_json(result))  # strict JSON: no NaN
    assert data["counts"]["failed_b"] == 2 * len(failing)  # both configurations of run c


def test_the_command_gates_and_writes_json_markdown_and_png(history, tmp_path):
    db, runs, _, _ = history
    cli = CliRunner()
    png = tmp_path / "ab.png"
    same = ["compare", "a", "b", "--db", str(db), "--fail-on-regression", "--png", str(png)]
    same = cli.invoke(app, same)
    assert same.exit_code == 0, same.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fast = ["--resamples", "200", "--no-plot"]
    done = cli.invoke(app, ["compare", "a", "c", "--db", str(db), "--json", *fast])
    assert done.exit_code == 0 and json.loads(done.stdout)["b"]["track_id"] == runs["c"].track_id
    done = cli.invoke(app, ["compare", "a", "c", "--db", str(db), "--markdown", *fast])
    assert done.exit_code == 0 and "| config_id" in done.stdout and "only in B" in done.stdout
    if "error_rate" in kind.HIGHER_IS_BETTER:
        gate = ["compare", "a", "c", "--db", str(db), "--no-plot", "--fail-on-regression"]
        gate += ["--resamples", "200"]
        assert cli.invoke(app, gate).exit_code == 1
        assert cli.invoke(app, [*gate, "--gate", "error_*"]).exit_code == 1
        assert cli.invoke(app, [*gate, "--gate", "no_such_metric"]).exit_code == 0
    unknown = cli.invoke(app, ["compare", "nope", "--db", str(db), "--no-plot"])
    assert unknown.exit_code == 2


def test_the_report_compares_with_the_previous_run(history, tmp_path):
    db, runs, _, _ = history
    with sqlite3.connect(db) as connection:  # the report covers the latest run: c
        count = connection.execute("SELECT COUNT(DISTINCT track_id) FROM predictions")
        assert count.fetchone()[0] == 3
    path = write_report(db, tmp_path / "reports")
    text = path.read_text()
    assert "## Compared with the previous run" in text
    assert runs["b"].track_id in text.split("## Compared with the previous run")[1]
    assert (path.parent / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
