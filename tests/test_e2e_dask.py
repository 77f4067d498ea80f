"""parallelism=dask on a baked project: a LocalCluster of 2 worker processes, workers killed,
the driver killed, and every datapoint recorded exactly once.

Dask starts its workers with ``spawn``: they import the project afresh, so a wrapper installed
in the driver would not reach them. Executions are counted where they happen instead: a Dask
worker preload (``DASK_DISTRIBUTED__WORKER__PRELOAD``, Dask's own hook for setting workers up)
wraps the baked ``predict`` with ``functools.wraps`` (the computation identity is unchanged)
and appends one line per finished execution to a log; it also records each worker's PID, so a
test can kill a worker, and can tell whether a run started a cluster at all.
"""

import contextlib
import ipaddress
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from helpers import bake, git, pip_install, run
from results import executions, query

pytestmark = pytest.mark.e2e
MODULE = "dask_e2e"
CONFIGS = 8  # the classification grid
WORKERS = 2
IN_FLIGHT = 4 * WORKERS  # cluster.WINDOW_PER_WORKER tasks per worker thread
PRELOAD = """
import functools, os, time
import {module}.predict as predict_module

# Dask may run a preload more than once in a worker: wrap predict (and note the PID) once.
if not hasattr(predict_module, "uncounted_predict"):
    predict_module.uncounted_predict = predict_module.predict
    delay = float(os.environ.get("PREDICT_DELAY", "0"))
    crash = set(filter(None, os.environ.get("PREDICT_CRASH_IDS", "").split(",")))

    @functools.wraps(predict_module.uncounted_predict)
    def counted(item, params):
        if f"{{item.input_id}}|{{params.config_id}}" in crash:
            os._exit(1)  # takes its worker process down, like a segfault or the OOM killer
        time.sleep(delay)
        result = predict_module.uncounted_predict(item, params)
        with open(os.environ["EXECUTION_LOG"], "a") as log:
            log.write(f"{{item.input_id}}|{{params.config_id}}\\n")
        return result

    predict_module.predict = counted
    with open(os.environ["WORKER_PIDS"], "a") as pids:
        pids.write(f"{{os.getpid()}}\\n")
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory, shared_python) -> Path:
    """A dask bake installed with its dependencies (dask[distributed]) in the shared env."""
    project = bake(tmp_path_factory.mktemp("dask"), project_name="Dask E2E", parallelism="dask")
    pip_install(shared_python, "-e", str(project))
    (project / "count_preload.py").write_text(PRELOAD.format(module=MODULE))
    # the bake is a git repository: experiment runs refuse uncommitted files, as for any user
    git(project, "add", "count_preload.py")
    git(project, "commit", "-qm", "preload")
    return project


def command(python: Path, workdir: Path, items: int) -> list[str]:
    cmd = [str(python), "-m", MODULE, "run", "--no-progress", "--limit", str(items)]
    return [*cmd, "--db", str(workdir / "bench.db"), "--workers", str(WORKERS)]


def env_for(project: Path, workdir: Path, delay: float = 0.0, crash: str = "") -> dict:
    return {
        "EXECUTION_LOG": str(workdir / "executions.log"),
        "WORKER_PIDS": str(workdir / "workers.pids"),
        "PREDICT_DELAY": str(delay),
        "PREDICT_CRASH_IDS": crash,
        "DASK_DISTRIBUTED__WORKER__PRELOAD": repr([str(project / "count_preload.py")]),
        "DASK_SCHEDULER_ADDRESS": "",  # whatever the shell says: a LocalCluster
    }


def start(python: Path, project: Path, workdir: Path, items: int, delay: float):
    return subprocess.Popen(
        command(python, workdir, items),
        cwd=project,
        env={**os.environ, **env_for(project, workdir, delay)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own group: cleaned up whatever happens
    )


def stop_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate()


def worker_pids(workdir: Path) -> list[int]:
    path = workdir / "workers.pids"
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped) is not alive
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return True


def wait_for(condition, process: subprocess.Popen, timeout: float = 120) -> bool:
    """Poll ``condition`` while ``process`` runs; False if it ended or time ran out first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.02)
    return False


LINUX = Path("/proc/net/tcp").exists()


def listening_hosts(pids) -> set[str]:
    """The IPv4/IPv6 addresses that ``pids`` listen on (Linux: from /proc)."""
    sockets = set()
    for pid in pids:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:  # a process that just ended
            continue
        for fd in fds:
            with contextlib.suppress(OSError):  # a file closed meanwhile
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    sockets.add(target[len("socket:[") : -1])
    hosts = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in sockets:  # 0A: LISTEN
                hexa = fields[1].split(":")[0]
                raw = bytes.fromhex(hexa)
                # /proc prints each 32-bit word in host (little-endian) order
                raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                hosts.add(str(ipaddress.ip_address(raw)))
    return hosts


