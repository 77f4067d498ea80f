"""A small end-to-end run: rows, cache hits in a new process, errors as data."""

import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from dataclasses import replace

import diskcache
import pytest

from {{ cookiecutter.module_name }}.harness import cache, cache_restore, kind, runner
from {{ cookiecutter.module_name }}.harness.cache_restore import result_of
from {{ cookiecutter.module_name }}.harness.errors import OperationalError, ParallelismUnavailable
from {{ cookiecutter.module_name }}.harness.tracking import is_result_column, run_metadata
from {{ cookiecutter.module_name }}.harness.validation import exit_code, validate


def options(db):
    metadata = run_metadata("test", "experiment", "1", ("", False))
    return runner.RunOptions(db=db, metadata=metadata, parallelism="none", progress=False)


def rows(db, sql):
    with sqlite3.connect(db) as connection:
        return connection.execute(sql).fetchall()


def test_run_then_rerun_reuses_everything(tmp_path, items, configurations):
    db = tmp_path / "bench.db"
    first = runner.run(items, configurations, options(db))
    assert (first.computed, first.reused) == (len(items) * len(configurations), 0)
    second = runner.run(items, configurations, options(db))
    assert (second.computed, second.reused) == (0, len(items) * len(configurations))
    lineage = rows(
        db, f"SELECT DISTINCT cache FROM predictions WHERE track_id = '{second.track_id}'"
    )
    assert lineage == [(first.track_id,)]
    columns = [row[1] for row in rows(db, "PRAGMA table_info(predictions)")]
    params = [c for c in columns if c.startswith("params_")]
    assert params, "no params_* columns"
    any_null = " OR ".join(f"{c} IS NULL" for c in params)
    assert rows(db, f"SELECT COUNT(*) FROM predictions WHERE {any_null}") == [(0,)]
    assert exit_code(validate(db)) == 0


def test_cache_hits_in_a_new_process(tmp_path):
    db = tmp_path / "bench.db"
    command = [sys.executable, "-m", "{{ cookiecutter.module_name }}", "run", "--dev"]
    command += ["--db", str(db), "--limit", "5", "--no-progress"]
    for seed in ("1", "2"):  # a different hash seed: str hashes differ between the two
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run(command, check=True, capture_output=True, env=env)
    runs = rows(
        db,
        "SELECT track_id, SUM(cache = ''), SUM(cache != '') FROM predictions "
        "GROUP BY track_id ORDER BY MIN(timestamp)",
    )
    assert len(runs) == 2
    assert runs[0][1] > 0 and runs[0][2] == 0
    assert runs[1][1] == 0 and runs[1][2] == runs[0][1]


def test_an_unknown_parallelism_stops_the_run_before_anything_is_written(
    tmp_path, items, configurations
):
    db = tmp_path / "bench.db"
    with pytest.raises(ParallelismUnavailable) as error:
        runner.run(items, configurations, replace(options(db), parallelism="gpu"))
    assert f"use {runner.CHOICES_TEXT}" in str(error.value)
    assert not db.exists() and not runner.cache_dir_for(db).exists()


@pytest.mark.skipif(runner.DASK, reason="this project was baked with parallelism=dask")
def test_dask_options_in_a_project_without_dask_exit_2_with_the_fix(tmp_path):
    db = tmp_path / "bench.db"
    command = [sys.executable, "-m", "{{ cookiecutter.module_name }}", "run", "--dev"]
    command += ["--db", str(db), "--no-progress"]
    for option in (["--parallelism", "dask"], ["--scheduler", "tcp://10.0.0.5:8786"]):
        done = subprocess.run([*command, *option], capture_output=True, text=True)
        assert done.returncode == 2, done.stderr
        assert "baked without dask" in done.stderr and "parallelism=dask" in done.stderr
        assert "Traceback" not in done.stderr
    assert not db.exists() and not runner.cache_dir_for(db).exists()


def test_the_metrics_are_summarize_over_the_rows_of_the_run(tmp_path, items, configurations):
    """Each configuration's metrics row is summarize over its rows of that run as the db holds
    them (the runner keeps no result in memory): on a first run and on a rerun from the cache."""
    db = tmp_path / "bench.db"
    for _ in ("computed", "reused"):
        summary = runner.run(items, configurations, options(db))
        with sqlite3.connect(db) as connection:
            connection.row_factory = sqlite3.Row
            run = (summary.track_id,)
            predictions = connection.execute(
                "SELECT * FROM predictions WHERE track_id = ? ORDER BY timestamp", run
            )
            predictions = [dict(row) for row in predictions]
            metrics = connection.execute("SELECT * FROM metrics WHERE track_id = ?", run)
            metrics = {row["config_id"]: dict(row) for row in metrics}
        assert sorted(metrics) == sorted(p.config_id for p in configurations)
        for config_id, row in metrics.items():
            results = [
                {k: v for k, v in p.items() if is_result_column(k) and v is not None}
                for p in predictions
                if p["config_id"] == config_id
            ]
            assert row["n"] == len(results) == len(items)
            for name, value in kind.summarize(results).items():
                stored = row[name]
                if value is None or value != value:  # None and NaN are stored as NULL
                    assert stored is None or stored != stored, name
                else:
                    assert stored == value, (config_id, name, stored, value)


