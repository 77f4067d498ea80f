"""The scale measurements of run_benchmarks.py (scale.py), one step per process.

    python benchmarks/scale_measure.py warm DB                     # create tables, 1 datapoint
    python benchmarks/scale_measure.py point DB N first|rerun [--per-row] [--journal wal]
    python benchmarks/scale_measure.py floor DB N                   # executemany of N rows
    python benchmarks/scale_measure.py build DB ROWS                # two differing runs

Each prints one JSON line. Run in the baked project's environment (cwd: the bake), each step
in its own process so that its peak RSS (the parent's wait4) and its fsync calls (strace
around it) are its own. A point runs the default grid (8 configurations) over N / 8 items with
measure.py's no-op predict: N datapoints, N rows.
"""

import dataclasses
import importlib
import json
import os
import resource
import shutil
import sqlite3
import sys
import time
import zlib
from pathlib import Path

from measure import MODULE, noop

runner = importlib.import_module(f"{MODULE}.harness.runner")
predict_module = importlib.import_module(f"{MODULE}.predict")
Item = importlib.import_module(f"{MODULE}.data").Item
grid = importlib.import_module(f"{MODULE}.params").grid
LABELS = ("positive", "negative", "neutral")
USAGE = ("minflt", "majflt", "inblock", "oublock")


def has_journal_option() -> bool:
    """Whether this runner has ``RunOptions(journal=...)`` (``run --journal wal``)."""
    return "journal" in {field.name for field in dataclasses.fields(runner.RunOptions)}


def use_predict(function) -> None:
    """Put ``function`` in place of the project's predict, under predict's identity (the cache
    key names __module__/__qualname__)."""
    function.__module__, function.__qualname__ = predict_module.__name__, "predict"
    predict_module.predict = function


def items(n_datapoints: int, texts: list[str] | None = None) -> list:
    """n_datapoints / 8 items: with the 8 configurations, n_datapoints computations."""
    count = n_datapoints // len(grid())
    if texts is None:
        return [Item(input_id=f"i{k:07d}", text="great", label="positive") for k in range(count)]
    return [Item(f"i{k:07d}", texts[k % len(texts)], LABELS[k % 3]) for k in range(count)]


def options(db: str, per_row: bool = False, journal: str = "", **extra):
    chosen = {"journal": journal} if journal else {}
    unsaved = {"max_unsaved_seconds": 0} if per_row else {}
    return runner.RunOptions(db=Path(db), progress=False, **unsaved, **chosen, **extra)


def warm(db: str, journal: str = "") -> dict:
    """Tables and cache of a new db: one datapoint, one configuration (a one-time cost)."""
    if journal and not has_journal_option():
        return {"available": False}
    use_predict(noop)
    warm_up = Item(input_id="warm-up", text="great", label="positive")
    runner.run([warm_up], grid()[:1], options(db, journal=journal))
    return {}


def point(db: str, n: int, phase: str, per_row: bool = False, journal: str = "") -> dict:
    """One pass of the default grid: wall seconds, and this process's CPU seconds over it."""
    if journal and not has_journal_option():
        return {"available": False}
    use_predict(noop)
    data, configurations = items(n), grid()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    before, started = os.times(), time.perf_counter()
    summary = runner.run(data, configurations, options(db, per_row, journal))
    seconds, after = time.perf_counter() - started, os.times()
    used = resource.getrusage(resource.RUSAGE_SELF)
    n = len(data) * len(configurations)
    expected = (n, 0) if phase == "first" else (0, n)
    assert (summary.computed, summary.reused) == expected, (summary, expected)
    return {
        "n": n,
        "seconds": seconds,
        "user_s": after.user - before.user,
        "sys_s": after.system - before.system,
        # page faults and file-system blocks (512 B) read and written over the pass
        **{name: getattr(used, f"ru_{name}") - getattr(usage, f"ru_{name}") for name in USAGE},
        "track_id": summary.track_id,
    }


