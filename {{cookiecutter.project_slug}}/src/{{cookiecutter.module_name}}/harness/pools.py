"""Computing datapoints when things go wrong: Ctrl-C, hangs, dead workers, a killed parent.

- Ctrl-C (``Control``): the first one stops the run promptly: nothing new is started, queued
  datapoints are cancelled, datapoints still computing are dropped (computed again on resume);
  every finished result is committed once. The runner then raises ``Interrupted``. A second
  Ctrl-C exits at once (status 130); committed rows are safe, the next run resumes.
- ``--timeout SECONDS`` (``Control.timeout``, 0: off): a datapoint still computing after that
  long becomes an error row (error_type ``Timeout``), never cached, so the next run retries it.
  With processes its worker is killed (the pool is replaced and the other datapoints in flight
  start again); a thread cannot be killed, so with threads it is abandoned (the run ends without
  waiting for it); with none it is interrupted by a SIGALRM timer (not on Windows).
- A worker process that dies (``os._exit``, a crash, out of memory) breaks the whole process
  pool: it is replaced, and the datapoints that were in flight run again one at a time, so the
  one that kills its worker again becomes an error row (error_type ``WorkerDied``, retried on the
  next run) and the others are computed as usual.
- Worker processes ignore Ctrl-C (the runner stops them) and exit by themselves when the
  process that started them dies (even by SIGKILL): no orphans keep computing.
- While a datapoint hangs, ``None`` is yielded every ``TICK`` seconds so the runner commits the
  rows that are finished (its 1 s rule).
"""

