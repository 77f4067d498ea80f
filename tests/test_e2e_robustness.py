"""Never stuck, never corrupted, on a baked project: awkward result values, sys.exit and dead
workers in predict, hangs and --timeout, Ctrl-C, and SIGKILL of the main process.

A driver script wraps the baked ``predict`` (``functools.wraps``: the computation identity is
unchanged) and gives chosen datapoints a fault (``FAULTS="s001=nan,s002=exit"``); every finished
execution is logged, as in test_e2e_exactly_once.py.
"""

import math
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from helpers import bake, git, install_into
from results import executions, query

pytestmark = pytest.mark.e2e
MODULE = "robust_bench"
DRIVER = """
import functools, math, os, sys, time
import numpy as np
import {module}.predict as predict_module
from {module}.cli import app

original = predict_module.predict
delay = float(os.environ.get("PREDICT_DELAY", "0"))
hang = float(os.environ.get("HANG", "60"))
faults = dict(p.split("=") for p in os.environ.get("FAULTS", "").split(",") if p)
EXTRA = {{
    "numpy": lambda: {{"count": np.int64(3), "ratio": np.float32(0.5), "vector": np.arange(3)}},
    "nested": lambda: {{"tags": ["a", "b"], "extra": {{"k": [1, 2.5]}}}},
    "nan": lambda: {{"ratio": math.nan}},
    "inf": lambda: {{"ratio": math.inf}},
    "object": lambda: {{"thing": object()}},
    "space": lambda: {{"bad key": 1}},
    "case": lambda: {{"Latency": 1.0}},
    "identity": lambda: {{"config_id": "spoof", "params_lexicon": "spoof"}},
}}

@functools.wraps(original)
def faulty(item, params):
    time.sleep(delay)
    fault = faults.get(item.input_id, "")
    if fault == "exit":
        sys.exit(3)
    if fault == "osexit":
        os._exit(7)
    if fault == "hang":
        time.sleep(hang)
    if fault == "stubborn":  # swallows Ctrl-C, as a careless retry loop does
        open(os.environ["EXECUTION_LOG"] + ".stubborn", "w").close()  # the test waits for it
        for _ in range(3):
            try:
                time.sleep(hang)
            except KeyboardInterrupt:
                pass
    result = original(item, params)
    if fault in EXTRA:
        result = {{**result, **EXTRA[fault]()}}
    with open(os.environ["EXECUTION_LOG"], "a") as log:
        log.write(f"{{item.input_id}}|{{params.config_id}}\\n")
    return result

predict_module.predict = faulty
app(sys.argv[1:], prog_name="driver")
"""
CONFIGS = 8  # the default grid


@pytest.fixture(scope="module")
def project(tmp_path_factory, shared_python):
    project = bake(tmp_path_factory.mktemp("robust"), project_name="Robust Bench")
    install_into(shared_python, project)
    (project / "driver.py").write_text(DRIVER.format(module=MODULE))
    # the bake is a git repository: experiment runs refuse uncommitted files, as for any user
    git(project, "add", "driver.py")
    git(project, "commit", "-qm", "driver")
    return project


