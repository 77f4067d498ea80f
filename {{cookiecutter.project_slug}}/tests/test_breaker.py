"""Loud failures: the circuit breaker, failed counts per configuration, --max-error-rate, --json."""

import json
import sqlite3

import pytest
from typer.testing import CliRunner

from {{ cookiecutter.module_name }}.cli import app
from {{ cookiecutter.module_name }}.harness import pools, runner
from {{ cookiecutter.module_name }}.harness.breaker import CircuitOpen, Failures
from {{ cookiecutter.module_name }}.harness.execution import execute
from {{ cookiecutter.module_name }}.harness.tracking import run_metadata
from {{ cookiecutter.module_name }}.params import grid


def failed(error_type="APIError"):
    return {"error": f"HTTP 401 ({error_type})", "error_type": error_type}


class Bar:
    def __init__(self):
        self.postfix = []

    def set_postfix(self, refresh=True, **values):
        self.postfix.append(values)


def test_the_breaker_trips_on_a_window_of_one_error_type_only():
    failures = Failures(window=3)
    for result in (failed(), failed(), {"error": ""}, failed(), failed("Timeout"), failed()):
        failures.observe("c1", result)  # a success or another type in between: no trip
    failures.observe("c2", failed())
    with pytest.raises(CircuitOpen, match="last 3 datapoints all failed with APIError"):
        failures.observe("c2", failed())
    assert failures.failed == 7
    assert failures.top("c1") == "APIError x4, Timeout x1"
    bar = Bar()
    counted = Failures(window=0, bar=bar)
    counted.observe("c1", {"error": ""})
    counted.observe("c1", failed())
    counted.observe("c1", failed())
    assert bar.postfix == [{"failed": 1}, {"failed": 2}]  # the progress bar shows failures
    never = Failures(window=0)
    for _ in range(50):
        never.observe("c1", failed())
    assert never.failed == 50


def always_401(item, params):
    """Stands in for execute(): every datapoint fails the same way (a bad API key)."""
    result = {"input_id": item.input_id, "error": "HTTP 401 from http://x", "latency": 0.001}
    return {**result, "error_type": "APIError"}, 0.001


def test_a_run_failing_the_same_way_stops_and_keeps_its_rows(tmp_path, monkeypatch, items):
    monkeypatch.setattr(pools, "execute", always_401)
    db = tmp_path / "bench.db"
    metadata = run_metadata("test", "experiment", "1", ("", False))
    options = runner.RunOptions(db=db, metadata=metadata, parallelism="none", progress=False)
    options.breaker = 5
    with pytest.raises(CircuitOpen, match="last 5 datapoints all failed with APIError"):
        runner.run(items, grid()[:2], options)
    with sqlite3.connect(db) as connection:
        kept = connection.execute("SELECT error_type FROM predictions").fetchall()
    assert kept == [("APIError",)] * 5  # what ran before the stop is in the db


def invoke(*args):
    """``run --dev`` in this process (parallelism none: the stand-ins above must run here)."""
    command = ["run", "--dev", "--limit", "12", "--no-progress", "--parallelism", "none"]
    return CliRunner().invoke(app, [*command, *args])


def test_run_exits_2_with_the_reason_when_the_breaker_trips(tmp_path, monkeypatch):
    monkeypatch.setattr(pools, "execute", always_401)
    done = invoke("--db", str(tmp_path / "dev.db"), "--breaker", "5")
    assert done.exit_code == 2, done.output
    assert "stopped: the last 5 datapoints all failed with APIError: HTTP 401" in done.output
    assert "--no-breaker" in done.output and "Traceback" not in done.output
    done = invoke("--db", str(tmp_path / "other.db"), "--no-breaker", "--json")
    assert done.exit_code == 0, done.output
    summary = json.loads(done.output)
    assert summary["failed"] == summary["computed"] > 5  # ran to the end
    for configuration in summary["configurations"]:
        assert configuration["errors"] == {"APIError": configuration["n_computed"]}


def test_max_error_rate_fails_a_run_above_it(tmp_path, monkeypatch):
    calls = []

    def half_fail(item, params):  # every other datapoint fails: the breaker never trips
        calls.append(1)
        return always_401(item, params) if len(calls) % 2 else execute(item, params)

    monkeypatch.setattr(pools, "execute", half_fail)
    done = invoke("--db", str(tmp_path / "dev.db"), "--max-error-rate", "0.3")
    assert done.exit_code == 1, done.output
    assert "is above --max-error-rate 0.3" in done.output
    assert "APIError x" in done.output  # the summary's top errors per configuration


def test_the_progress_bar_is_off_without_a_terminal_unless_asked_for(tmp_path):
    command = ["run", "--dev", "--limit", "3", "--parallelism", "none"]  # no --progress option
    quiet = CliRunner().invoke(app, [*command, "--db", str(tmp_path / "a.db")])
    assert quiet.exit_code == 0, quiet.output
    assert "datapoint/s" not in quiet.output  # output to a pipe or a file: no bar
    shown = invoke("--limit", "3", "--db", str(tmp_path / "b.db"), "--progress")
    assert shown.exit_code == 0 and "datapoint/s" in shown.output, shown.output
