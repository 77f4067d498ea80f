"""Exactly-once on a baked project: new processes, SIGKILL at any point, identity, errors.

Executions are counted for real: a driver script wraps the baked ``predict`` (with
``functools.wraps``, so the computation identity is unchanged) and appends one line to a log per
finished execution. Rows are only used to check what was recorded.
"""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from helpers import bake, git, install_into, run
from results import executions, query

pytestmark = pytest.mark.e2e
MODULE = "exactly_once"
DRIVER = """
import functools, os, sys, time
import {module}.predict as predict_module
from {module}.cli import app

original = predict_module.predict
delay = float(os.environ.get("PREDICT_DELAY", "0"))
fail_ids = set(filter(None, os.environ.get("PREDICT_FAIL_IDS", "").split(",")))

@functools.wraps(original)
def counted(item, params):
    time.sleep(delay)
    if item.input_id in fail_ids:
        result = {{"input_id": item.input_id, "error": "transient", "error_type": "TimeoutError"}}
    else:
        result = original(item, params)
    with open(os.environ["EXECUTION_LOG"], "a") as log:
        log.write(f"{{item.input_id}}|{{params.config_id}}\\n")
    return result

predict_module.predict = counted
app(sys.argv[1:], prog_name="driver")
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory, shared_python):
    project = bake(tmp_path_factory.mktemp("exactly-once"), project_name="Exactly Once")
    install_into(shared_python, project)
    (project / "driver.py").write_text(DRIVER.format(module=MODULE))
    # the bake is a git repository: experiment runs refuse uncommitted files, as for any user
    git(project, "add", "driver.py")
    git(project, "commit", "-qm", "driver")
    return project


@pytest.fixture
def workdir(project, tmp_path):
    """A fresh db and execution log for one test (the cache sits next to the db)."""
    return tmp_path


def driver(shared_python, project, workdir, *args, delay=0.0, fail_ids=(), background=False):
    command = [str(shared_python), str(project / "driver.py"), "run", "--no-progress"]
    command += ["--db", str(workdir / "bench.db"), *args]
    env = {
        **os.environ,
        "EXECUTION_LOG": str(workdir / "executions.log"),
        "PREDICT_DELAY": str(delay),
        "PREDICT_FAIL_IDS": ",".join(fail_ids),
    }
    if background:
        return subprocess.Popen(command, cwd=project, env=env, stdout=subprocess.DEVNULL)
    return run(command, cwd=project, env=env)


def assert_lineage_consistent(workdir: Path):
    """Every hit row points at the run that computed that very computation."""
    dangling = query(
        workdir,
        "SELECT COUNT(*) FROM predictions AS hit WHERE hit.cache != '' AND NOT EXISTS ("
        " SELECT 1 FROM predictions AS done WHERE done.cache = '' "
        " AND done.track_id = hit.cache AND done.cache_key = hit.cache_key)",
    )
    assert dangling == [(0,)]


def test_second_process_executes_nothing(shared_python, project, workdir):
    driver(shared_python, project, workdir, "--limit", "20")
    first = executions(workdir)
    assert sum(first.values()) == 20 * 8 and max(first.values()) == 1
    output = driver(shared_python, project, workdir, "--limit", "20").stdout
    assert executions(workdir) == first, "the second process executed datapoints again"
    assert "0 computed, 160 reused" in output
    hits = query(
        workdir,
        "SELECT COUNT(*), COUNT(DISTINCT cache) FROM predictions WHERE reused = 1",
    )
    assert hits == [(160, 1)]
    nulls = query(
        workdir,
        "SELECT COUNT(*) FROM predictions WHERE params_lexicon IS NULL "
        "OR params_threshold IS NULL OR params_negation IS NULL OR item_input_id IS NULL",
    )
    assert nulls == [(0,)]
    assert_lineage_consistent(workdir)


def kill_after(process, workdir: Path, finished: int, timeout: float = 60) -> bool:
    """SIGKILL ``process`` once ``finished`` executions are logged; False if it ended first."""
    deadline = time.monotonic() + timeout
    while sum(executions(workdir).values()) < finished and time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    return True


def test_sigkill_then_resume_executes_each_datapoint_once(shared_python, project, workdir):
    total = 12 * 8
    kills = 0
    for finished in (10, 35, 60):  # kill at several points of the run
        process = driver(
            shared_python,
            project,
            workdir,
            "--limit",
            "12",
            delay=0.03,
            background=True,
        )
        kills += kill_after(process, workdir, finished)
    assert kills == 3, "a run finished before it could be killed"
    assert 0 < sum(executions(workdir).values()) < total
    driver(shared_python, project, workdir, "--limit", "12", delay=0.03)
    done = executions(workdir)
    assert len(done) == total, "some datapoint was never executed"
    # Finished datapoints not yet committed at a kill run again. Rows are committed once they
    # hold max_unsaved_seconds (0.05 s) of computation, so at a kill at most two 0.03 s
    # datapoints are unsaved: one waiting, or two while their batch commits. Nothing committed
    # is executed twice (the cache_key count below).
    assert sum(done.values()) - total <= 2 * kills
    computed = query(
        workdir,
        "SELECT cache_key, COUNT(*) FROM predictions WHERE cache = '' GROUP BY 1",
    )
    assert len(computed) == total and {n for _, n in computed} == {1}
    assert_lineage_consistent(workdir)
    last_run = query(
        workdir,
        "SELECT COUNT(*) FROM predictions WHERE track_id = "
        "(SELECT track_id FROM predictions ORDER BY timestamp DESC LIMIT 1)",
    )
    assert last_run == [(total,)]  # the resumed run logs the whole grid, computed or reused


def test_a_crash_between_commit_and_cache_write_is_healed(shared_python, project, workdir):
    driver(shared_python, project, workdir, "--limit", "5")
    (track_id,) = query(workdir, "SELECT DISTINCT track_id FROM predictions")[0]
    # Simulate a kill after the rows were committed but before their cache entries were written.
    code = (
        "import sys, diskcache; c = diskcache.Cache(sys.argv[1]); c.clear(); c.close();"
        "open(sys.argv[1] + '/run-in-progress', 'w').write(sys.argv[2])"
    )
    run(
        [str(shared_python), "-c", code, str(workdir / ".cache" / "bench"), track_id],
        cwd=workdir,
    )
    before = executions(workdir)
    output = driver(shared_python, project, workdir, "--limit", "5").stdout
    assert executions(workdir) == before
    assert "40 results of a killed run recovered" in output
    assert_lineage_consistent(workdir)


def test_version_bump_recomputes_and_nothing_else_does(shared_python, project, workdir):
    driver(shared_python, project, workdir, "--limit", "3")
    driver(shared_python, project, workdir, "--limit", "3", "--experiment", "renamed")
    assert sum(executions(workdir).values()) == 24, "a new experiment name must reuse results"
    predict_file = project / "src" / MODULE / "predict.py"
    source = predict_file.read_text()
    predict_file.write_text(source.replace('PREDICT_VERSION = "1"', 'PREDICT_VERSION = "2"'))
    git(project, "commit", "-qam", "predict 2")
    try:
        driver(shared_python, project, workdir, "--limit", "3")
    finally:
        predict_file.write_text(source)
        git(project, "commit", "-qam", "predict 1 again")
    assert sum(executions(workdir).values()) == 48
    versions = query(
        workdir,
        "SELECT predict_version, COUNT(*) FROM predictions WHERE cache = '' GROUP BY 1",
    )
    assert versions == [("1", 24), ("2", 24)]


def test_errors_are_retried_unless_cached(shared_python, project, workdir):
    driver(shared_python, project, workdir, "--limit", "4", fail_ids=("s001",))
    assert sum(executions(workdir).values()) == 32
    driver(shared_python, project, workdir, "--limit", "4")  # the transient failure is gone
    assert sum(executions(workdir).values()) == 40  # only the 8 failed ones ran again
    fixed = query(
        workdir,
        "SELECT COUNT(*) FROM predictions WHERE input_id = 's001' AND error = ''",
    )
    assert fixed == [(8,)]


def test_cache_errors_option_caches_failures(shared_python, project, workdir):
    driver(
        shared_python,
        project,
        workdir,
        "--limit",
        "2",
        "--cache-errors",
        fail_ids=("s000",),
    )
    driver(
        shared_python,
        project,
        workdir,
        "--limit",
        "2",
        "--cache-errors",
        fail_ids=("s000",),
    )
    assert sum(executions(workdir).values()) == 16
    reused_errors = query(
        workdir, "SELECT COUNT(*) FROM predictions WHERE reused = 1 AND error != ''"
    )
    assert reused_errors == [(8,)]


def test_cache_analysis_script_matches_the_seed(shared_python, project, workdir):
    driver(shared_python, project, workdir, "--limit", "5")
    script = [
        str(shared_python),
        "scripts/analyze_cache_hits.py",
        str(workdir / "bench.db"),
        "predictions",
    ]
    first = run(script, cwd=project).stdout
    assert "Total executions: 40" in first
    assert "Cache hits: 0 (0.0%)" in first and "first run" in first
    assert "Cache misses: 40 (100.0%)" in first
    assert "Unique parameter combinations: 8" in first
    driver(shared_python, project, workdir, "--limit", "5")
    second = run([*script, "--engine", "sqlite"], cwd=project).stdout
    assert "Cache hits: 40 (50.0%)" in second and "Total executions: 80" in second


def test_cache_analysis_reads_a_plain_xetrack_db(shared_python, project, tmp_path):
    code = """
