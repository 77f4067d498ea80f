"""System CPU and memory while a concurrency level runs, measured in the driver process.

xetrack's ``log_system_params`` is not used: it records sums over samples, not averages, and
crashes inside a process pool ("daemonic processes are not allowed to have children"). Instead
the runner enters ``level_monitor(params)`` around each concurrency level, in the process that
writes the rows (never in a worker). It reads the machine's CPU times when the level starts;
each request computed during the level then gets in its row (readings at most every
``INTERVAL`` seconds, so this costs nothing at any request rate):

- ``system_cpu_percent``: the whole machine's CPU use (all cores = 100) from the level's start
  until the request was recorded; the level's last request covers the whole level;
- ``system_memory_percent``: the machine's memory in use;
- ``driver_rss_mb``: this process's memory (worker threads included, worker processes not);
- ``level_run``: the id of this execution of the level (requests/s is measured per level_run).

Rows served from the cache keep the figures of the run that measured them.
"""

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psutil

INTERVAL = 0.01  # seconds between readings: rows recorded in between share the last one


def busy_and_total(times) -> tuple[float, float]:
    """CPU seconds busy and in total, over all cores, from ``psutil.cpu_times()``."""
    total = sum(times)
    total -= getattr(times, "guest", 0.0) + getattr(times, "guest_nice", 0.0)  # in user/nice
    idle = times.idle + getattr(times, "iowait", 0.0)
    return total - idle, total


class Reader:
    """The machine since ``start``: CPU use, memory, this process's memory."""

    def __init__(self):
        self.process = psutil.Process()
        self.start = busy_and_total(psutil.cpu_times())
        self.read_at = -float("inf")
        self.latest: dict = {}

    def __call__(self) -> dict:
        now = time.monotonic()
        if now - self.read_at >= INTERVAL:
            busy, total = busy_and_total(psutil.cpu_times())
            elapsed = total - self.start[1]
            cpu = 100 * (busy - self.start[0]) / elapsed if elapsed > 0 else None
            self.latest = {
                "system_cpu_percent": None if cpu is None else round(min(max(cpu, 0.0), 100.0), 1),
                "system_memory_percent": psutil.virtual_memory().percent,
                "driver_rss_mb": round(self.process.memory_info().rss / 2**20, 1),
            }
            self.read_at = now
        return self.latest


@contextmanager
def level_monitor(params) -> Iterator[Callable[[dict], dict]]:
    """Measure the machine while one level runs; yield the function that annotates a result
    (called by the runner in this process, as each request's result comes back)."""
    reader = Reader()
    level_run = uuid.uuid4().hex[:12]
    yield lambda result: {**result, "level_run": level_run, **reader()}
