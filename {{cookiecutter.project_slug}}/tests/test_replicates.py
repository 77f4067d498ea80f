"""Replicates (``run --replicate N``) and machine measurements judged between them.

Kind-agnostic. The timing checks use a stand-in predict whose latency is set, not measured:
the kind's own result with ``latency`` (and a load test's request times) made from the item,
a factor (1.3: a predict 30% slower) and a small per-run jitter, so every decision is far from
any cut-off whatever the machine is doing.
"""

import functools
import json
import sqlite3
import types

import numpy as np
import pytest
from scipy import stats as scipy_stats
from typer.testing import CliRunner

from {{ cookiecutter.module_name }} import metrics as kind_metrics
from {{ cookiecutter.module_name }} import predict as predict_module
from {{ cookiecutter.module_name }}.cli import app
from {{ cookiecutter.module_name }}.harness import compare, kind, runner, validation
from {{ cookiecutter.module_name }}.harness.compare import between
from {{ cookiecutter.module_name }}.harness.identity import (
    computation_key,
    computation_keys,
    content_hash,
)
from {{ cookiecutter.module_name }}.harness.report import write_report
from {{ cookiecutter.module_name }}.harness.tracking import run_metadata

LATENCIES = ("latency_mean", "latency_p50", "latency_p95", "latency_p99", "latency")


def run_into(db, items, configurations, experiment, commit, replicate=0, version=None):
    version = version or predict_module.PREDICT_VERSION
    metadata = run_metadata(experiment, "experiment", version, (commit, 0), replicate=replicate)
    options = runner.RunOptions(
        db=db, metadata=metadata, parallelism="none", progress=False, replicate=replicate
    )
    return runner.run(items, configurations, options)


def stand_in(items, factor: float, jitter: float):
    """predict with a set latency: 10 ms x (1 + item's position / 10) x factor x jitter."""
    inner = predict_module.predict
    position = {item.input_id: i for i, item in enumerate(items)}

    @functools.wraps(inner)
    def predict(item, params):
        result = dict(inner(item, params))
        latency = 0.01 * (1 + position[item.input_id] / 10) * factor * jitter
        result["latency"] = latency
        if "started_at" in result:  # a load test: requests one after another
            start = 1000.0 + position[item.input_id] * 0.011 * 2 * factor * jitter
            result.update(started_at=start, finished_at=start + latency)
        return result

    return predict


def measure(db, items, configurations, experiment, factor, jitters, commit):
    """One replicate per jitter (replicate 0, 1, ...) of a stand-in predict ``factor`` slower."""
    version = f"stand-in-{factor}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(predict_module, "PREDICT_VERSION", version)
        for replicate, jitter in enumerate(jitters):
            patch.setattr(predict_module, "predict", stand_in(items, factor, jitter))
            run_into(db, items, configurations, experiment, commit, replicate, version)


def marks(comparison, names=LATENCIES) -> dict:
    """(config_id, metric) -> mark of the metrics in ``names`` the kind declares."""
    return {
        (c["config_id"], m["metric"]): m["mark"]
        for c in comparison["configurations"]
        for m in c["metrics"]
        if m["metric"] in names
    }


# --- keys and rows ----------------------------------------------------------------------------


def test_replicate_0_keeps_every_computation_key_and_others_get_new_ones(items, configurations):
    item, params = items[0], configurations[0]
    predict, version = predict_module.predict, predict_module.PREDICT_VERSION
    function_id = f"{predict.__module__}.{predict.__qualname__}"
    before = content_hash(("computation", function_id, version, item, params))  # as always
    assert computation_key(predict, version, item, params) == before
    assert computation_key(predict, version, item, params, replicate=0) == before
    keys = {computation_key(predict, version, item, params, replicate=r) for r in range(4)}
    assert len(keys) == 4
    for replicate in (0, 2):
        assert computation_keys(predict, version, items[:3], params, replicate) == [
            computation_key(predict, version, i, params, replicate) for i in items[:3]
        ]
    for wrong in (-1, True, 1.0):
        with pytest.raises(ValueError, match="replicate"):
            computation_key(predict, version, item, params, replicate=wrong)


