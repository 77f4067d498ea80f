"""Engines and parallelism on baked projects: DuckDB offline, 4 workers, SIGKILL then resume.

Executions are counted for real: a driver script wraps the baked ``predict`` (with
``functools.wraps``, so the computation identity is unchanged) and appends one line per finished
execution to a log, from whichever thread or worker process ran it.

Every command of an engine=duckdb project runs with a fresh HOME (so DuckDB's extension
directory starts empty) and with proxies that point at a closed port: the sqlite extension must
come from the installed package's local file, and the tests check that it did.
"""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from cookiecutter.exceptions import FailedHookException

from helpers import bake, git, install_into, pip_install, run
from results import executions, query

TOTAL_CONFIGS = 8  # the classification grid
DRIVER = """
import functools, os, sys, time
import {module}.predict as predict_module
{patch}
from {module}.cli import app

original = predict_module.predict
delay = float(os.environ.get("PREDICT_DELAY", "0"))

@functools.wraps(original)
def counted(item, params):
    time.sleep(delay)
    result = original(item, params)
    with open(os.environ["EXECUTION_LOG"], "a") as log:
        log.write(f"{{item.input_id}}|{{params.config_id}}\\n")
    return result

predict_module.predict = counted
app(sys.argv[1:], prog_name="driver")
"""
# A driver whose project cannot find the extension package: the run must stop before predict.
MISSING_EXTENSION = (
    "import {module}.harness.duckdb_setup as setup; "
    "setup.PACKAGE = 'duckdb-extension-not-installed'"
)
NO_NETWORK = {
    name: "http://127.0.0.1:9"  # the discard port: nothing listens, every download fails
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")
}


@pytest.fixture(scope="module")
def projects(tmp_path_factory, shared_python) -> dict[str, Path]:
    """One bake per engine, installed into the shared environment (the duckdb one with its
    dependencies: the pinned duckdb and the package that ships its sqlite extension)."""
    root = tmp_path_factory.mktemp("engines")
    found = {}
    for engine in ("sqlite", "duckdb"):
        project = bake(root / engine, project_name=f"Engines {engine}", engine=engine)
        if engine == "duckdb":
            pip_install(shared_python, "-e", str(project))
        else:
            install_into(shared_python, project)
        module = f"engines_{engine}"
        (project / "driver.py").write_text(DRIVER.format(module=module, patch=""))
        patch = MISSING_EXTENSION.format(module=module)
        (project / "driver_missing.py").write_text(DRIVER.format(module=module, patch=patch))
        # the bake is a git repository: experiment runs refuse uncommitted files, as for any user
        git(project, "add", "driver.py", "driver_missing.py")
        git(project, "commit", "-qm", "drivers")
        found[engine] = project
    return found


@pytest.fixture
def home(tmp_path) -> Path:
    """An empty home directory: no DuckDB extension installed yet."""
    path = tmp_path / "home"
    path.mkdir()
    return path


def env_for(home: Path, workdir: Path, delay: float = 0.0) -> dict:
    return {
        **NO_NETWORK,
        "HOME": str(home),
        "EXECUTION_LOG": str(workdir / "executions.log"),
        "PREDICT_DELAY": str(delay),
    }


def command(python: Path, project: Path, workdir: Path, *args: str, driver="driver.py"):
    cmd = [str(python), str(project / driver), "run", "--no-progress"]
    return [*cmd, "--db", str(workdir / "bench.db"), *args]


def extension_source(python: Path, home: Path) -> str | None:
    """Where DuckDB's installed sqlite extension in ``home`` came from (None: not installed)."""
    code = (
        'import duckdb, json; print(json.dumps(duckdb.connect().execute("SELECT installed_from '
        "FROM duckdb_extensions() WHERE extension_name = 'sqlite_scanner' AND installed\")"
        ".fetchall()))"
    )
    rows = run([str(python), "-c", code], cwd=home, env={**NO_NETWORK, "HOME": str(home)})
    found = json.loads(rows.stdout)
    return found[0][0] if found else None