def floor(db: str, n: int) -> dict:
    """us/row of the runner's own rows (the first pass's) through one executemany transaction
    into a new db with the same table: the SQLite floor at this size."""
    with sqlite3.connect(db) as source:
        schema = source.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'predictions'"
        ).fetchone()[0]
        track = source.execute(  # the first pass: n rows, none reused
            "SELECT track_id FROM predictions GROUP BY track_id"
            " HAVING count(*) = ? AND max(reused) = 0",
            (n,),
        ).fetchone()[0]
        cursor = source.execute("SELECT * FROM predictions WHERE track_id = ?", (track,))
        names = [column[0] for column in cursor.description]
        rows = cursor.fetchall()
    assert len(rows) == n, (len(rows), n)
    target = Path(db).with_name(Path(db).stem + "-floor.db")
    connection = sqlite3.connect(target)
    connection.execute(schema)
    insert = f"INSERT INTO predictions ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
    started = time.perf_counter()
    with connection:
        connection.executemany(insert, rows)
    seconds = time.perf_counter() - started
    connection.close()
    target.unlink()
    return {"n": n, "seconds": seconds, "us_per_row": seconds / n * 1e6}


def merge(db: str, second: Path) -> None:
    """Run B's rows and metrics into ``db``. (Run B is made in a db of its own: the runner
    looks for every missing cache key in the db's rows, one full scan per 900 keys, an hour
    for 1M new keys on a 1M-row db before issue 17.)"""
    with sqlite3.connect(db) as connection:
        connection.execute("ATTACH ? AS b", (str(second),))
        for table in ("predictions", "metrics"):
            names = [r[1] for r in connection.execute(f'PRAGMA main.table_info("{table}")')]
            columns = ", ".join(f'"{name}"' for name in names)
            connection.execute(
                f'INSERT INTO main."{table}" ({columns}) SELECT {columns} FROM b."{table}"'
            )
    connection.close()
    for path in second.parent.glob(f"{second.name}*"):
        path.unlink()
    shutil.rmtree(runner.cache_dir_for(second), ignore_errors=True)


def build(db: str, rows: int) -> dict:
    """A db of two differing runs of ``rows`` datapoints each (the default grid over the
    bundled texts, cycled under new input ids), made by the runner itself: run A with the
    kind's predict, run B with every 7th prediction changed and PREDICT_VERSION bumped, as a
    user changing predict does (other keys: all computed again, other latencies, a lower
    accuracy), in a db of its own, then merged. The analysis commands are measured on it.
    (Clearing the cache instead would not do: the runner restores it from the db's rows.)"""
    metadata = importlib.import_module(f"{MODULE}.harness.tracking").run_metadata
    version = predict_module.PREDICT_VERSION
    real = predict_module.predict
    texts = [item.text for item in importlib.import_module(f"{MODULE}.data").load_items()]

    def worse(item, params):
        row = real(item, params)
        if zlib.crc32(item.input_id.encode()) % 7 == 0:
            row["prediction"] = "neutral" if row["prediction"] != "neutral" else "positive"
        return row

    data, ids, started = items(rows, texts), [], time.perf_counter()
    second = Path(db).with_name(Path(db).stem + "-b.db")
    for experiment, function, bump, target in (
        ("scale-a", real, "", db),
        ("scale-b", worse, "-b", second),
    ):
        use_predict(function)
        predict_module.PREDICT_VERSION = version + bump
        meta = metadata(experiment, "experiment", version + bump, ("0" * 40, False))
        summary = runner.run(data, grid(), options(target, metadata=meta))
        assert summary.computed == len(data) * len(grid()), summary  # nothing reused
        ids.append(summary.track_id)
    merge(db, second)
    count = len(data) * len(grid())
    return {"rows_per_run": count, "track_ids": ids, "seconds": time.perf_counter() - started}


if __name__ == "__main__":
    step, db, *rest = sys.argv[1:]
    flags = {"per_row": "--per-row" in rest}
    if "--journal" in rest:
        flags["journal"] = rest[rest.index("--journal") + 1]
    numbers = [int(a) for a in rest if a.isdigit()]
    if step == "warm":
        result = warm(db, flags.get("journal", ""))
    elif step == "point":
        result = point(db, numbers[0], rest[1], **flags)
    elif step == "floor":
        result = floor(db, numbers[0])
    elif step == "build":
        result = build(db, numbers[0])
    else:
        sys.exit(f"unknown step {step!r}: warm, point, floor or build")
    print(json.dumps(result))
