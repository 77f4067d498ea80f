"""When things go wrong: awkward result values, sys.exit and hangs in predict (harness/values.py,
harness/pools.py). Each bad datapoint becomes an error row; the others are recorded as usual."""

import dataclasses
import math
import sqlite3
import sys
import threading
import time
from concurrent.futures import BrokenExecutor, ThreadPoolExecutor

import numpy as np
import pytest

from {{ cookiecutter.module_name }}.harness import kind, levels, pools, runner
from {{ cookiecutter.module_name }}.harness.schema import params_column_types
from {{ cookiecutter.module_name }}.harness.tracking import PREDICTIONS, RowWriter, run_metadata
from {{ cookiecutter.module_name }}.harness.values import BadResult, Columns, storable


def options(db, parallelism="none", **changes):
    metadata = run_metadata("test", "experiment", "1", ("", False))
    return runner.RunOptions(
        db=db, metadata=metadata, parallelism=parallelism, progress=False, **changes
    )


def rows(db, sql):
    with sqlite3.connect(db) as connection:
        return connection.execute(sql).fetchall()


def test_values_are_stored_as_numbers_json_or_refused():
    stored = storable(
        {
            "count": np.int64(3),
            "score": np.float32(0.5),
            "flag": np.bool_(True),
            "vector": np.arange(3),
            "tags": ["a", {"k": (1, 2.5)}],
            "worst": -math.inf,
            "none": None,
        }
    )
    assert stored == {
        "count": 3,
        "score": 0.5,
        "flag": True,
        "vector": "[0, 1, 2]",
        "tags": '["a", {"k": [1, 2.5]}]',
        "worst": -math.inf,
        "none": None,
    }
    assert type(stored["count"]) is int
    refused = {
        "score": {"score": math.nan},
        "nested": {"nested": [1.0, math.nan]},
        "thing": {"thing": object()},
        "bad key": {"bad key": 1},
        "Latency": {"latency": 1.0, "Latency": 2.0},
        "config_id": {"config_id": "spoof"},
        "params_seed": {"params_seed": 1},
        "Item_input_id": {"Item_input_id": "x"},
        "big": {"big": 2**70},
    }
    for key, result in refused.items():
        with pytest.raises(BadResult, match=repr(key)):
            storable(result)
    columns = Columns(["latency"])
    with pytest.raises(BadResult, match="'Latency' clashes with the column 'latency'"):
        storable({"Latency": 1.0}, columns)


def poisoned(bad_id, value):
    original = kind.predict_module.predict

    def predict(item, params):
        result = original(item, params)
        return {**result, "extra": value} if item.input_id == bad_id else result

    return predict


def test_a_column_whose_first_batch_is_none_keeps_its_declared_type(tmp_path):
    # An Optional param left None in the first batch: its column must not be TEXT, which would
    # store the numbers of later batches as text.
    db = tmp_path / "bench.db"
    writer = RowWriter(db, PREDICTIONS, "t", column_types={"params_temperature": "REAL"})
    writer.write([{"input_id": "a", "params_temperature": None, "params_note": None}])
    writer.write([{"input_id": "b", "params_temperature": 0.5, "params_note": "x"}])
    writer.close()
    found = rows(
        db,
        "SELECT typeof(params_temperature), params_temperature, params_note FROM predictions "
        "ORDER BY input_id",
    )
    assert found == [("null", None, None), ("real", 0.5, "x")]


def test_the_runner_types_params_columns_from_params(tmp_path, items, configurations, monkeypatch):
    given = []

    class Recording(RowWriter):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            given.append(self.column_types)

    monkeypatch.setattr(runner, "RowWriter", Recording)
    runner.run(items[:1], configurations[:1], options(tmp_path / "bench.db"))
    assert given == [params_column_types(kind.Params)]
    assert set(given[0]) == {f"params_{f.name}" for f in dataclasses.fields(kind.Params)}


def test_a_bad_value_costs_only_its_own_rows(tmp_path, items, configurations, monkeypatch):
    db = tmp_path / "bench.db"
    bad = items[5].input_id
    monkeypatch.setattr(kind.predict_module, "predict", poisoned(bad, object()))
    total = len(items) * len(configurations)
    first = runner.run(items, configurations, options(db))
    assert (first.computed, first.failed) == (total, len(configurations))
    errors = rows(db, "SELECT input_id, error_type, error FROM predictions WHERE error != ''")
    assert {(i, t) for i, t, _ in errors} == {(bad, "BadResult")}
    assert all("'extra'" in error for *_, error in errors)
    second = runner.run(items, configurations, options(db))  # no crash at the same place
    retried = 0 if levels.LOAD else len(configurations)  # a load level caches its errors
    assert (second.computed, second.reused) == (retried, total - retried)
    counts = rows(db, "SELECT COUNT(*), COUNT(DISTINCT track_id) FROM predictions")
    assert counts == [(2 * total, 2)]


