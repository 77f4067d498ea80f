"""Load levels in the runner: each level runs on its own with exactly its concurrency, requests/s
comes from the rows (so a rerun reports what was measured), the machine is sampled in the
driver, and a level is measured whole (never topped up with the requests a run before lacked)."""

import sqlite3
import threading
import time

import pytest

from {{ cookiecutter.module_name }} import metrics, targets
from {{ cookiecutter.module_name }}.harness import runner
from {{ cookiecutter.module_name }}.harness.tracking import run_metadata
from {{ cookiecutter.module_name }}.params import Params


def options(db, parallelism="none"):
    metadata = run_metadata("test", "experiment", "1", ("", False))
    return runner.RunOptions(db=db, metadata=metadata, parallelism=parallelism, progress=False)


def rows(db, table="predictions"):
    with sqlite3.connect(db) as connection:
        connection.row_factory = sqlite3.Row
        return [dict(r) for r in connection.execute(f"SELECT * FROM {table} ORDER BY rowid")]


@pytest.fixture
def traced(monkeypatch):
    """The local target, recording how many requests were in flight and when each ran."""
    lock, state = threading.Lock(), {"now": 0, "peak": {}, "spans": []}
    inner = targets.local_service

    def service(payload, params):
        with lock:
            state["now"] += 1
            peak = state["peak"]
            peak[params.concurrency] = max(peak.get(params.concurrency, 0), state["now"])
        start = time.monotonic()
        try:
            return inner(payload, params)
        finally:
            with lock:
                state["now"] -= 1
                state["spans"].append((params.concurrency, start, time.monotonic()))

    monkeypatch.setitem(targets.TARGETS, "local", service)
    return state


def test_each_level_runs_alone_with_exactly_its_concurrency(tmp_path, items, traced):
    levels = [Params(concurrency=c, sleep_ms=10) for c in (1, 4)]
    summary = runner.run(items, levels, options(tmp_path / "bench.db"))
    assert summary.computed == 2 * len(items)
    assert traced["peak"] == {1: 1, 4: 4}
    last_of_1 = max(end for c, _, end in traced["spans"] if c == 1)
    first_of_4 = min(start for c, start, _ in traced["spans"] if c == 4)
    assert last_of_1 <= first_of_4, "the levels overlapped"


def test_requests_per_second_comes_from_the_rows_and_survives_a_rerun(tmp_path, items):
    db = tmp_path / "bench.db"
    levels = [Params(concurrency=c, sleep_ms=10) for c in (1, 4)]
    first = runner.run(items, levels, options(db))
    second = runner.run(items, levels, options(db))
    assert (second.computed, second.reused) == (0, 2 * len(items))
    for before, after in zip(first.metrics, second.metrics, strict=True):
        assert before["config_id"] == after["config_id"]
        for name in metrics.HIGHER_IS_BETTER:
            assert after[name] == pytest.approx(before[name], nan_ok=True), name
    measured = rows(db)[: 2 * len(items)]
    for row in first.metrics:
        level = [r for r in measured if r["config_id"] == row["config_id"]]
        span = max(r["finished_at"] for r in level) - min(r["started_at"] for r in level)
        assert row["requests_per_second"] == pytest.approx(len(items) / span)
        assert row["span_seconds"] >= len(items) * 0.010 / row["params_concurrency"]
    stored = rows(db, "metrics")
    assert [m["requests_per_second"] for m in stored[:2]] == pytest.approx(
        [m["requests_per_second"] for m in stored[2:]]
    )


def test_the_machine_is_measured_in_the_driver_around_each_level(tmp_path, items):
    db = tmp_path / "bench.db"
    summary = runner.run(items, [Params(concurrency=1, sleep_ms=20)], options(db))
    measured = rows(db)
    assert len({r["level_run"] for r in measured}) == 1
    assert all(0 < r["system_memory_percent"] <= 100 and r["driver_rss_mb"] > 0 for r in measured)
    last = max(measured, key=lambda r: r["finished_at"])
    assert 0 <= last["system_cpu_percent"] <= 100  # CPU use over the whole level (0.24 s)
    assert summary.metrics[0]["cpu_percent_mean"] == pytest.approx(last["system_cpu_percent"])
    assert summary.metrics[0]["memory_percent_max"] == max(
        r["system_memory_percent"] for r in measured
    )


def test_a_level_measured_with_other_requests_before_is_measured_again_whole(tmp_path, items):
    db = tmp_path / "bench.db"
    level = [Params(concurrency=2, sleep_ms=10)]
    runner.run(items[:6], level, options(db))  # the level with 6 requests, measured whole
    again = runner.run(items, level, options(db))  # with 12: never topped up with 6 more
    assert (again.computed, again.reused) == (len(items), 0)
    latest = [r for r in rows(db) if r["track_id"] == again.track_id]
    assert len(latest) == len(items) and len({r["level_run"] for r in latest}) == 1
    assert {r["level_complete"] for r in rows(db)} == {1}  # two whole measurements
    span = max(r["finished_at"] for r in latest) - min(r["started_at"] for r in latest)
    assert again.metrics[0]["span_seconds"] == pytest.approx(span)
    assert again.metrics[0]["requests_per_second"] == pytest.approx(len(items) / span)


def test_levels_run_in_worker_processes_too(tmp_path, items):
    db = tmp_path / "bench.db"
    levels = [Params(concurrency=c, sleep_ms=5) for c in (1, 2)]
    summary = runner.run(items[:4], levels, options(db, "processes"))
    assert (summary.computed, summary.failed) == (8, 0)
    assert all(r["level_run"] and r["driver_rss_mb"] for r in rows(db))


def test_every_metric_has_a_direction_and_failures_do_not_count_as_throughput():
    ok = {"latency": 0.1, "started_at": 10.0, "finished_at": 10.1, "error": ""}
    results = [
        {**ok, "level_run": "a", "system_cpu_percent": 90.0},
        {**ok, "started_at": 10.1, "finished_at": 11.0, "level_run": "a", "system_cpu_percent": 50},
        {**ok, "started_at": 50.0, "finished_at": 51.0, "level_run": "b"},
        {**ok, "error": "HTTP 503", "started_at": 51.0, "finished_at": 51.0, "level_run": "b"},
    ]
    results[3]["system_cpu_percent"] = 10.0  # the last request of run b: its whole span
    summary = metrics.summarize(results)
    assert set(summary) - set(metrics.HIGHER_IS_BETTER) == {"n", "n_failed"}
    assert summary["span_seconds"] == pytest.approx(1.0 + 1.0)  # the gap between runs is not
    assert summary["requests_per_second"] == pytest.approx(4 / 2.0)
    assert summary["successes_per_second"] == pytest.approx(3 / 2.0)
    assert summary["error_rate"] == 0.25
    assert summary["cpu_percent_mean"] == pytest.approx((50 + 10) / 2)  # weighted by span
    assert metrics.row_values(results[3]) == {"latency": None}
    assert set(metrics.THRESHOLDS) <= {*metrics.HIGHER_IS_BETTER, *metrics.ROW_HIGHER_IS_BETTER}