def test_a_replicate_is_computed_again_recorded_and_rerun_from_the_cache(
    tmp_path, items, configurations
):
    db = tmp_path / "bench.db"
    first = run_into(db, items, configurations, "e", "a1" * 20)
    again = run_into(db, items, configurations, "e", "a1" * 20, replicate=1)
    cache = next(f for f in validation.validate(db) if f.check == "cache")
    assert cache.status == "ok", cache  # no hit, but two replicates: nothing was lost
    rerun = run_into(db, items, configurations, "e", "a1" * 20, replicate=1)
    planned = len(items) * len(configurations)
    assert (first.computed, again.computed, again.reused) == (planned, planned, 0)
    assert (rerun.computed, rerun.reused) == (0, planned)
    with sqlite3.connect(db) as connection:
        rows = connection.execute(
            "SELECT track_id, replicate, COUNT(*), COUNT(DISTINCT cache_key),"
            " GROUP_CONCAT(DISTINCT config_id) FROM predictions GROUP BY track_id ORDER BY rowid"
        ).fetchall()
        metrics = connection.execute("SELECT replicate, config_id FROM metrics").fetchall()
        keys = connection.execute(
            "SELECT COUNT(DISTINCT cache_key) FROM predictions WHERE replicate = 1"
        ).fetchone()[0]
        shared = connection.execute(
            "SELECT COUNT(*) FROM predictions a JOIN predictions b ON a.cache_key = b.cache_key"
            " WHERE a.replicate = 0 AND b.replicate = 1"
        ).fetchone()[0]
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        (run.track_id, replicate, planned, planned)
        for run, replicate in ((first, 0), (again, 1), (rerun, 1))
    ]
    ids = {params.config_id for params in configurations}
    assert all(set(r[4].split(",")) == ids for r in rows)  # config_id: not the replicate's
    assert sorted(metrics) == sorted((r, c) for r in (0, 1, 1) for c in ids)
    assert (keys, shared) == (planned, 0)  # replicate 1 has keys of its own
    findings = {f.check: f for f in validation.validate(db, all_runs=True)}
    assert validation.exit_code(list(findings.values())) == 0
    assert findings["leaks"].status == "ok"  # one execution per computation key


def test_the_flag_records_its_replicate(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "dev.db"
    cli = CliRunner()
    for replicate in ("0", "1"):
        args = ["run", "--dev", "--limit", "2", "--db", str(db), "--replicate", replicate]
        done = cli.invoke(app, args)
        assert done.exit_code == 0, done.output
    with sqlite3.connect(db) as connection:
        found = connection.execute(
            "SELECT replicate, SUM(reused) FROM predictions GROUP BY replicate"
        ).fetchall()
    assert found == [(0, 0), (1, 0)]
    wrong = cli.invoke(app, ["run", "--dev", "--db", str(db), "--replicate", "-1"])
    assert wrong.exit_code == 2 and "replicate" in wrong.output


# --- the kind's measurements ------------------------------------------------------------------


def test_the_kind_declares_its_machine_measurements():
    declared = {**kind.HIGHER_IS_BETTER, **kind.ROW_HIGHER_IS_BETTER}
    assert kind.MEASUREMENTS and set(kind.MEASUREMENTS) <= set(declared)
    assert set(kind.MEASUREMENTS) >= {n for n in LATENCIES if n in declared}
    assert not set(kind.MEASUREMENTS) & set(kind.PROPORTIONS)  # accuracy-like: within a run
    assert kind.PRIMARY not in kind.MEASUREMENTS or kind.PRIMARY == "requests_per_second"
    wrong = types.SimpleNamespace(**vars(kind_metrics))
    wrong.MEASUREMENTS = ("latency_mean", "no_such_metric")
    files = {**kind.FILES, "metrics.py": wrong}
    assert kind.problems(files) == [
        "metrics.py: MEASUREMENTS: 'no_such_metric' is not a declared metric"
    ]


# --- Welch's test -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "a, b",
    [
        ([1.0, 1.1, 0.9], [1.3, 1.4, 1.25]),
        ([10.0, 12.0, 11.0, 13.0, 9.5], [10.5, 10.0]),
        ([0.021, 0.0205, 0.0212, 0.0199], [0.0204, 0.021, 0.0207, 0.0201]),
    ],
)
def test_welch_matches_scipy(a, b):
    interval = between.welch(a, b, 0.95)
    test = scipy_stats.ttest_ind(b, a, equal_var=False)
    low, high = test.confidence_interval(0.95)
    assert interval.diff == pytest.approx(np.mean(b) - np.mean(a))
    assert interval.p_value == pytest.approx(test.pvalue, rel=1e-6)
    assert (interval.low, interval.high) == pytest.approx((low, high), rel=1e-6)
    for df in (1, 2.5, 7, 40):
        assert between.t_quantile(0.975, df) == pytest.approx(scipy_stats.t.ppf(0.975, df))


def test_welch_without_spread():
    assert between.welch([1.0, 1.0], [1.0, 1.0], 0.95).p_value == 1.0
    shifted = between.welch([1.0, 1.0], [2.0, 2.0], 0.95)
    assert (shifted.low, shifted.high, shifted.p_value) == (1.0, 1.0, 0.0)


# --- compare ----------------------------------------------------------------------------------