def assert_recorded_once(workdir: Path, total: int) -> None:
    """Every datapoint has exactly one computed row, and no row failed."""
    assert query(
        workdir,
        "SELECT COUNT(*), COUNT(DISTINCT cache_key), SUM(error != '') FROM predictions "
        "WHERE cache = ''",
    ) == [(total, total, 0)]


def test_the_projects_own_tests_pass(shared_python, project):
    """Its tests run on its default parallelism (dask): LocalClusters included."""
    done = run([str(shared_python), "-m", "pytest", "-q", "-p", "no:cacheprovider"], project)
    assert " passed" in done.stdout and "failed" not in done.stdout, done.stdout


def test_full_run_then_a_rerun_that_starts_no_cluster(shared_python, project, tmp_path):
    items = 10
    total = items * CONFIGS
    env = env_for(project, tmp_path)
    first = run(command(shared_python, tmp_path, items), project, env)
    assert f"{total} computed, 0 reused from cache, 0 failed" in first.stdout
    assert "Dask: tcp://127.0.0.1:" in first.stderr, first.stderr  # bound to this machine only
    assert f"{WORKERS} worker threads, dashboard http://127.0.0.1:" in first.stderr
    assert_recorded_once(tmp_path, total)
    assert query(tmp_path, "SELECT COUNT(*) FROM predictions") == [(total,)]
    done = executions(tmp_path)
    assert len(done) == total and set(done.values()) == {1}
    assert len(worker_pids(tmp_path)) == WORKERS

    again = run(command(shared_python, tmp_path, items), project, env)
    assert f"0 computed, {total} reused" in again.stdout
    assert executions(tmp_path) == done, "the rerun executed datapoints again"
    assert len(worker_pids(tmp_path)) == WORKERS, "the rerun started workers for nothing"
    assert "Dask:" not in again.stderr


def test_a_worker_killed_mid_run_the_run_completes_and_records_each_datapoint_once(
    shared_python, project, tmp_path
):
    items = 20
    total = items * CONFIGS
    process = start(shared_python, project, tmp_path, items, delay=0.05)
    try:
        started = wait_for(
            lambda: (
                sum(executions(tmp_path).values()) >= 20 and len(worker_pids(tmp_path)) == WORKERS
            ),
            process,
        )
        assert started, "the run ended (or stalled) before a worker could be killed"
        victim = worker_pids(tmp_path)[0]
        if LINUX:  # scheduler, nannies, workers, dashboards: all on 127.0.0.1
            assert listening_hosts([process.pid, *worker_pids(tmp_path)]) == {"127.0.0.1"}
        os.kill(victim, signal.SIGKILL)  # lost mid-task: each worker is always busy
        at_kill = sum(executions(tmp_path).values())
        assert at_kill < total, "the run had finished: kill earlier"
        output, errors = process.communicate(timeout=180)
    finally:
        stop_group(process)
    assert process.returncode == 0, errors
    assert not alive(victim)
    assert f"{total} computed, 0 reused from cache, 0 failed" in output, output + errors
    assert_recorded_once(tmp_path, total)
    done = executions(tmp_path)
    assert len(done) == total, "some datapoint was never executed"
    # Only what the killed worker was running may have executed twice.
    assert sum(done.values()) <= total + IN_FLIGHT, sum(done.values())


