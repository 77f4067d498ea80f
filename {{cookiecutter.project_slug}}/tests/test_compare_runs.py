"""Comparing real runs of the kind: run selection, cache hits, failures, the command, the
report's comparison, and compare in SQL against compare of whole tables (pandas).

Kind-agnostic: it uses the metrics interface (HIGHER_IS_BETTER, ROW_HIGHER_IS_BETTER,
summarize, row_values) and the kind's own data, params and predict.
"""

import functools
import json
import sqlite3

import numpy as np
import pytest
from typer.testing import CliRunner

from {{ cookiecutter.module_name }} import metrics as kind
from {{ cookiecutter.module_name }} import predict as predict_module
from {{ cookiecutter.module_name }}.cli import app
from {{ cookiecutter.module_name }}.harness import compare, runner
from {{ cookiecutter.module_name }}.harness.compare import fast, load, means, ranking, stats
from {{ cookiecutter.module_name }}.harness.compare import runs as runs_module
from {{ cookiecutter.module_name }}.harness.report import write_report
from {{ cookiecutter.module_name }}.harness.tracking import read_table, run_metadata
from {{ cookiecutter.module_name }}.params import grid

# --- real runs --------------------------------------------------------------------------------


def run_into(db, items, configurations, experiment, commit, **changes):
    metadata = run_metadata(experiment, "experiment", predict_module.PREDICT_VERSION, (commit, 0))
    options = runner.RunOptions(
        db=db, metadata=metadata, parallelism="none", progress=False, **changes
    )
    return runner.run(items, configurations, options)


@pytest.fixture
def history(tmp_path, items, configurations):
    """A db with runs a (computed), b (a rerun: all cache hits) and c (predict fails on every
    datapoint, a clear-cut regression; the first configuration left out, another one added)."""
    db = tmp_path / "bench.db"
    runs = {
        "a": run_into(db, items, configurations, "a", "a1" * 20),
        "b": run_into(db, items, configurations, "b", "b2" * 20),
    }
    inner = predict_module.predict
    failing = {item.input_id for item in items}

    @functools.wraps(inner)
    def predict(item, params):
        if item.input_id in failing:
            raise RuntimeError("injected failure")
        return inner(item, params)

    extra = next(p for p in grid() if p not in configurations)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(predict_module, "predict", predict)
        patch.setattr(predict_module, "PREDICT_VERSION", "failing")
        # every datapoint fails on purpose: the circuit breaker must not stop this run
        runs["c"] = run_into(db, items, [configurations[1], extra], "c", "c3" * 20, breaker=0)
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


# --- compare in SQL against compare of the whole tables (pandas) -----------------------------


@pytest.fixture
def changed(history, items, configurations):
    """``history`` and a run d: predict fails on every third datapoint, the others are computed
    again (their latencies differ): a comparison of a and d resamples every metric."""
    db, runs, _, _ = history
    inner = predict_module.predict
    failing = {item.input_id for item in items[::3]}

    @functools.wraps(inner)
    def predict(item, params):
        if item.input_id in failing:
            raise RuntimeError("injected failure")
        return inner(item, params)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(predict_module, "predict", predict)
        patch.setattr(predict_module, "PREDICT_VERSION", "every third fails")
        runs["d"] = run_into(db, items, configurations, "d", "d4" * 20, breaker=0)
    return db, runs


SELECTORS = [(), ("a", "d"), ("d", "a"), ("a",), ("b2b2b2", "c3c3"), ("c", "d")]


def test_the_runs_in_sql_are_the_runs_of_the_whole_table(changed, tmp_path):
    db, _ = changed
    assert load.run_list(db, runs_module.RUN_COLUMNS) == runs_module.runs(
        read_table(db, "predictions")
    )
    other = tmp_path / "other.db"
    with sqlite3.connect(db) as source, sqlite3.connect(other) as copy:
        source.backup(copy)
    for selectors in SELECTORS:
        (_, run_a), (_, run_b) = compare.select(db, *selectors)
        assert runs_module.pick(db, *selectors) == (run_a, run_b), selectors
    (_, run_a), (_, run_b) = compare.select(db, "a", baseline_db=other)
    assert runs_module.pick(db, "a", baseline_db=other) == (run_a, run_b)


def test_compare_in_sql_equals_compare_of_the_whole_tables(changed, monkeypatch):
    db, _ = changed
    options = stats.Options(resamples=300)
    expected = {}
    for pair in (("a", "d"), ("a", "c"), ("b", "d")):
        (rows_a, run_a), (rows_b, run_b) = compare.select(db, *pair)
        expected[pair] = compare.compare_rows(rows_a, run_a, rows_b, run_b, options)

    def whole_table(*args, **kwargs):
        raise AssertionError("compare read a whole table")

    monkeypatch.setattr(runs_module, "read_table", whole_table)
    for pair, old in expected.items():
        new = compare.compare(db, *pair, options=options)
        assert json.dumps(new, sort_keys=True) == json.dumps(old, sort_keys=True), pair
    tested = [m for c in expected["a", "d"]["configurations"] for m in c["metrics"] if m["ci"]]
    # resampled, not only equal; a machine measurement (MEASUREMENTS) with one run per side is
    # inconclusive without an interval (between.py): then error_rate is the resampled one
    resampled = {kind.PRIMARY} - set(kind.MEASUREMENTS) or {"error_rate"}
    assert {m["metric"] for m in tested} >= resampled