def test_two_replicates_of_the_same_code_are_never_worse_on_timing(tmp_path, items, configurations):
    db = tmp_path / "bench.db"
    runs = [run_into(db, items, configurations, "same", "a1" * 20, r) for r in (0, 1)]
    result = compare.compare(db, runs[0].track_id, runs[1].track_id)
    assert result["replicates"] == {"a": [runs[0].track_id], "b": [runs[1].track_id]}
    measured = {
        m["mark"]
        for c in result["configurations"]
        for m in c["metrics"]
        if m["metric"] in kind.MEASUREMENTS
    }
    assert measured <= {"unchanged", "inconclusive", "n/a"}
    assert compare.regressions(result, ["*"]) == [] or all(
        r["metric"] not in kind.MEASUREMENTS for r in compare.regressions(result, ["*"])
    )
    assert "--replicate 1" in " ".join(compare.render(result).split())


def test_one_run_per_side_leaves_timing_inconclusive(tmp_path, items, configurations):
    db = tmp_path / "bench.db"
    measure(db, items, configurations, "base", 1.0, [1.0], "a1" * 20)
    measure(db, items, configurations, "slow", 1.3, [1.0], "b2" * 20)
    result = compare.compare(db, "base", "slow")
    found = marks(result)
    assert found and set(found.values()) == {"inconclusive"}
    reasons = {
        m["reason"]
        for c in result["configurations"]
        for m in c["metrics"]
        if m["metric"] in LATENCIES
    }
    assert reasons == {
        "1 vs 1 replicates: a machine measurement needs 3 per side (run --replicate 1, then 2)"
    }
    text = " ".join(compare.render(result).split())  # lines wrapped at 120 columns
    assert "take 3 per side" in text and "run --replicate 1" in text
    cli = CliRunner()
    gate = ["compare", "base", "slow", "--db", str(db), "--no-plot", "--fail-on-regression"]
    assert cli.invoke(app, gate).exit_code == 0  # the default gate: primary + error_rate


def test_a_slower_predict_is_worse_with_three_replicates_per_side(tmp_path, items, configurations):
    db = tmp_path / "bench.db"
    measure(db, items, configurations, "base", 1.0, [1.0, 1.01, 0.99], "a1" * 20)
    measure(db, items, configurations, "same", 1.0, [0.995, 1.005, 1.0], "b2" * 20)
    measure(db, items, configurations, "slow", 1.3, [1.0, 0.99, 1.01], "c3" * 20)
    slow = compare.compare(db, "base", "slow")
    assert [len(slow["replicates"][side]) for side in "ab"] == [3, 3]
    found = marks(slow)
    assert found and set(found.values()) == {"worse"}
    for config in slow["configurations"]:
        for m in config["metrics"]:
            if m["metric"] == "latency_mean":
                assert m["replicates"] == [3, 3] and m["change"] == pytest.approx(0.3, abs=0.01)
                assert m["ci"][0] > 0.1 * m["a"]  # beyond the 10% threshold, whole interval
    if kind.PRIMARY == "requests_per_second":  # a load test: fewer requests per second
        assert {m for (_, n), m in marks(slow, [kind.PRIMARY]).items()} == {"worse"}
    same = compare.compare(db, "base", "same")
    assert set(marks(same).values()) == {"unchanged"}
    assert "Welch" in compare.render(same)
    data = json.loads(compare.to_json(slow))  # strict JSON
    assert data["replicates"]["b"] == slow["replicates"]["b"]
    cli = CliRunner()
    gate = ["compare", "base", "slow", "--db", str(db), "--no-plot", "--fail-on-regression"]
    assert cli.invoke(app, [*gate, "--gate", "latency_mean"]).exit_code == 1
    assert cli.invoke(app, [*gate, "--gate", "latency_mean"]).exit_code == 1


def test_compare_defaults_to_the_last_two_codes_and_the_report_pairs_replicates(
    tmp_path, items, configurations
):
    db = tmp_path / "bench.db"
    measure(db, items, configurations, "base", 1.0, [1.0, 1.01, 0.99], "a1" * 20)
    measure(db, items, configurations, "slow", 1.3, [1.0, 0.99, 1.01], "c3" * 20)
    result = compare.compare(db)  # not the last two runs: two replicates of "slow"
    assert (result["a"]["experiment"], result["b"]["experiment"]) == ("base", "slow")
    assert set(marks(result).values()) == {"worse"}
    text = write_report(db, tmp_path / "reports").read_text()
    section = text.split("## Compared with the previous run")[1]
    assert "Welch" in section and "worse" in section
    between_runs = text.split("## Between replicates")[1].split("##")[0]
    assert "over the 3 replicates of this code" in between_runs
    assert between_runs.count("| latency_mean (ms) ") == len(configurations)