import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import (
    FIRST_COMPLETED,
    BrokenExecutor,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from contextlib import contextmanager
from dataclasses import dataclass

from .execution import execute

POOLS = {"threads": ThreadPoolExecutor, "processes": ProcessPoolExecutor}
TICK = 0.05  # seconds between wake-ups while nothing finishes (and Ctrl-C is noticed)
PARENT_CHECK_SECONDS = 0.5  # how often a worker process checks that its parent lives


class Timeout(BaseException):  # noqa: N818 (its name is the rows' error_type)
    """A datapoint ran past ``--timeout`` (a BaseException: predict's ``except Exception``
    cannot swallow it)."""


class Interrupted(Exception):
    """The run was stopped by Ctrl-C; ``summary`` says what was saved."""

    def __init__(self, summary):
        super().__init__("interrupted")
        self.summary = summary


@dataclass
class Control:
    """What the runner and the pools share: the timeout, and what happened."""

    timeout: float = 0.0  # seconds per datapoint; 0: none
    interrupted: bool = False  # Ctrl-C was pressed
    abandoned: int = 0  # threads still running a timed-out or interrupted predict
    in_predict: bool = False  # parallelism none: the main thread is inside predict

    @contextmanager
    def handling_ctrl_c(self):
        """Turn Ctrl-C into ``interrupted`` while the run computes (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.signal(signal.SIGINT, self.on_ctrl_c)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def on_ctrl_c(self, signum, frame) -> None:
        if self.interrupted:  # the second Ctrl-C: now
            os.write(2, b"\ninterrupted again: stopped at once; committed rows are kept\n")
            os._exit(130)
        self.interrupted = True
        if self.in_predict:  # parallelism none: stop predict itself, never a commit
            raise KeyboardInterrupt


def timed_out(item, seconds: float) -> tuple[dict, float]:
    row = {
        "input_id": item.input_id,
        "error": f"predict did not finish within {seconds:g} s (run --timeout); retried next run",
        "error_type": "Timeout",
        "latency": seconds,
    }
    return row, seconds


def worker_died(item, error: BaseException) -> tuple[dict, float]:
    row = {
        "input_id": item.input_id,
        "error": "the worker process computing this datapoint died (os._exit, a crash or out "
        f"of memory; {error}); retried next run",
        "error_type": "WorkerDied",
        "latency": None,
    }
    return row, 0.0


def failed(item, error: BaseException) -> tuple[dict, float]:
    """A task that raised past execute (e.g. a KeyboardInterrupt raised by predict)."""
    row = {
        "input_id": item.input_id,
        "error": str(error) or repr(error),
        "error_type": type(error).__name__,
        "latency": None,
    }
    return row, 0.0


@contextmanager
def alarm(seconds: float):
    """Raise Timeout in this (main) thread after ``seconds`` (0, or no SIGALRM: no limit)."""
    if not seconds or not hasattr(signal, "setitimer"):
        yield
        return

    def ring(signum, frame):
        raise Timeout(f"predict did not finish within {seconds:g} s (run --timeout)")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def compute_serial(tasks: Iterable, control: Control) -> Iterator:
    """parallelism none: one datapoint after another, in this thread."""
    main = threading.current_thread() is threading.main_thread()
    for key, (item, params) in tasks:
        if control.interrupted:
            return
        yield None  # the runner's 1 s rule, before a predict that may hang
        try:
            control.in_predict = True
            with alarm(control.timeout if main else 0):
                outcome = execute(item, params)
        except Timeout:  # rang between predict's end and the alarm's reset
            outcome = timed_out(item, control.timeout)
        except KeyboardInterrupt:
            control.interrupted = True
            return
        finally:
            control.in_predict = False
        yield key, outcome


def worker_started(parent: int) -> None:
    """Each worker process: ignore Ctrl-C (the run stops it), exit when the parent is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def new_pool(parallelism: str, workers: int):
    if parallelism == "processes":
        return ProcessPoolExecutor(workers, initializer=worker_started, initargs=(os.getpid(),))
    return ThreadPoolExecutor(workers)


def discard(pool, kill: bool) -> None:
    """Stop using ``pool``: cancel what waits; with processes and ``kill``, end its workers."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # shutdown drops it
    pool.shutdown(wait=False, cancel_futures=True)
    if kill:
        for process in processes:
            process.kill()


def compute_pool(tasks: Iterable, parallelism: str, workers: int, control: Control) -> Iterator:
    """threads or processes: yield (key, outcome) as datapoints finish, None on idle ticks."""
    queue = iter(tasks)
    again = deque()  # in flight when their pool was replaced under them: start them again
    suspects = deque()  # in flight when a worker died: run one at a time to find the culprit
    window = workers if control.timeout else workers * 4  # with a timeout, all start at once
    pool = new_pool(parallelism, workers)
    running = {}  # future -> (key, item, params, started, suspect)
    try:
        while not control.interrupted:
            while not (suspects and running):  # a suspect runs alone
                if suspects:
                    task, suspect = suspects.popleft(), True
                elif len(running) >= window:
                    break
                else:
                    task, suspect = (again.popleft() if again else next(queue, None)), False
                if task is None:
                    break
                key, (item, params) = task
                try:
                    future = pool.submit(execute, item, params)
                except BrokenExecutor:  # a worker died since the last wait: start it later
                    (suspects if suspect else again).appendleft(task)
                    if running:  # the wait below sees their futures fail, and replaces the pool
                        break
                    discard(pool, kill=True)
                    pool = new_pool(parallelism, workers)
                    continue
                running[future] = (key, item, params, time.monotonic(), suspect)
            if not running:
                return
            done, _ = wait(running, timeout=TICK, return_when=FIRST_COMPLETED)
            if any(broke(future) for future in done):
                wait(running)  # a broken pool fails every future it holds, at once
                done = set(running)
            for future in done:
                key, item, params, _, suspect = running.pop(future)
                if future.cancelled():  # its pool was replaced before it started
                    again.append((key, (item, params)))
                elif broke(future) and not suspect:
                    suspects.append((key, (item, params)))
                elif broke(future):  # it ran alone: it is the one that kills its worker
                    yield key, worker_died(item, future.exception())
                elif future.exception() is not None:
                    yield key, failed(item, future.exception())
                else:
                    yield key, future.result()
            if any(broke(future) for future in done):
                discard(pool, kill=True)
                pool = new_pool(parallelism, workers)
            if control.timeout:
                pool = yield from expire(running, again, pool, parallelism, workers, control)
            if not done:
                yield None
    finally:
        if parallelism == "threads":
            control.abandoned += sum(not future.done() for future in running)
        discard(pool, kill=bool(running))


def broke(future) -> bool:
    return not future.cancelled() and isinstance(future.exception(), BrokenExecutor)


def expire(running: dict, again: deque, pool, parallelism: str, workers: int, control: Control):
    """Yield a Timeout row for each datapoint past the timeout; return the pool to go on with."""
    now = time.monotonic()
    late = [f for f, (*_, started, _) in running.items() if now - started > control.timeout]
    if not late:
        return pool
    for future in late:
        key, item, *_ = running.pop(future)
        yield key, timed_out(item, control.timeout)
    if parallelism == "processes":  # kill the hung workers; the others' datapoints start again
        again.extend((key, (item, params)) for key, item, params, *_ in running.values())
        running.clear()
    else:  # a thread cannot be stopped: the old pool keeps it, and finishes the others
        control.abandoned += len(late)
    discard(pool, kill=True)
    return new_pool(parallelism, workers)


def leave(code: int) -> None:
    """Exit now, without waiting for abandoned threads (everything is committed and closed)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