def start(python, project, workdir, *args, faults="", delay=0.0, hang=60.0):
    command = [str(python), str(project / "driver.py"), "run", "--no-progress"]
    command += ["--db", str(workdir / "bench.db"), *args]
    env = {
        **os.environ,
        "EXECUTION_LOG": str(workdir / "executions.log"),
        "FAULTS": faults,
        "PREDICT_DELAY": str(delay),
        "HANG": str(hang),
    }
    return subprocess.Popen(
        command, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def driver(python, project, workdir, *args, timeout=120, **faults):
    process = start(python, project, workdir, *args, **faults)
    stdout, stderr = process.communicate(timeout=timeout)
    return process.returncode, stdout, stderr


def assert_no_duplicates(workdir: Path):
    per_key = query(
        workdir, "SELECT cache_key, COUNT(*) FROM predictions GROUP BY track_id, cache_key"
    )
    assert per_key and {n for _, n in per_key} == {1}, "a datapoint was recorded twice in a run"


def errors_by_input(workdir: Path, track=""):
    where = f" AND track_id = '{track}'" if track else ""
    found = query(
        workdir,
        "SELECT input_id, error_type, error, COUNT(*) FROM predictions "
        f"WHERE error != ''{where} GROUP BY 1, 2, 3",
    )
    return {input_id: (kind, error, n) for input_id, kind, error, n in found}


def test_awkward_values_are_stored_faithfully_or_become_error_rows(
    shared_python, project, tmp_path
):
    faults = {
        "s000": "numpy",
        "s001": "nested",
        "s002": "nan",
        "s003": "inf",
        "s004": "object",
        "s005": "space",
        "s006": "case",
        "s007": "identity",
    }
    spec = ",".join(f"{k}={v}" for k, v in faults.items())
    code, out, err = driver(shared_python, project, tmp_path, "--limit", "10", faults=spec)
    assert code == 0, err
    assert "80 computed, 0 reused" in out and f"{5 * CONFIGS} failed" in out
    assert query(tmp_path, "SELECT COUNT(*) FROM predictions") == [(80,)]
    assert_no_duplicates(tmp_path)
    numbers = query(
        tmp_path,
        "SELECT DISTINCT typeof(count), count, typeof(ratio), ratio, vector FROM predictions "
        "WHERE input_id = 's000'",
    )
    assert numbers == [("integer", 3, "real", 0.5, "[0, 1, 2]")]
    nested = query(tmp_path, "SELECT DISTINCT tags, extra FROM predictions WHERE input_id = 's001'")
    assert nested == [('["a", "b"]', '{"k": [1, 2.5]}')]
    infinite = query(tmp_path, "SELECT DISTINCT ratio FROM predictions WHERE input_id = 's003'")
    assert infinite == [(math.inf,)]
    refused = errors_by_input(tmp_path)
    assert set(refused) == {"s002", "s004", "s005", "s006", "s007"}
    for input_id, key in {
        "s002": "'ratio' is NaN",
        "s004": "'thing'",
        "s005": "'bad key'",
        "s006": "'Latency'",
        "s007": "'config_id'",
    }.items():
        kind, error, n = refused[input_id]
        assert (kind, n) == ("BadResult", CONFIGS) and key in error, (input_id, error)
    spoofed = query(
        tmp_path,
        "SELECT COUNT(*) FROM predictions WHERE config_id = 'spoof' OR params_lexicon = 'spoof'",
    )
    assert spoofed == [(0,)]
    good = query(tmp_path, "SELECT COUNT(*) FROM predictions WHERE error = '' AND latency > 0")
    assert good == [(5 * CONFIGS,)]  # one bad datapoint never costs another one's row

    # The rerun does not crash at the same place: the refused ones are retried (and refused
    # again), the rest is reused from the cache with the very values of the db.
    before = executions(tmp_path)
    code, out, err = driver(shared_python, project, tmp_path, "--limit", "10", faults=spec)
    assert code == 0, err
    assert f"{5 * CONFIGS} computed, {5 * CONFIGS} reused" in out
    assert sum(executions(tmp_path).values()) - sum(before.values()) == 5 * CONFIGS
    reused = query(
        tmp_path,
        "SELECT DISTINCT typeof(count), count, vector FROM predictions "
        "WHERE input_id = 's000' AND reused = 1",
    )
    assert reused == [("integer", 3, "[0, 1, 2]")]
    assert_no_duplicates(tmp_path)


@pytest.mark.parametrize("parallelism", ["none", "threads", "processes"])
def test_sys_exit_and_dead_workers_become_error_rows(shared_python, project, tmp_path, parallelism):
    faults = "s001=exit" + (",s003=osexit" if parallelism == "processes" else "")
    args = ("--limit", "6", "--parallelism", parallelism, "--workers", "2")
    code, out, err = driver(shared_python, project, tmp_path, *args, faults=faults)
    assert code == 0, err
    assert query(tmp_path, "SELECT COUNT(*) FROM predictions") == [(6 * CONFIGS,)]
    assert_no_duplicates(tmp_path)
    found = errors_by_input(tmp_path)
    assert found.pop("s001") == ("SystemExit", "predict called sys.exit(3)", CONFIGS)
    if parallelism == "processes":
        kind, error, n = found.pop("s003")
        assert (kind, n) == ("WorkerDied", CONFIGS) and "worker process" in error
    assert found == {}  # the datapoints in flight with the dying one were computed again
    done = executions(tmp_path)
    assert len(done) == (6 - 1 - (parallelism == "processes")) * CONFIGS
    # Retried on the next run, not cached: without the faults they are computed.
    code, out, err = driver(shared_python, project, tmp_path, *args)
    assert code == 0, err
    retried = 1 + (parallelism == "processes")
    assert f"{retried * CONFIGS} computed, {(6 - retried) * CONFIGS} reused" in out


@pytest.mark.parametrize("parallelism", ["none", "threads", "processes"])
def test_a_hung_datapoint_becomes_a_timeout_row_retried_next_run(
    shared_python, project, tmp_path, parallelism
):
    args = ("--limit", "3", "--parallelism", parallelism, "--workers", "2", "--timeout", "0.5")
    started = time.monotonic()
    code, out, err = driver(shared_python, project, tmp_path, *args, faults="s001=hang", hang=30)
    assert code == 0, err
    assert time.monotonic() - started < 25, "the run waited for the hung datapoints"
    assert query(tmp_path, "SELECT COUNT(*) FROM predictions") == [(3 * CONFIGS,)]
    kind, error, n = errors_by_input(tmp_path).pop("s001")
    assert (kind, n) == ("Timeout", CONFIGS) and "0.5 s" in error
    assert len(executions(tmp_path)) == 2 * CONFIGS
    code, out, err = driver(shared_python, project, tmp_path, *args)
    assert code == 0, err
    assert f"{CONFIGS} computed, {2 * CONFIGS} reused from cache, 0 failed" in out


def wait_for(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def saved_rows(workdir: Path) -> int:
    if not (workdir / "bench.db").exists():
        return 0
    try:
        return query(workdir, "SELECT COUNT(*) FROM predictions")[0][0]
    except Exception:  # the table is not there yet
        return 0


def test_rows_are_committed_while_a_datapoint_hangs_and_ctrl_c_stops_it(
    shared_python, project, tmp_path
):
    # threads, no timeout: s000 hangs in every configuration, holding 8 of the 10 threads; the
    # others' rows are committed on time all the same, and Ctrl-C still stops the run.
    process = start(
        shared_python, project, tmp_path, "--limit", "3", "--parallelism", "threads",
        "--workers", "10", faults="s000=hang", hang=120,
    )  # fmt: skip
    wait_for(lambda: sum(executions(tmp_path).values()) == 2 * CONFIGS)
    wait_for(lambda: saved_rows(tmp_path) == 2 * CONFIGS, timeout=3)  # the 1 s rule, no result
    assert process.poll() is None, "the run should still wait for the hung datapoints"
    interrupted = time.monotonic()
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=10)
    assert time.monotonic() - interrupted < 5
    assert process.returncode == 130
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert lines[0].startswith(f"Interrupted: {2 * CONFIGS} results saved in ")
    assert "run the same command again to resume" in lines[0]
    assert saved_rows(tmp_path) == 2 * CONFIGS
    assert_no_duplicates(tmp_path)


@pytest.mark.parametrize("parallelism", ["none", "processes"])
def test_ctrl_c_commits_each_finished_result_once_and_resumes(
    shared_python, project, tmp_path, parallelism
):
    total = 12 * CONFIGS
    args = ("--limit", "12", "--parallelism", parallelism, "--max-unsaved-seconds", "0")
    in_flight = 1 if parallelism == "none" else 2 * 4  # 4 workers, each may finish 2 more
    for finished in (7, 30, 55):  # interrupt at several points of the run
        process = start(shared_python, project, tmp_path, *args, delay=0.1)
        wait_for(lambda: sum(executions(tmp_path).values()) >= finished)  # noqa: B023
        at_signal = sum(executions(tmp_path).values())
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=10)
        assert process.returncode == 130, stderr
        assert stderr.startswith("Interrupted: ") and stderr.count("\n") == 1, stderr
        saved = int(stderr.split()[1])
        run_rows = query(
            tmp_path,
            "SELECT COUNT(*) FROM predictions WHERE track_id = "
            "(SELECT track_id FROM predictions ORDER BY timestamp DESC LIMIT 1)",
        )
        assert run_rows == [(saved,)], "the message does not say what was saved"
        # Nothing new was queued: at most the datapoints in flight finished after Ctrl-C.
        assert sum(executions(tmp_path).values()) <= at_signal + in_flight
    assert_no_duplicates(tmp_path)
    code, out, err = driver(shared_python, project, tmp_path, *args)
    assert code == 0, err
    computed = query(
        tmp_path, "SELECT cache_key, COUNT(*) FROM predictions WHERE cache = '' GROUP BY 1"
    )
    assert len(computed) == total and {n for _, n in computed} == {1}, "computed twice"


