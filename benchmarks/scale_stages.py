"""Where a batched first pass spends its time, stage by stage (issue 17's breakdown).

    cd <bake of run_benchmarks.py> && PYTHONPATH=src:<template>/benchmarks \\
        python <template>/benchmarks/scale_stages.py /tmp/stages.db 100000

The scale point (scale_measure.point: default grid, no-op predict, batched, a new db given one
untimed datapoint first) with the runner's stages wrapped in timers: per stage its wall time
and, for the stages called once per batch, its CPU time (user + sys) and peak RSS reached while
in it. The per-datapoint stages (keys, predict, storable, row digest, row context) are timed
with ``perf_counter`` only (a CPU clock per call would cost more than some of them); the timer
itself adds about 0.1-0.3 us per call. Then the executemany floor of the same rows. A
measuring tool (it patches the runner in this process), not part of the measured figures.
"""

import importlib
import os
import resource
import shutil
import sys
import time
from pathlib import Path

import scale_measure
from measure import MODULE, noop

harness = {
    name: importlib.import_module(f"{MODULE}.harness.{name}")
    for name in ("cache", "tracking", "runner", "identity", "recorder")
}
STATS = {}  # stage -> [wall s, user s, sys s, calls]
RSS = []  # (stage, peak RSS MB) each time the peak grew by more than 1 MB
END_WRITE = "cache write at the end (read back + put)"


def add(stage: str, wall: float, user: float = 0.0, system: float = 0.0) -> None:
    found = STATS.setdefault(stage, [0.0, 0.0, 0.0, 0])
    found[0] += wall
    found[1] += user
    found[2] += system
    found[3] += 1


def per_batch(owner, name: str, stage: str) -> None:
    """Wrap ``owner.name`` (called once per batch): wall, CPU and peak RSS."""
    function = getattr(owner, name)

    def timed(*args, **kwargs):
        before, started = os.times(), time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            after = os.times()
            add(stage, time.perf_counter() - started, after.user - before.user,
                after.system - before.system)  # fmt: skip
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            if not RSS or peak > RSS[-1][1] + 1:
                RSS.append((stage, round(peak, 1)))

    setattr(owner, name, timed)


def per_datapoint(function, stage: str):
    """``function`` timed by wall clock only (called once per datapoint)."""

    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            add(stage, time.perf_counter() - started)

    return timed


def instrument() -> None:
    cache, tracking, runner = harness["cache"], harness["tracking"], harness["runner"]
    per_batch(cache.ResultCache, "get_many", "cache lookups (get_many)")
    per_batch(tracking.RowWriter, "write", "row writer: executemany + commit")
    per_batch(cache.ResultCache, "put_many", "cache writes (put_many)")
    if hasattr(harness["recorder"], "cache_rows"):  # entries written at the end, from the rows
        per_batch(harness["recorder"], "cache_rows", END_WRITE)
    per_batch(runner, "metrics_rows", "metrics from the rows (end of run)")
    per_batch(runner, "restore_from_db", "cache restore check (start)")
    hasher = harness["identity"].KeyHasher
    hasher.key = staticmethod(per_datapoint(hasher.key, "computation keys"))
    hasher.item = per_datapoint(hasher.item, "item encoding + hash (once per item)")
    if hasattr(runner.Ledger, "storable"):  # key checks once per sequence of keys
        runner.Ledger.storable = per_datapoint(runner.Ledger.storable, "storable (result checks)")
    else:
        runner.storable = per_datapoint(runner.storable, "storable (result checks)")
    runner.digest = per_datapoint(runner.digest, "row digest")
    runner.Ledger.context = per_datapoint(runner.Ledger.context, "row context (columns)")
    scale_measure.noop = per_datapoint(noop, "predict call (no-op)")


def main(db: str, n: int) -> None:
    instrument()
    scale_measure.warm(db)
    STATS.clear()
    RSS.clear()
    found = scale_measure.point(db, n, "first")
    n = found["n"]
    floor = scale_measure.floor(db, n)
    print(f"first pass of {n:,} datapoints: {found['seconds'] / n * 1e6:.1f} us/datapoint wall, "
          f"{(found['user_s'] + found['sys_s']) / n * 1e6:.1f} CPU; executemany floor "
          f"{floor['us_per_row']:.1f} us/row")  # fmt: skip
    print(f"{'stage':42} {'us/dp wall':>10} {'us/dp CPU':>10} {'sys':>6} {'calls':>8}")
    timed = 0.0
    # put_many inside the end-of-run cache write: printed, not counted twice
    nested = {"cache writes (put_many)"} if END_WRITE in STATS else set()
    for stage, (wall, user, system, calls) in STATS.items():
        cpu = f"{(user + system) / n * 1e6:10.1f}" if user + system else f"{'':10}"
        sys_us = f"{system / n * 1e6:6.1f}" if user + system else f"{'':6}"
        name = f"  of which {stage}" if stage in nested else stage
        print(f"{name:42} {wall / n * 1e6:10.1f} {cpu} {sys_us} {calls:8,}")
        timed += 0 if stage in nested else wall
    print(f"{'rest (plan, ledger, recorder, bar, loop)':42} "
          f"{(found['seconds'] - timed) / n * 1e6:10.1f}")  # fmt: skip
    print("peak RSS MB as it grew:", RSS)
    for path in Path(db).parent.glob(f"{Path(db).name}*"):
        path.unlink()
    shutil.rmtree(harness["runner"].cache_dir_for(Path(db)), ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