def test_driver_sigkill_then_resume_is_exactly_once(shared_python, project, tmp_path):
    items = 20
    total = items * CONFIGS
    process = start(shared_python, project, tmp_path, items, delay=0.03)
    try:
        assert wait_for(lambda: sum(executions(tmp_path).values()) >= total // 4, process), (
            "the run ended before the kill"
        )
        process.send_signal(signal.SIGKILL)  # the driver only: scheduler, client, writer
        process.wait()
        workers = worker_pids(tmp_path)
        assert workers
        # Its worker processes notice and exit on their own (no orphans computing for nobody).
        deadline = time.monotonic() + 60
        while any(map(alive, workers)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(map(alive, workers)), "worker processes outlived the killed driver"
    finally:
        stop_group(process)
    before = executions(tmp_path)
    assert 0 < sum(before.values()) < total
    committed = {
        f"{input_id}|{config_id}"
        for input_id, config_id in query(
            tmp_path, "SELECT input_id, config_id FROM predictions WHERE cache = ''"
        )
    }
    assert committed, "the killed run committed nothing: kill later"

    env = env_for(project, tmp_path, delay=0.03)
    resumed = run(command(shared_python, tmp_path, items), project, env).stdout
    assert f"{total - len(committed)} computed, {len(committed)} reused" in resumed
    done = executions(tmp_path)
    assert len(done) == total, "some datapoint was never executed"
    assert all(done[key] == 1 for key in committed), "a committed datapoint was executed again"
    # Executed but not committed at the kill, so executed again: at most the tasks in flight
    # plus the driver's unflushed batch (0.05 s of computation, here 2 rows).
    assert sum(done.values()) - total <= IN_FLIGHT + 2, sum(done.values())
    assert_recorded_once(tmp_path, total)

    again = run(command(shared_python, tmp_path, items), project, env).stdout
    assert f"0 computed, {total} reused" in again
    assert executions(tmp_path) == done


def test_a_datapoint_that_kills_its_workers_becomes_an_error_row(shared_python, project, tmp_path):
    items = 5
    total = items * CONFIGS
    code = f"from {MODULE}.params import grid; print(grid()[3].config_id)"
    poison = ("s002", run([str(shared_python), "-c", code], project).stdout.strip())
    env = {
        **env_for(project, tmp_path, crash="|".join(poison)),
        # The scheduler gives up on a task after the first worker it takes down (default: 3).
        "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0",
    }
    first = run(command(shared_python, tmp_path, items), project, env).stdout
    failed = {
        (input_id, config_id): (error_type, error)
        for input_id, config_id, error_type, error in query(
            tmp_path,
            "SELECT input_id, config_id, error_type, error FROM predictions WHERE error != ''",
        )
    }
    assert failed.get(poison, ("",))[0] == "KilledWorker", failed
    assert "Dask workers running this datapoint died" in failed[poison][1]
    # Tasks waiting on the crashed worker may fail with it (allowed-failures 0), nothing else.
    assert {error_type for error_type, _ in failed.values()} == {"KilledWorker"}, failed
    assert f"{total} computed, 0 reused from cache, {len(failed)} failed" in first
    assert query(tmp_path, "SELECT COUNT(DISTINCT cache_key), COUNT(*) FROM predictions") == [
        (total, total)
    ]
    # Not cached: the next run computes exactly those again (here in-process: no cluster).
    retry = [*command(shared_python, tmp_path, items), "--parallelism", "none"]
    again = run(retry, project, env_for(project, tmp_path)).stdout
    assert f"{len(failed)} computed, {total - len(failed)} reused from cache, 0 failed" in again


def test_a_running_cluster_by_address_computes_and_this_process_records(
    shared_python, project, tmp_path
):
    """A scheduler and a worker started by hand (on 127.0.0.1), as the README shows."""
    dask_cli, info = str(shared_python.parent / "dask"), tmp_path / "scheduler.json"
    env = {**os.environ, **env_for(project, tmp_path)}
    local = ["--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0"]
    processes = [
        subprocess.Popen(
            [dask_cli, "scheduler", *local, "--port", "0", "--scheduler-file", str(info)],
            cwd=project,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    ]
    try:
        assert wait_for(info.exists, processes[0], timeout=60), "the scheduler did not start"
        address = json.loads(info.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        worker = [dask_cli, "worker", "--scheduler-file", str(info), *local]
        processes.append(
            subprocess.Popen(
                [*worker, "--nworkers", "1", "--nthreads", "2"],
                cwd=project,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
        assert wait_for(lambda: worker_pids(tmp_path), processes[1], timeout=60)
        # The address from Dask's own setting, then from --scheduler.
        by_env = {**env_for(project, tmp_path), "DASK_SCHEDULER_ADDRESS": address}
        first = run(command(shared_python, tmp_path, 3), project, by_env)
        assert f"{3 * CONFIGS} computed, 0 reused from cache, 0 failed" in first.stdout
        assert f"Dask: {address}" in first.stderr  # (its worker may still be registering)
        by_option = [*command(shared_python, tmp_path, 5), "--scheduler", address]
        second = run(by_option, project, env_for(project, tmp_path))
        assert f"{2 * CONFIGS} computed, {3 * CONFIGS} reused from cache, 0 failed" in (
            second.stdout
        )
        assert f"Dask: {address}, 2 worker threads, dashboard http://127.0.0.1:" in second.stderr
    finally:
        for process in processes:
            stop_group(process)
    done = executions(tmp_path)
    assert len(done) == 5 * CONFIGS and set(done.values()) == {1}
    assert len(worker_pids(tmp_path)) == 1, "not computed (only) by the worker started by hand"
    assert_recorded_once(tmp_path, 5 * CONFIGS)
