"""The measurements of run_benchmarks.py, run inside the baked project's environment.

    python benchmarks/measure.py WORKDIR N_FAST N_SLOW    # prints the results as one JSON line

run_benchmarks.py bakes the project, installs it and runs this; one function per measurement.
The baked package is imported by name (``MODULE``), so its environment must be the one running.
"""

import itertools
import json
import os
import sqlite3
import statistics
import sys
import time
from pathlib import Path

MODULE = "overhead_bench"  # the package of the bake run_benchmarks.py makes
ROUNDS = 5  # alternating rounds of the per-row floor and the per-row runner
REPEATS = 3  # batched passes and parallel runs: the best of this many

EXECUTED = [0]  # datapoints the counting predicts below executed since the last reset


def burn(_=None) -> int:
    return sum(i * i for i in range(300_000))  # ~20 ms of pure Python


def noop(item, params):
    EXECUTED[0] += 1
    return {"input_id": item.input_id, "prediction": "positive", "latency": 0.0}


def sleep_10ms(item, params):
    EXECUTED[0] += 1
    time.sleep(0.01)
    return {"input_id": item.input_id, "latency": 0.01}


def sleep_20ms(item, params):
    time.sleep(0.02)
    return {"input_id": item.input_id, "latency": 0.02}


def cpu_bound(item, params):
    return {"input_id": item.input_id, "total": burn()}


class Project:
    """The baked project's runner, Item and Params, and a new db in ``workdir`` per run."""

    def __init__(self, workdir: Path):
        import importlib

        self.workdir = workdir
        self.runner = importlib.import_module(f"{MODULE}.harness.runner")
        self.predict_module = importlib.import_module(f"{MODULE}.predict")
        self.original_predict = self.predict_module.predict  # the kind's own (measure_compare)
        self.Item = importlib.import_module(f"{MODULE}.data").Item
        self.Params = importlib.import_module(f"{MODULE}.params").Params
        self.dbs = itertools.count()

    def items(self, n: int) -> list:
        return [self.Item(input_id=f"i{k:06d}", text="great", label="positive") for k in range(n)]

    def new_path(self, prefix: str, suffix: str = ".db") -> Path:
        return self.workdir / f"{prefix}{next(self.dbs)}{suffix}"

    def run(self, predict, n: int, db: Path | None = None, **options):
        """(seconds, summary, db) of one runner.run over n items, one configuration.

        A new db first gets a one-datapoint run, untimed: creating the tables and the cache is a
        one-time cost (a dozen schema commits), like the floor's untimed CREATE TABLE.
        """
        # Same identity as the project's predict (the cache key names __module__/__qualname__).
        predict.__module__, predict.__qualname__ = self.predict_module.__name__, "predict"
        self.predict_module.predict = predict
        opts = self.runner.RunOptions(db=db, progress=False, **options)
        if db is None:
            opts.db = db = self.new_path("run")
            warm_up = self.Item(input_id="warm-up", text="great", label="positive")
            self.runner.run([warm_up], [self.Params()], opts)
        data = self.items(n)
        EXECUTED[0] = 0
        started = time.perf_counter()
        summary = self.runner.run(data, [self.Params()], opts)
        return time.perf_counter() - started, summary, db


def measure_runner_batched(project: Project, n: int) -> tuple[dict, Path]:
    """us/datapoint of the runner, no-op predict, batched (the default): first pass and rerun,
    best of REPEATS (other work on the machine only ever adds time, so the minimum is the
    closest estimate). Also returns a db the runner wrote, whose rows the floors copy."""
    first, rerun = [], []
    for _ in range(REPEATS):
        seconds, summary, db = project.run(noop, n)
        assert summary.computed == n
        first.append(seconds / n * 1e6)
        seconds, summary, _ = project.run(noop, n, db=db)
        assert summary.reused == n
        rerun.append(seconds / n * 1e6)
    return {"runner_batched_first": min(first), "runner_batched_rerun": min(rerun)}, db