def test_rank_and_plan_in_sql_equal_them_of_the_whole_table(changed):
    db, _ = changed
    for selector in (None, "a", "d"):
        rows, run = ranking.one_run(db, selector)
        assert ranking.rank(db, selector) == ranking.rank_rows(rows, run), selector


def test_a_column_the_sample_did_not_read_is_read_again(changed, monkeypatch):
    db, runs = changed
    options = stats.Options(resamples=200)
    expected = compare.compare(db, "a", "d", options=options)
    monkeypatch.setattr(load.Rows, "sampled_columns", lambda self: ["input_id"])
    assert compare.compare(db, "a", "d", options=options) == expected
    rows = load.Rows(db, runs["d"].track_id)
    config_id, _, by_id = next(rows.stream())
    by_id = rows.checked(config_id, by_id)
    assert set(rows.columns) > {"input_id"}  # summarize reads more: read again with it
    assert all(set(row) == set(rows.columns) for row in by_id.values())
    assert {type(row) for row in by_id.values()} == {load.Plain}
    # what the check computed (compare and the ranking reuse it) is that of the rows read again
    ordered = [by_id[k] for k in sorted(by_id)]
    assert by_id.summary == stats.summary(ordered)
    arrays = load.row_arrays(ordered)
    assert by_id.arrays.keys() == arrays.keys() == set(kind.ROW_HIGHER_IS_BETTER)
    for name, values in arrays.items():
        np.testing.assert_array_equal(by_id.arrays[name], values)


def paired_results(db, runs):
    """A's and B's results of the first configuration of runs a and d, paired by input_id."""
    rows_a, rows_b = (load.Rows(db, runs[k].track_id) for k in "ad")
    (config_id, _, by_a), (_, _, by_b) = next(rows_a.stream()), next(rows_b.stream())
    by_a, by_b = rows_a.checked(config_id, by_a), rows_b.checked(config_id, by_b)
    paired = sorted(by_a.keys() & by_b.keys())
    return [by_a[k] for k in paired], [by_b[k] for k in paired]


def test_the_vectorised_resamples_are_what_summarize_gives_on_them(changed):
    """Every metric served by a vectorised path: its value on resamples and permutations of
    real rows equals the kind's summarize of those very rows (the old way: one summarize call
    per resample). Sums of non-integer shares in another order: within 1e-9 relative."""
    db, runs = changed
    results_a, results_b = paired_results(db, runs)
    n, rng = len(results_a), np.random.default_rng(3)
    names = list(kind.HIGHER_IS_BETTER)
    all_names = [m for m in stats.summary(results_a) if m in stats.summary(results_b)]
    share_a, share_b, forms = means.with_forms(results_a, results_b, names, all_names, 0)
    assert forms, "no metric of summarize is a mean, sum or ratio"
    exact = means.find_forms([(results_a, means.shares(results_a, all_names))], names, all_names, 0)
    assert set(forms) <= set(exact)  # the masked shares serve nothing the exact ones do not
    picked = rng.integers(0, n, size=(4, n))
    swap = rng.random((4, n)) < 0.5
    counts = np.stack([np.bincount(p, minlength=n) for p in picked]).astype(float)
    value_a = np.hstack([np.nan_to_num(share_a, nan=0.0), ~np.isnan(share_a)])
    value_b = np.hstack([np.nan_to_num(share_b, nan=0.0), ~np.isnan(share_b)])
    boot = means.sums(counts, value_a, forms)
    sides = means.sums(np.hstack([1 - swap, swap]), np.vstack([value_a, value_b]), forms)
    latency = fast.latencies(results_a)
    ranked = fast.Ranked(latency)
    percentiles = [m for m in fast.PERCENTILES if m in names]
    counted = fast.resampled(latency, ranked, picked, ["latency_mean", *percentiles])
    for r in range(4):
        resample = stats.summary([results_a[i] for i in picked[r]])
        pairs = zip(results_a, results_b, swap[r], strict=True)
        swapped = stats.summary([y if s else x for x, y, s in pairs])
        for name in forms:
            assert boot[name][r] == pytest.approx(resample[name], rel=1e-9, nan_ok=True), name
            assert sides[name][r] == pytest.approx(swapped[name], rel=1e-9, nan_ok=True), name
        for name in percentiles:  # the same order statistics as a sort: exactly
            assert counted[name][r] == fast.statistic(latency[picked[r]][None, :], name)[0]
            if name in resample and resample[name] is not None:
                assert counted[name][r] == pytest.approx(resample[name], rel=1e-9), name