import sys
from dataclasses import dataclass
from xetrack import Tracker

@dataclass(frozen=True)
class Params:
    model: str

def work(x: int, params: Params) -> dict:
    return {"y": x * 2}

tracker = Tracker(sys.argv[1], table="predictions", cache=sys.argv[2])
for _ in range(2):
    for x in range(3):
        tracker.track(work, args=[x, Params("a")])
"""
    db = tmp_path / "plain.db"
    run([str(shared_python), "-c", code, str(db), str(tmp_path / "cache")], cwd=tmp_path)
    script = [
        str(shared_python),
        "scripts/analyze_cache_hits.py",
        str(db),
        "predictions",
    ]
    output = run(script, cwd=project).stdout
    assert "Total executions: 6" in output
    assert "Cache hits: 3 (50.0%)" in output
    assert "NULL params" in output  # plain xetrack logs hits without params columns
    validate = [
        str(shared_python),
        "scripts/validate_benchmark.py",
        str(db),
        "predictions",
    ]
    done = run(validate, cwd=project, check=False)
    assert done.returncode in (0, 1) and "Traceback" not in done.stderr
    assert "null_params" in done.stdout and "metrics" in done.stdout


def test_cache_housekeeping(shared_python, project, workdir):
    driver(shared_python, project, workdir, "--limit", "3")
    cli = [str(shared_python), "-m", MODULE]
    listing = run([*cli, "cache-ls", str(workdir / "bench.db")], cwd=project).stdout
    assert "24 entries" in listing
    config_id = query(workdir, "SELECT config_id FROM predictions LIMIT 1")[0][0]
    cleared = run(
        [*cli, "cache-clear", str(workdir / "bench.db"), "--config", config_id],
        cwd=project,
    )
    assert "removed 3 entries" in cleared.stdout
    xt = Path(shared_python).parent / "xt"
    lineage = run([str(xt), "cache", "ls", str(workdir / ".cache" / "bench")], cwd=project).stdout
    assert lineage.count(query(workdir, "SELECT track_id FROM predictions LIMIT 1")[0][0]) == 21
    run([*cli, "cache-clear", str(workdir / "bench.db")], cwd=project)
    assert not (workdir / ".cache" / "bench").exists()