class Floor:
    """The very rows the runner wrote to ``db``, inserted again through bare sqlite3."""

    def __init__(self, project: Project, db: Path):
        self.project = project
        with sqlite3.connect(db) as source:
            cursor = source.execute("SELECT * FROM predictions LIMIT 1")
            self.names = [c[0] for c in cursor.description]
            self.row = list(cursor.fetchone())
            self.schema = source.execute(
                "SELECT sql FROM sqlite_master WHERE name = 'predictions'"
            ).fetchone()[0]
        columns, marks = ", ".join(self.names), ", ".join("?" * len(self.names))
        self.insert = f"INSERT INTO predictions ({columns}) VALUES ({marks})"

    def us_per_row(self, n: int, per_row: bool) -> float:
        """us/row of n inserts: one commit each (``per_row``) or one executemany transaction."""
        connection = sqlite3.connect(self.project.new_path("floor"))
        connection.execute(self.schema)
        stamp, values = self.names.index("timestamp"), []
        for k in range(n):
            self.row[stamp] = f"{k:09d}"
            values.append(tuple(self.row))
        started = time.perf_counter()
        if per_row:
            for one in values:
                connection.execute(self.insert, one)
                connection.commit()
        else:
            with connection:
                connection.executemany(self.insert, values)
        seconds = time.perf_counter() - started
        connection.close()
        return seconds / n * 1e6


def measure_per_row(project: Project, floor: Floor, n: int) -> dict[str, list[float]]:
    """us/datapoint, per round, of the bare per-row commit and the runner's per-row mode
    (``max_unsaved_seconds=0``), first pass and rerun.

    Per-row commits wait for the disk, whose latency drifts with other I/O: the floor and the
    per-row runner alternate in ROUNDS rounds, measured back to back.
    """
    rounds = {"floor_commit_per_row": [], "runner_per_row_first": [], "runner_per_row_rerun": []}
    for _ in range(ROUNDS):
        rounds["floor_commit_per_row"].append(floor.us_per_row(n, per_row=True))
        seconds, _, db = project.run(noop, n, max_unsaved_seconds=0)
        rounds["runner_per_row_first"].append(seconds / n * 1e6)
        seconds, _, _ = project.run(noop, n, db=db, max_unsaved_seconds=0)
        rounds["runner_per_row_rerun"].append(seconds / n * 1e6)
    return rounds


def measure_xetrack(project: Project, n: int) -> dict:
    """us/datapoint of xetrack's own track() with its cache, first pass and rerun, best of
    REPEATS (same process: hash() is stable within a process, so the rerun does hit)."""
    from xetrack import Tracker

    def xetrack_noop(item, params):
        return {"input_id": item.input_id, "prediction": "positive", "latency": 0.0}

    data, params = project.items(n), project.Params()
    timings = {"first": [], "rerun": []}
    for _ in range(REPEATS):  # a new db and cache each time
        db, cache = project.new_path("xetrack"), project.new_path("xetrack-cache", "")
        for label in ("first", "rerun"):
            tracker = Tracker(str(db), table="predictions", cache=str(cache), warnings=False)
            if label == "first":  # untimed, as for the runner: the table gets its columns
                warm_up = project.Item("warm-up", "great", "positive")
                tracker.track(xetrack_noop, args=[warm_up, params])
            started = time.perf_counter()
            for item in data:
                tracker.track(xetrack_noop, args=[item, params])
            timings[label].append((time.perf_counter() - started) / n * 1e6)
    return {f"xetrack_track_cache_{label}": min(values) for label, values in timings.items()}


def measure_rerun_10ms(project: Project, n: int = 100) -> dict:
    """A completed grid with a 10 ms predict, run again: seconds, and datapoints executed."""
    first, _, db = project.run(sleep_10ms, n)
    executed_first = EXECUTED[0]
    rerun, _, _ = project.run(sleep_10ms, n, db=db)
    return {
        "n": n,
        "first_s": first,
        "rerun_s": rerun,
        "executed_first": executed_first,
        "executed_rerun": EXECUTED[0],
    }