@pytest.mark.e2e
def test_duckdb_engine_runs_reruns_validates_and_reports_offline(
    shared_python, projects, home, tmp_path
):
    project = projects["duckdb"]
    assert extension_source(shared_python, home) is None, "the extension must start uninstalled"
    env = env_for(home, tmp_path)
    first = run(command(shared_python, project, tmp_path, "--limit", "10"), project, env).stdout
    assert "80 computed, 0 reused" in first
    source = extension_source(shared_python, home)
    assert source and source.endswith("sqlite_scanner.duckdb_extension"), source
    assert Path(source).is_file() and "duckdb_extension_sqlite_scanner" in source, (
        f"the extension was not installed from the package's local file: {source}"
    )
    second = run(command(shared_python, project, tmp_path, "--limit", "10"), project, env).stdout
    assert "0 computed, 80 reused" in second
    assert sum(executions(tmp_path).values()) == 80 and set(executions(tmp_path).values()) == {1}

    db = str(tmp_path / "bench.db")
    module = [str(shared_python), "-m", "engines_duckdb"]
    validate = run([*module, "validate", db, "--json"], project, env)  # engine: duckdb default
    assert json.loads(validate.stdout)["passed"] is True
    assert "Cache hits: 80 (50.0%)" in run([*module, "cache", db], project, env).stdout
    run([*module, "report", db, "--out", str(tmp_path / "reports")], project, env)
    assert (tmp_path / "reports" / "baseline" / "README.md").is_file()

    # Both engines read the db through xetrack's Reader, and DuckDB SQL works over either.
    code = (
        "import sys, duckdb; from xetrack import Reader\n"
        "for engine in ('sqlite', 'duckdb'):\n"
        "    predictions = Reader(sys.argv[1], engine=engine, table='predictions').to_df()\n"
        "    metrics = Reader(sys.argv[1], engine=engine, table='metrics').to_df()\n"
        "    n = duckdb.sql('SELECT count(DISTINCT cache_key) FROM predictions').fetchone()[0]\n"
        "    print(engine, len(predictions), len(metrics), n)\n"
    )
    read = run([str(shared_python), "-c", code, db], project, env).stdout.split("\n")
    assert read[:2] == ["sqlite 160 16 80", "duckdb 160 16 80"]
    xt = str(Path(shared_python).parent / "xt")
    sql = "SELECT count(*) AS n FROM db.predictions WHERE cache = ''"
    assert "80" in run([xt, "sql", db, sql, "--engine", "duckdb"], project, env).stdout
    head = run([xt, "head", db, "--table=metrics", "--engine", "duckdb"], project, env).stdout
    assert "accuracy" in head
    tail = run([xt, "tail", db, "--table=predictions", "--n=3"], project, env).stdout
    assert "cache_key" in tail


@pytest.mark.e2e
def test_a_missing_extension_stops_the_run_before_any_datapoint(
    shared_python, projects, home, tmp_path
):
    project = projects["duckdb"]
    cmd = command(shared_python, project, tmp_path, "--limit", "3", driver="driver_missing.py")
    done = run(cmd, project, env_for(home, tmp_path), check=False)
    assert done.returncode == 2, done
    message = done.stderr
    assert "DuckDB engine cannot be used" in message, message
    assert "duckdb-extension-not-installed" in message and "is not installed" in message
    assert "make install" in message and "--engine sqlite" in message  # how to fix it
    assert "Traceback" not in message
    assert not executions(tmp_path), "predict ran although the engine was not usable"
    assert not (tmp_path / "bench.db").exists()


@pytest.mark.e2e
def test_a_sqlite_bake_refuses_the_duckdb_engine_with_the_reason(
    shared_python, projects, home, tmp_path
):
    project = projects["sqlite"]
    run(command(shared_python, project, tmp_path, "--limit", "2"), project, env_for(home, tmp_path))
    validate = [str(shared_python), "-m", "engines_sqlite", "validate", str(tmp_path / "bench.db")]
    done = run([*validate, "--engine", "duckdb"], project, env_for(home, tmp_path), check=False)
    assert done.returncode == 2
    assert "baked with engine=sqlite" in done.stderr and "--engine sqlite" in done.stderr


COMBINATIONS = [
    pytest.param(engine, parallelism, id=f"{engine}-{parallelism}")
    for engine in ("sqlite", "duckdb")
    for parallelism in ("threads", "processes")
]