def test_ctrl_c_stops_a_hung_predict_and_a_second_one_exits_at_once(
    shared_python, project, tmp_path
):
    # parallelism none: the first Ctrl-C interrupts predict itself; the finished row is saved.
    process = start(shared_python, project, tmp_path, "--limit", "2", faults="s001=hang")
    wait_for(lambda: sum(executions(tmp_path).values()) >= 1)
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=10)
    assert process.returncode == 130 and stderr.startswith("Interrupted: 1 results saved"), stderr
    assert saved_rows(tmp_path) == 1
    # A predict that swallows KeyboardInterrupt ignores the first Ctrl-C; the second exits now.
    process = start(shared_python, project, tmp_path, "--limit", "2", faults="s001=stubborn")
    # in the stubborn predict (a fixed wait failed when start-up was slow under load)
    wait_for((tmp_path / "executions.log.stubborn").exists)
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    time.sleep(1)
    assert process.poll() is None, "the stubborn predict should have kept the run going"
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=5)
    assert process.returncode == 130 and "interrupted again: stopped at once" in stderr, stderr
    code, out, err = driver(shared_python, project, tmp_path, "--limit", "2")
    assert code == 0, err
    assert_no_duplicates(tmp_path)
    computed = query(tmp_path, "SELECT COUNT(DISTINCT cache_key) FROM predictions WHERE cache = ''")
    assert computed == [(2 * CONFIGS,)]


def children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_sigkill_of_the_main_process_leaves_no_worker_behind(shared_python, project, tmp_path):
    process = start(
        shared_python, project, tmp_path, "--limit", "4", "--parallelism", "processes",
        "--workers", "2", faults="s000=hang,s001=hang,s002=hang,s003=hang", hang=120,
    )  # fmt: skip
    wait_for(lambda: len(children(process.pid)) >= 2)
    workers = children(process.pid)
    process.send_signal(signal.SIGKILL)
    process.wait()

    def alive():
        return {pid for pid in workers if Path(f"/proc/{pid}").exists()}

    wait_for(lambda: not alive(), timeout=5)