def measure_threads(project: Project, n: int = 200, workers: int = 8) -> dict:
    """Serial against ``workers`` threads, I/O-bound predict (sleep 20 ms), each on a new db.
    The fixed cost of a run (~30 ms) stays small next to 200 x 20 ms / 8."""
    serial, _, _ = project.run(sleep_20ms, n, parallelism="none")
    threads = min(
        project.run(sleep_20ms, n, parallelism="threads", workers=workers)[0]
        for _ in range(REPEATS)
    )
    return {"n": n, "workers": workers, "serial_s": serial, "parallel_s": threads}


def measure_processes(project: Project, n: int = 40) -> dict:
    """Serial against one process per core, CPU-bound predict (~20 ms), and what this machine
    allows right now: the same work through a bare process pool."""
    from concurrent.futures import ProcessPoolExecutor

    cores = os.cpu_count() or 1
    serial = min(project.run(cpu_bound, n, parallelism="none")[0] for _ in range(REPEATS))
    procs = min(
        project.run(cpu_bound, n, parallelism="processes", workers=cores)[0] for _ in range(REPEATS)
    )
    bare = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        with ProcessPoolExecutor(cores) as pool:
            list(pool.map(burn, range(n)))
        bare.append(time.perf_counter() - started)
    return {
        "n": n,
        "workers": cores,
        "serial_s": serial,
        "parallel_s": procs,
        "bare_pool_s": min(bare),
    }


def measure_compare(project: Project) -> dict:
    """Seconds of `compare` and `rank` on two runs of the default grid over the bundled dataset,
    the second computed again (PREDICT_VERSION bumped: other keys, other latencies, so every
    latency metric is tested and resampled; a cleared cache would be restored from the db)."""
    import importlib

    grid = importlib.import_module(f"{MODULE}.params").grid()
    items = importlib.import_module(f"{MODULE}.data").load_items()
    compare = importlib.import_module(f"{MODULE}.harness.compare")
    ranking = importlib.import_module(f"{MODULE}.harness.compare.ranking")
    project.predict_module.predict = project.original_predict
    version = project.predict_module.PREDICT_VERSION
    db = project.new_path("compare")
    ids = []
    for bump in ("", "-again"):
        project.predict_module.PREDICT_VERSION = version + bump
        opts = project.runner.RunOptions(db=db, progress=False)
        summary = project.runner.run(items, grid, opts)
        assert summary.computed == len(items) * len(grid), summary
        ids.append(summary.track_id)
    project.predict_module.PREDICT_VERSION = version
    started = time.perf_counter()
    compare.compare(db, ids[0], ids[1])
    compare_s = time.perf_counter() - started
    started = time.perf_counter()
    ranking.rank(db, ids[1])
    return {
        "n": len(items),
        "configurations": len(grid),
        "compare_s": compare_s,
        "rank_s": time.perf_counter() - started,
    }


def measure(workdir: Path, n_fast: int, n_slow: int) -> dict:
    """Every measurement, in this order (the results file's layout)."""
    project = Project(workdir)
    us, db = measure_runner_batched(project, n_fast)
    floor = Floor(project, db)
    us["floor_executemany"] = floor.us_per_row(n_fast, per_row=False)
    rounds = measure_per_row(project, floor, n_slow)
    # Figures are medians over rounds; the ratio to the floor is the median of each round's.
    us.update({key: statistics.median(values) for key, values in rounds.items()})
    by_round = zip(rounds["runner_per_row_first"], rounds["floor_commit_per_row"], strict=True)
    results = {
        "n_fast": n_fast,
        "n_slow": n_slow,
        "per_row_rounds_us": rounds,
        "per_row_vs_floor_by_round": [runner / bare for runner, bare in by_round],
    }
    us.update(measure_xetrack(project, n_slow))
    results["us_per_datapoint"] = us
    results["rerun_10ms"] = measure_rerun_10ms(project)
    results["threads_io"] = measure_threads(project)
    results["processes_cpu"] = measure_processes(project)
    results["compare"] = measure_compare(project)
    return results


if __name__ == "__main__":
    workdir, n_fast, n_slow = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    print(json.dumps(measure(workdir, n_fast, n_slow)))