def test_numpy_values_read_back_the_same_from_the_db_and_the_cache(
    tmp_path, items, configurations, monkeypatch
):
    db = tmp_path / "bench.db"
    monkeypatch.setattr(kind.predict_module, "predict", poisoned(items[0].input_id, np.int64(7)))
    for _ in range(2):  # computed, then reused from the cache
        runner.run(items[:1], configurations, options(db))
    found = rows(db, "SELECT reused, typeof(extra), extra FROM predictions ORDER BY timestamp")
    n = len(configurations)
    assert found == [(0, "integer", 7)] * n + [(1, "integer", 7)] * n


def test_sql_keywords_are_fine_result_keys(tmp_path, items, configurations, monkeypatch):
    db = tmp_path / "bench.db"
    original = kind.predict_module.predict
    monkeypatch.setattr(
        kind.predict_module, "predict", lambda item, params: {**original(item, params), "order": 2}
    )
    runner.run(items[:2], configurations, options(db))
    assert rows(db, 'SELECT DISTINCT "order" FROM predictions') == [(2,)]


@pytest.mark.parametrize("parallelism", ["none", "threads"])
def test_sys_exit_in_predict_is_an_error_row(
    tmp_path, items, configurations, monkeypatch, parallelism
):
    db = tmp_path / "bench.db"
    original = kind.predict_module.predict

    def predict(item, params):
        if item.input_id == items[2].input_id:
            sys.exit(3)
        return original(item, params)

    monkeypatch.setattr(kind.predict_module, "predict", predict)
    summary = runner.run(items, configurations, options(db, parallelism=parallelism))
    assert summary.computed == len(items) * len(configurations)
    errors = rows(
        db, "SELECT DISTINCT input_id, error_type, error FROM predictions WHERE error != ''"
    )
    assert errors == [(items[2].input_id, "SystemExit", "predict called sys.exit(3)")]


def test_a_pool_found_broken_when_submitting_is_replaced_and_nothing_is_lost(
    tmp_path, items, configurations, monkeypatch
):
    # A worker may die between two waits: the next submit raises BrokenProcessPool. The
    # datapoint it was for must start again on a new pool, never end the run.
    pools_made = []

    class BreaksAfterTwo(ThreadPoolExecutor):
        def submit(self, *args, **kwargs):
            if self is pools_made[0] and self.submitted >= 2:
                raise BrokenExecutor("a worker died")
            self.submitted += 1
            return super().submit(*args, **kwargs)

    def new_pool(parallelism, workers):
        pool = BreaksAfterTwo(workers)
        pool.submitted = 0
        pools_made.append(pool)
        return pool

    monkeypatch.setattr(pools, "new_pool", new_pool)
    db = tmp_path / "bench.db"
    summary = runner.run(items[:4], configurations, options(db, parallelism="threads"))
    assert len(pools_made) >= 2
    assert summary.computed == 4 * len(configurations) and summary.failed == 0
    counts = rows(db, "SELECT COUNT(*), COUNT(DISTINCT input_id || config_id) FROM predictions")
    assert counts == [(4 * len(configurations), 4 * len(configurations))]


@pytest.mark.parametrize("parallelism", ["none", "threads"])
def test_a_datapoint_past_the_timeout_is_an_error_row_retried_next_run(
    tmp_path, items, configurations, monkeypatch, parallelism
):
    db = tmp_path / "bench.db"
    original = kind.predict_module.predict
    slow = {items[1].input_id}
    release = threading.Event()  # frees the abandoned threads at the end: no leak into later tests

    def predict(item, params):  # the same function on both runs: the same computation keys
        if item.input_id in slow:
            release.wait(10)
            return {"input_id": item.input_id, "error": "released"}
        return original(item, params)

    # Warm up (a kind may fit a model on its first call): then only the slow datapoint comes
    # near the timeout, on a busy machine too.
    for params in configurations:
        for item in items[:3]:
            original(item, params)
    monkeypatch.setattr(kind.predict_module, "predict", predict)
    run_options = options(db, parallelism=parallelism, timeout=1.0)
    started = time.monotonic()
    try:
        first = runner.run(items[:3], configurations, run_options)
    finally:
        release.set()
    assert time.monotonic() - started < 9  # it did not wait for the slow datapoint (10 s)
    assert first.failed == len(configurations)
    timed_out = rows(db, "SELECT input_id, error_type FROM predictions WHERE error != ''")
    assert timed_out == [(items[1].input_id, "Timeout")] * len(configurations)
    slow.clear()
    second = runner.run(items[:3], configurations, run_options)
    # Retried; under load a Timeout is a measurement, cached with its level (harness/levels.py).
    retried = 0 if levels.LOAD else len(configurations)
    assert (second.computed, second.failed) == (retried, 0)