@pytest.mark.e2e
@pytest.mark.parametrize(("engine", "parallelism"), COMBINATIONS)
def test_four_workers_on_a_new_db_lose_and_duplicate_nothing(
    shared_python, projects, home, tmp_path, engine, parallelism
):
    project, items = projects[engine], 40
    total = items * TOTAL_CONFIGS
    args = ["--limit", str(items), "--parallelism", parallelism, "--workers", "4"]
    env = env_for(home, tmp_path, delay=0.002)
    assert not (tmp_path / "bench.db").exists()
    output = run(command(shared_python, project, tmp_path, *args), project, env).stdout
    assert f"{total} computed, 0 reused from cache, 0 failed" in output
    assert query(
        tmp_path,
        "SELECT COUNT(*), COUNT(DISTINCT cache_key), SUM(error != ''), COUNT(DISTINCT track_id) "
        "FROM predictions",
    ) == [(total, total, 0, 1)]
    assert query(tmp_path, "SELECT COUNT(*) FROM metrics") == [(TOTAL_CONFIGS,)]
    done = executions(tmp_path)
    assert len(done) == total and set(done.values()) == {1}
    module = f"engines_{engine}"
    validate = [str(shared_python), "-m", module, "validate", str(tmp_path / "bench.db"), "--json"]
    assert json.loads(run(validate, project, env).stdout)["passed"] is True


def kill_group_after(process: subprocess.Popen, workdir: Path, finished: int) -> bool:
    """SIGKILL the run and its worker processes once ``finished`` executions are logged."""
    deadline = time.monotonic() + 120
    while sum(executions(workdir).values()) < finished and time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)  # the whole group: workers die with the run
    process.wait()
    return True


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("engine", "parallelism"), [("duckdb", "processes"), ("sqlite", "threads")]
)
def test_sigkill_during_a_parallel_run_then_resume_is_exactly_once(
    shared_python, projects, home, tmp_path, engine, parallelism
):
    project, items = projects[engine], 30
    total = items * TOTAL_CONFIGS
    args = ["--limit", str(items), "--parallelism", parallelism, "--workers", "4"]
    cmd = command(shared_python, project, tmp_path, *args)
    killed = subprocess.Popen(
        cmd,
        cwd=project,
        env={**os.environ, **env_for(home, tmp_path, delay=0.02)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    assert kill_group_after(killed, tmp_path, total // 3), "the run ended before the kill"
    before = executions(tmp_path)
    assert 0 < sum(before.values()) < total
    committed = {
        f"{input_id}|{config_id}"
        for input_id, config_id in query(
            tmp_path, "SELECT input_id, config_id FROM predictions WHERE cache = ''"
        )
    }
    assert committed, "the killed run committed nothing: kill later"

    run(cmd, project, env_for(home, tmp_path))
    done = executions(tmp_path)
    assert len(done) == total, "some datapoint was never executed"
    assert all(done[key] == 1 for key in committed), "a committed datapoint was executed again"
    # Only results that were computed but not committed at the kill run again: at most what
    # the 4 workers and their submission window held, plus one unflushed batch.
    assert sum(done.values()) - total <= 4 * 4 + 10
    computed = query(
        tmp_path, "SELECT cache_key, COUNT(*) FROM predictions WHERE cache = '' GROUP BY 1"
    )
    assert len(computed) == total and {n for _, n in computed} == {1}

    again = run(cmd, project, env_for(home, tmp_path)).stdout
    assert f"0 computed, {total} reused" in again
    assert executions(tmp_path) == done


def test_every_engine_and_parallelism_bakes_and_a_refused_answer_leaves_no_directory(tmp_path):
    """No engine x parallelism combination is refused: workers never touch the db (one writer),
    so DuckDB with processes is safe by design. Refusals of other answers: test_hooks.py."""
    for engine in ("sqlite", "duckdb"):
        for parallelism in ("none", "threads", "processes"):
            out = tmp_path / f"{engine}-{parallelism}"
            project = bake(out, engine=engine, parallelism=parallelism)
            has_setup = (project / "src" / "my_benchmark" / "harness" / "duckdb_setup.py").exists()
            assert has_setup == (engine == "duckdb")
    refused = tmp_path / "refused"
    with pytest.raises((ValueError, FailedHookException)):
        bake(refused, engine="postgres")
    assert not refused.exists() or not any(refused.iterdir())