def test_journal_wal_is_an_option_and_the_default_is_the_rollback_journal(
    tmp_path, items, configurations
):
    def closed(db, sql):  # WAL -> delete needs every other connection closed, not collected
        with closing(sqlite3.connect(db)) as connection:
            return connection.execute(sql).fetchall()

    default, wal = tmp_path / "default.db", tmp_path / "wal.db"
    runner.run(items[:2], configurations, options(default))
    runner.run(items[:2], configurations, replace(options(wal), journal="wal"))
    assert closed(default, "PRAGMA journal_mode") == [("delete",)]
    assert closed(wal, "PRAGMA journal_mode") == [("wal",)]
    n = 2 * len(configurations)
    for db in (default, wal):
        counts = "SELECT COUNT(*), COUNT(DISTINCT cache_key), SUM(cache = '') FROM predictions"
        assert closed(db, counts) == [(n, n, n)]
        assert closed(db, "SELECT SUM(n) FROM metrics") == [(n,)]
    back = runner.run(items[:2], configurations, replace(options(wal), journal="delete"))
    assert back.reused == n and closed(wal, "PRAGMA journal_mode") == [("delete",)]
    assert exit_code(validate(default)) == 0 and exit_code(validate(wal)) == 0
    with pytest.raises(OperationalError, match="journal 'memory'"):
        runner.run(items[:2], configurations, replace(options(wal), journal="memory"))


def test_the_cache_keeps_statement_journals_in_memory_and_stays_a_diskcache(
    tmp_path, items, configurations
):
    # A temp-file statement journal cost ~8 pwrite calls per cache entry (benchmarks/README.md).
    db = tmp_path / "bench.db"
    first = runner.run(items, configurations, options(db))
    store = runner.open_cache(runner.cache_dir_for(db))
    try:
        assert store.store._sql("PRAGMA temp_store").fetchone() == (2,)
    finally:
        store.close()
    # opened as `xt cache ls` opens it: every computed datapoint, in xetrack's layout
    with closing(diskcache.Cache(str(runner.cache_dir_for(db)))) as plain:
        assert len(plain) == first.computed
        values = [plain[key] for key in plain.iterkeys()]
    assert {value["cache"] for value in values} == {first.track_id}


class Killed(BaseException):
    """The process dying at that point (a BaseException: nothing on the way catches it)."""


def test_a_run_killed_before_its_cache_write_is_healed_and_nothing_is_computed_again(
    tmp_path, items, configurations, monkeypatch
):
    """Cache entries are written after their rows are committed, at the end of the run
    (recorder.py; a load level's when the level is whole): a run killed in between leaves
    committed rows and no entries. The next run caches those rows (heal), computes none of
    them again, and leaves the cache whole: every computed row's result, as the db holds it."""
    db = tmp_path / "bench.db"

    def killed(*args, **kwargs):
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(cache.ResultCache, "put_many", killed)
        with pytest.raises(Killed):
            runner.run(items, configurations, options(db))
    assert_the_next_run_heals(db, items, configurations)


def test_a_run_killed_midway_through_its_cache_write_is_healed(
    tmp_path, items, configurations, monkeypatch
):
    """Killed after some of its cache transactions: the next run caches the rest only."""
    db = tmp_path / "bench.db"
    written = []
    put_many = cache.ResultCache.put_many

    def killed_the_second_time(store, entries, replace=True):
        written.append(len(entries))
        if len(written) >= 2:  # dead: nothing more is written (a `finally` may try again)
            raise Killed
        return put_many(store, entries, replace)

    monkeypatch.setattr(cache_restore, "WRITE_CHUNK", 5)  # entries per cache transaction
    with monkeypatch.context() as patch:
        patch.setattr(cache.ResultCache, "put_many", killed_the_second_time)
        with pytest.raises(Killed):
            runner.run(items, configurations, options(db))
    assert_the_next_run_heals(db, items, configurations, cached=written[0])


def assert_the_next_run_heals(db, items, configurations, cached: int = 0) -> None:
    directory, total = runner.cache_dir_for(db), len(items) * len(configurations)
    committed = rows(db, "SELECT DISTINCT track_id, COUNT(*) FROM predictions WHERE cache = ''")
    ((killed_run, n_committed),) = committed
    assert n_committed > cached
    assert (directory / cache.IN_PROGRESS).read_text() == killed_run
    with closing(diskcache.Cache(str(directory))) as plain:
        assert len(plain) == cached

    rerun = runner.run(items, configurations, options(db))
    assert rerun.healed == n_committed - cached
    assert (rerun.computed, rerun.reused) == (total - n_committed, n_committed)
    assert not (directory / cache.IN_PROGRESS).exists()
    with sqlite3.connect(db) as connection:
        connection.row_factory = sqlite3.Row
        computed = [dict(row) for row in connection.execute(
            "SELECT * FROM predictions WHERE cache = ''"
        )]  # fmt: skip
    assert len(computed) == len({row["cache_key"] for row in computed}) == total
    with closing(diskcache.Cache(str(directory))) as plain:
        assert len(plain) == total
        for row in computed:
            expected = {"result": result_of(row), "cache": row["track_id"]}
            assert plain[row["cache_key"]] == expected
    assert exit_code(validate(db)) == 0
