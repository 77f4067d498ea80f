"""Damaged or awkward inputs: one clear error (what, which file, the fix), never a wrong row."""

import dataclasses
import functools
import math
import shutil
import sqlite3
import subprocess

import diskcache
import pytest
from filelock import FileLock

from {{ cookiecutter.module_name }}.cli import app
from {{ cookiecutter.module_name }}.harness import cache, kind, levels, runner
from {{ cookiecutter.module_name }}.harness.dbfile import require_writable
from {{ cookiecutter.module_name }}.harness.errors import DataError, OperationalError, db_error
from {{ cookiecutter.module_name }}.harness.identity import Configuration
from {{ cookiecutter.module_name }}.harness.jsonl import records
from {{ cookiecutter.module_name }}.harness.tracking import git_state, run_metadata


def options(db):
    metadata = run_metadata("test", "experiment", "1", ("", False))
    return runner.RunOptions(db=db, metadata=metadata, parallelism="none", progress=False)


def test_jsonl_skips_a_byte_order_mark(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"id": "a", "text": "x"}\n{"id": "b", "text": "y"}\n')
    assert list(records(path)) == [("a", {"id": "a", "text": "x"}), ("b", {"id": "b", "text": "y"})]


def test_jsonl_names_the_line_that_is_not_utf8(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_bytes(b'{"id": "a"}\n\n{"id": "b", "text": "caf\xe9"}\n')
    with pytest.raises(DataError, match=r"data.jsonl, line 3: not UTF-8 .*save the file as UTF-8"):
        list(records(path))


def test_jsonl_refuses_one_id_with_two_contents(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text('{"id": "a", "t": 1}\n{"id": "a", "t": 1}\n{"id": 1}\n{"id": "1"}\n')
    with pytest.raises(DataError, match=r"lines 3 and 4: input_id '1' has two different"):
        list(records(path))
    path.write_text('{"id": "a", "t": 1}\n{"id": "a", "t": 1}\n')  # same content: one datapoint
    assert [input_id for input_id, _ in records(path)] == ["a", "a"]


def test_jsonl_refuses_an_empty_dataset(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("\n  \n")
    with pytest.raises(DataError, match=r"empty.jsonl: no records"):
        list(records(path))


@dataclasses.dataclass(frozen=True, slots=True)
class Knob(Configuration):
    value: float
    values: tuple[float, ...] = ()


def test_params_refuse_nan_and_store_negative_zero_as_zero():
    with pytest.raises(ValueError, match="cannot hold NaN"):
        Knob(math.nan)
    with pytest.raises(ValueError, match="cannot hold NaN"):
        Knob(0.5, (1.0, math.nan))
    assert Knob(-0.0).config_id == Knob(0.0).config_id
    assert math.copysign(1, Knob(-0.0).value) == 1 and Knob(0.5, (-0.0,)).values == (0.0,)
    assert Knob(-0.5).config_id != Knob(0.5).config_id


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_files_runs_write_never_make_the_tree_dirty(tmp_path):
    def git(*args):
        identity = ["-c", "user.name=t", "-c", "user.email=t@example.invalid"]
        subprocess.run(["git", *identity, *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", "code.py")
    git("commit", "-qm", "code")
    for name in ("benchmark.db", "benchmark.db-journal", "sub/base.db-wal", "base.db-shm"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("x")
    for name in ("benchmark.db.lock", ".cache/benchmark/cache.db", "reports/r/README.md"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    (tmp_path / "results.sqlite").write_text("x")
    ignore = (str(tmp_path / "results.sqlite"), "/elsewhere/x.db")  # outside: left out
    assert git_state(tmp_path, ignore=ignore)[1] is False
    (tmp_path / "uv.lock").write_text("x")  # a dependency change is a change
    assert git_state(tmp_path, ignore=ignore)[1] is True
    (tmp_path / "uv.lock").unlink()
    (tmp_path / "code.py").write_text("x = 2\n")
    assert git_state(tmp_path, ignore=ignore)[1] is True


def test_db_errors_name_the_file_and_the_fix(tmp_path):
    full = db_error(tmp_path / "b.db", sqlite3.OperationalError("database or disk is full"))
    assert "b.db could not be written, the disk is full: free some space" in str(full)
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(b"not a database at all" * 100)
    with pytest.raises(OperationalError, match=r"damaged.db is damaged .*git checkout"):
        require_writable(damaged)
    with pytest.raises(OperationalError, match=r"its folder .* does not exist"):
        require_writable(tmp_path / "missing" / "b.db")


def test_a_lost_or_damaged_cache_is_rebuilt_from_the_db(tmp_path, items, configurations, capsys):
    db = tmp_path / "bench.db"
    total = len(items) * len(configurations)
    assert runner.run(items, configurations, options(db)).computed == total
    directory = runner.cache_dir_for(db)
    for damage in ("delete", "zero-length", "garbage"):
        if damage == "delete":
            shutil.rmtree(directory)
        else:
            (directory / "cache.db").write_bytes(b"" if damage == "zero-length" else b"x" * 999)
        summary = runner.run(items, configurations, options(db))
        assert (summary.computed, summary.reused) == (0, total), damage
        assert f"lacked {total} results that {db} holds" in capsys.readouterr().err
    cache.clear_all(directory)  # what `cache-clear` does: computed again, on purpose
    cache.record_cleared(directory)
    assert runner.run(items, configurations, options(db)).computed == total


def test_error_rows_are_restored_from_the_db_only_with_cache_errors(
    tmp_path, items, configurations, monkeypatch
):
    original = kind.predict_module.predict

    @functools.wraps(original)  # the same computation keys
    def failing(item, params):
        if item.input_id == items[0].input_id:
            raise RuntimeError("boom")
        return original(item, params)

    monkeypatch.setattr(kind.predict_module, "predict", failing)
    db = tmp_path / "bench.db"
    assert runner.run(items[:3], configurations, options(db)).failed == 2
    shutil.rmtree(runner.cache_dir_for(db))
    again = runner.run(items[:3], configurations, options(db))
    # Errors are retried; a load level's are measurements, restored with their level.
    retried = 0 if levels.LOAD else 2
    assert (again.computed, again.reused, again.failed) == (retried, 6 - retried, retried)
    shutil.rmtree(runner.cache_dir_for(db))
    keep_errors = dataclasses.replace(options(db), cache_errors=True)
    restored = runner.run(items[:3], configurations, keep_errors)
    assert (restored.computed, restored.reused) == (0, 6)


def test_a_symlink_to_the_db_shares_its_lock_and_cache(tmp_path, items, configurations):
    db, link = tmp_path / "bench.db", tmp_path / "link.db"
    runner.run(items[:2], configurations, options(db))
    link.symlink_to(db)
    assert runner.cache_dir_for(link) == runner.cache_dir_for(db)
    with FileLock(f"{db}.lock"), pytest.raises(OperationalError, match="another run is writing"):
        runner.run(items[:2], configurations, options(link))
    assert runner.run(items[:2], configurations, options(link)).computed == 0


def test_an_operational_error_is_one_line_and_exit_status_2(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("BENCH_DEBUG", raising=False)
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(b"not a database at all" * 100)
    with pytest.raises(SystemExit) as exited:
        app(["validate", str(damaged)], prog_name="bench")
    error = capsys.readouterr().err
    assert exited.value.code == 2 and error.count("\n") == 1
    assert error.startswith(f"error: results db {damaged} is damaged") and "Traceback" not in error
    monkeypatch.setenv("BENCH_DEBUG", "1")
    with pytest.raises(OperationalError):
        app(["validate", str(damaged)], prog_name="bench")


@pytest.mark.parametrize("limit", ["0", "-1"])
def test_a_limit_below_one_is_refused_before_anything_runs(tmp_path, capsys, limit):
    db = tmp_path / "bench.db"
    with pytest.raises(SystemExit) as exited:
        app(["run", "--limit", limit, "--db", str(db), "--no-progress"], prog_name="bench")
    assert exited.value.code == 2
    assert "--limit" in capsys.readouterr().err
    assert not db.exists()


def test_the_cache_reads_and_writes_many_entries_as_diskcache_does(tmp_path):
    """get_many/put_many: diskcache's own rows (xt cache ls/delete read them), replaced on a
    second put, large values in files, one configuration clearable on its own."""
    store = cache.ResultCache(tmp_path / "cache")
    entries = [
        (f"k{i}", {"result": {"x": i}, "cache": "run1"}, "cfg" if i % 2 else "other")
        for i in range(2000)
    ]
    large = {"result": {"raw_response": "x" * 100_000}, "cache": "run1"}
    store.put_many([*entries, ("large", large, "cfg")])
    store.put_many([("k1", {"result": {"x": -1}, "cache": "run2"}, "cfg")])  # replaces k1
    found = store.get_many(["k0", "k1", "large", "missing"])
    replaced = {"result": {"x": -1}, "cache": "run2"}
    assert found == {"k0": entries[0][1], "k1": replaced, "large": large}
    assert store.present(["k5", "large", "nope"]) == {"k5", "large"}
    assert len(store.store) == 2001 and store.store.get("k2") == entries[2][1]
    assert store.store.get("k3", tag=True) == (entries[3][1], "cfg")
    assert store.stats()["per_config"] == {"cfg": 1001, "other": 1000}
    assert store.clear_config("other") == 1000 and len(store.store) == 1001
    store.close()


def test_put_many_leaves_diskcache_as_set_would(tmp_path):
    """put_many inserts without diskcache's two per-entry triggers (cache.ResultCache.insert)
    but leaves what diskcache's own set() leaves: the entry count and total size it keeps, and
    its triggers, in place for set and delete (xt cache delete)."""
    entries = [
        (f"k{i}", {"result": {"x": i, "s": "y" * i}, "cache": "r"}, "cfg") for i in range(300)
    ]
    entries.append(("large", {"result": {"raw_response": "x" * 100_000}, "cache": "r"}, "cfg"))
    ours = cache.ResultCache(tmp_path / "ours")
    ours.put_many(entries[:100])
    ours.put_many(entries[100:])
    theirs = diskcache.Cache(str(tmp_path / "theirs"), tag_index=True, eviction_policy="none")
    for key, value, tag in entries:
        theirs.set(key, value, tag=tag)
    settings = "SELECT key, value FROM Settings WHERE key IN ('count', 'size') ORDER BY key"
    triggers = "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name"
    for sql in (settings, triggers):
        assert ours.store._sql(sql).fetchall() == theirs._sql(sql).fetchall(), sql
    for store in (ours.store, theirs):  # the triggers count set and delete as before
        store.delete("large")
        store.set("new", 1)
    assert ours.store._sql(settings).fetchall() == theirs._sql(settings).fetchall()
    assert len(ours.store) == len(theirs) == 301
    ours.close()
    theirs.close()
