"""Run the grid: every (item, configuration) is computed at most once, across runs.

How exactly-once holds:
- A computation is identified by ``computation_key`` (predict and PREDICT_VERSION, item content,
  params content). Already cached keys are not computed again; duplicates in one run are
  computed once.
- This process is the only writer of the db and the cache (workers only compute), and a lock
  file stops a second run on the same db.
- Rows are committed before their cache entries are written. A run that is killed leaves a
  marker in the cache directory; the next run first re-creates the cache entries of rows the
  killed run had committed but not cached (``heal``), so nothing committed is computed again.
- Rows are written in batches that never hold more than ``max_unsaved_seconds`` of computation,
  so a crash loses at most that much work, which is simply computed again on resume. Cache
  entries are written once the run's rows are all committed, from those rows, in key order
  (recorder.py; ``heal`` covers the gap), so even the per-row mode (``max_unsaved_seconds=0``)
  costs one commit per datapoint, not two.
- Faults (pools.py, values.py): Ctrl-C, ``--timeout``, dead workers and results that cannot be
  stored become error rows or a clean stop, never a lost batch or a row written twice.
- Load levels: when Params has a ``concurrency`` field, each configuration is computed on its
  own pool of that many workers, one configuration after another (``schedule``), and a level
  is recorded and cached as one unit, errors included (levels.py).
"""

import dataclasses
import importlib
import importlib.util
import sqlite3
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import closing, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout
from tqdm import tqdm
from xetrack import Tracker

from .aggregates import metrics_rows
from .breaker import BREAKER_WINDOW, Failures
from .cache import ResultCache
from .cache_restore import heal, open_cache, restore_from_db
from .errors import OperationalError, ParallelismUnavailable, db_error
from .identity import result_digest
from .kind import Item, Params, level_monitor, predict_module
from .levels import ITEMS_OF, recording
from .plan import Plan
from .pools import POOLS, Control, Interrupted, compute_pool, compute_serial
from .recorder import Recorder
from .schema import params_column_types
from .tracking import (
    ENGINE,
    JOURNALS,
    METRICS,
    PREDICTIONS,
    RowWriter,
    flatten,
    require_engine,
    set_journal,
)
from .values import BadResult, Columns, bad_result_row, storable, value_of

PARALLELISM = "{{ cookiecutter.parallelism }}"  # this project's default, one of CHOICES
WORKERS = 4
# dask where harness/cluster.py exists (parallelism=dask bakes): found, not imported (it imports
# distributed, a second or two).
DASK = importlib.util.find_spec(f"{__package__}.cluster") is not None
CHOICES = ("none", *POOLS, *(["dask"] if DASK else []))
CHOICES_TEXT = f"{', '.join(CHOICES[:-1])} or {CHOICES[-1]}"  # "none, threads or processes"
NO_DASK = (
    "this project was baked without dask (it has no harness/cluster.py): use --parallelism "
    "processes or threads, or bake the template again with parallelism=dask."
)


@dataclass
class RunOptions:
    db: Path = Path("benchmark.db")
    metadata: dict = field(default_factory=dict)  # tracking.run_metadata(...)
    parallelism: str = PARALLELISM
    workers: int = WORKERS
    # dask only: a running scheduler's address ("": Dask's scheduler-address setting, else a
    # LocalCluster of `workers` processes on this machine)
    scheduler: str = ""
    cache_errors: bool = False  # errors are retried on the next run unless this is set
    max_unsaved_seconds: float = 0.05  # computation a crash may lose (0: commit every row)
    max_batch_rows: int = 1000
    progress: bool = True
    engine: str = ENGINE  # xetrack engine of the metrics table; rows always go in via sqlite3
    timeout: float = 0.0  # seconds per datapoint before it becomes a Timeout error row (0: none)
    breaker: int = BREAKER_WINDOW  # stop after this many consecutive same-type failures (0: never)
    # the results db's journal (tracking.set_journal): "" leaves it as it is (a new db: SQLite's
    # rollback journal), "wal" (cheap commits; safe against kill -9, not power loss), "delete"
    journal: str = ""
    replicate: int = 0  # run --replicate: measure again; in every computation key when > 0


@dataclass
class RunSummary:
    track_id: str
    computed: int = 0
    reused: int = 0
    failed: int = 0
    duplicates: int = 0
    healed: int = 0
    abandoned: int = 0  # threads still running a timed-out predict (the process exits anyway)
    seconds: float = 0.0
    metrics: list[dict] = field(default_factory=list)
    errors: dict = field(default_factory=dict)  # config_id -> Counter of error types (breaker.py)


def cache_dir_for(db: Path) -> Path:
    """Each db has its own cache: ``benchmark.db`` -> ``.cache/benchmark``, next to the db's
    real file (a symlink to the db shares the db's cache and lock)."""
    db = Path(db).resolve()
    return db.parent / ".cache" / db.stem


def require_parallelism(parallelism: str, scheduler: str = "") -> None:
    """Raise ParallelismUnavailable now, before anything is written, if ``parallelism`` (or a
    Dask ``scheduler``) cannot be used in this project."""
    if scheduler and not DASK:
        raise ParallelismUnavailable(f"--scheduler is for --parallelism dask, and {NO_DASK}")
    if parallelism == "dask":
        dask_cluster()
    elif parallelism not in CHOICES:
        raise ParallelismUnavailable(
            f"parallelism {parallelism!r} is not an option: use {CHOICES_TEXT}."
        )


def require_scheduler(scheduler: str = "") -> None:
    """dask: raise ParallelismUnavailable now, before anything is written, if the scheduler
    (``scheduler``, else Dask's scheduler-address setting) cannot be reached."""
    dask_cluster().require_scheduler(scheduler)  # its ClusterUnavailable is one


def dask_cluster():
    """The module harness/cluster.py (dask bakes only), or ParallelismUnavailable with the fix."""
    try:
        return importlib.import_module(f"{__package__}.cluster")
    except ModuleNotFoundError as error:
        if error.name == f"{__package__}.cluster":
            raise ParallelismUnavailable(f"--parallelism dask: {NO_DASK}") from None
        raise ParallelismUnavailable(
            f"--parallelism dask: the {error.name} package is not installed: run `make install`, "
            "or use --parallelism processes."
        ) from None


def compute(
    tasks: Iterable, parallelism: str, workers: int, scheduler: str = "", control=None
) -> Iterator[tuple[str, tuple[dict, float]] | None]:
    """Yield (key, (result, seconds)) as computations finish (None: nothing finished for a
    moment, time to commit). Workers never write. Timeouts, Ctrl-C, dead workers: pools.py."""
    control = control or Control()
    if parallelism == "none":
        yield from compute_serial(tasks, control)
    elif parallelism == "dask":  # a Dask cluster computes; results still come back here
        yield from dask_cluster().compute_on_dask(tasks, workers, scheduler)
    else:
        yield from compute_pool(tasks, parallelism, workers, control)


def schedule(missing: list, options: RunOptions, control=None) -> Iterator:
    """Yield (key, (result, seconds)) for every missing computation, as they finish.

    Usually everything goes through one pool of ``options.workers`` (``compute``). A load test
    needs each configuration measured on its own: when Params has a ``concurrency`` field, the
    configurations run one after another, each through its own pool of exactly
    ``params.concurrency`` workers (threads; processes if the run's parallelism is
    ``processes``), so a level's requests overlap only with each other and its wall time is its
    own (``--workers`` does not apply). If predict's module declares
    ``level_monitor(params)``, a context manager yielding a function that annotates a result,
    it is entered around each level in this process, never in a worker (e.g. to sample system
    CPU and memory: xetrack's log_system_params crashes inside process pools). Results still
    come back to this process, the only writer, and a level is cached whole (levels.py): a
    rerun computes nothing, and a level interrupted midway is measured again whole.
    """
    if "concurrency" not in {f.name for f in dataclasses.fields(Params)}:
        yield from compute(
            missing, options.parallelism, options.workers, options.scheduler, control
        )
        return
    levels = defaultdict(list)  # configuration -> its tasks, in grid order
    for key, (item, params) in missing:
        levels[params].append((key, (item, params)))
    pool = "processes" if options.parallelism == "processes" else "threads"
    monitor = level_monitor
    for params, tasks in levels.items():
        with monitor(params) if monitor else nullcontext(dict) as annotate:
            for done in compute(tasks, pool, params.concurrency, control=control):
                if done:
                    key, (result, seconds) = done
                    done = key, (annotate(result), seconds)
                yield done


class Ledger:
    """What the run keeps of each datapoint: its row (through the Recorder) and its count in
    the summary. Nothing per datapoint stays in memory: metrics come from the rows (aggregates)."""

    def __init__(self, configurations, options: RunOptions, summary: RunSummary, recorder):
        self.options, self.summary, self.recorder = options, summary, recorder
        # Per configuration once, not per datapoint (config_id is a content hash).
        self.config_columns = {
            params: {**flatten("params", params), "config_id": params.config_id}
            for params in configurations
        }
        # per configuration; n_planned: its datapoints in the grid (validate's completeness check)
        self.counts = defaultdict(lambda: {"n_computed": 0, "n_reused": 0, "n_planned": 0})
        # Result keys must keep one spelling: SQLite column names ignore case (values.py).
        self.columns = Columns([*recorder.writer.columns, "input_id", "error", "error_type"])
        self.checked = set()  # sequences of result keys that passed storable's key checks

    def context(self, key: str, item_columns: dict, params: Params) -> dict:
        """The columns of a row besides predict's result and its lineage."""
        return {
            **self.options.metadata,
            **item_columns,  # flatten("item", item), once per item (plan.Plan)
            **self.config_columns[params],
            "cache_key": key,
        }

    def reused(self, key: str, item_columns: dict, params: Params, entry: dict) -> None:
        # A cache hit is logged as a complete row: item and params columns, the original
        # result and latency, and the track_id of the run that computed it.
        result = entry["result"]
        self.columns.add(result)
        row = {**self.context(key, item_columns, params), **result}
        row.update(cache=entry["cache"], reused=1, row_digest=digest(result))
        self.recorder.add(row)
        self.counts[params]["n_reused"] += 1
        self.summary.reused += 1

    def computed(
        self, key: str, item: Item, item_columns: dict, params: Params, result: dict, seconds: float
    ) -> None:
        try:  # the db and the cache get the same, faithful values, or an error row
            result = self.storable(result)
        except BadResult as error:
            result = bad_result_row(result, item, error)
        self.columns.add(result)
        failed = bool(result.get("error"))
        row = self.context(key, item_columns, params)  # a new dict: one copy, not two
        row.update(result)
        # cached at the end of the run, from the committed row (cache_restore.cache_rows: not
        # a Timeout, an error only with --cache-errors)
        row.update(cache="", reused=0, row_digest=digest(result))
        self.recorder.add(row, seconds=seconds)
        self.counts[params]["n_computed"] += 1
        self.summary.computed += 1
        self.summary.failed += failed

    def storable(self, result: dict) -> dict:
        """values.storable, its key checks once per run for each sequence of keys: they
        depend on the keys alone (and the columns, which only grow by keys that passed)."""
        shape = tuple(result)
        if shape in self.checked:
            return {key: value_of(key, value) for key, value in result.items()}
        stored = storable(result, self.columns)
        self.checked.add(shape)
        return stored

    def configurations(self, order) -> list[tuple[dict, dict]]:
        """(config columns, counts) of each configuration of ``order`` that has rows."""
        return [
            (self.config_columns[params], self.counts[params])
            for params in order
            if self.counts[params]["n_computed"] + self.counts[params]["n_reused"]
        ]


def digest(result: dict) -> str:
    """``row_digest`` of a row with this result: validate notices a row edited after insert.
    Every key of a stored result is a result column (values.check_key refuses the others)."""
    return result_digest(result)


def run(items: list[Item], configurations: list[Params], options: RunOptions) -> RunSummary:
    require_engine(options.engine)  # a missing DuckDB extension stops the run before it starts
    require_parallelism(options.parallelism, options.scheduler)  # so does a missing dask
    if options.journal and options.journal not in JOURNALS:
        raise OperationalError(f"journal {options.journal!r}: use {' or '.join(JOURNALS)}")
    db = Path(options.db)
    lock = FileLock(f"{db.resolve()}.lock")  # the real file's: a symlink cannot bypass it
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise OperationalError(
            f"results db {db}: another run is writing it (lock {lock.lock_file}): wait for it "
            "to finish, or use another --db"
        ) from None
    control = Control(timeout=options.timeout)
    try:
        with control.handling_ctrl_c():  # Ctrl-C stops the run between commits (pools.py)
            return _run_locked(items, configurations, options, db, control)
    except sqlite3.DatabaseError as error:  # the db's (the cache raises CacheError)
        raise db_error(db, error) from error
    finally:
        lock.release()


def _run_locked(items, configurations, options: RunOptions, db: Path, control) -> RunSummary:
    started = time.perf_counter()
    if options.journal:
        set_journal(db, options.journal)
    work = Plan(
        items,
        configurations,
        predict_module.predict,
        predict_module.PREDICT_VERSION,
        options.replicate,
        ITEMS_OF,  # a load level's own requests, if the kind's level_items gives them
    )
    metrics_tracker = Tracker(
        str(db),
        table=METRICS,
        params=dict(options.metadata),
        warnings=False,
        engine=options.engine,
    )
    summary = RunSummary(track_id=metrics_tracker.track_id)
    summary.duplicates = work.duplicates
    column_types = params_column_types(Params)
    writer = RowWriter(db, PREDICTIONS, summary.track_id, options.journal, column_types)
    cache = open_cache(cache_dir_for(db))
    killed = cache.interrupted_run()
    if killed:
        summary.healed = heal(writer, cache, killed, options.cache_errors)
    config_ids = {params.config_id for params in work.params}
    restore_from_db(db, writer, cache, config_ids, options.cache_errors)  # the db is the truth
    cache.mark_running(summary.track_id)
    recorder = recording(Recorder(writer, cache, options), work, cache)  # levels.py
    ledger = Ledger(work.params, options, summary, recorder)
    for params in work.params:
        ledger.counts[params]["n_planned"] = work.planned(params)
    bar = tqdm(total=work.size, disable=not options.progress, unit="datapoint", desc="run")
    waiting = {}  # key -> (item, params, item columns) of each computation handed out
    failures = Failures(options.breaker, bar)  # failed counts, bar postfix, circuit breaker
    summary.errors = failures.per_config
    try:
        missing = serve_cache_hits(work.batches(), cache, ledger, bar, waiting)
        with closing(schedule(missing, options, control)) as finishing:
            for done in finishing:
                if done is None:  # nothing finished for a moment: commit what is waiting
                    recorder.tick()
                    continue
                key, (result, seconds) = done
                item, params, item_columns = waiting.pop(key)
                ledger.computed(key, item, item_columns, params, result, seconds)
                bar.update()
                failures.observe(ledger.config_columns[params]["config_id"], result)
                if control.interrupted:  # dask: stop at the next result
                    break
    finally:
        # Also on an exception or Ctrl-C: finished computations are kept, committed once.
        bar.close()
        recorder.flush()
        cache.mark_finished()  # reached only when every committed row is cached
        writer.close()
        cache.close()
        summary.abandoned = control.abandoned

    if control.interrupted:  # no metrics row for a run that did not finish
        raise Interrupted(summary)
    for row in metrics_rows(db, summary.track_id, ledger.configurations(work.params)):
        metrics_tracker.log(row)
        summary.metrics.append(row)
    metrics_tracker.engine.close()  # now, not when collected: an open connection blocks --journal
    summary.seconds = time.perf_counter() - started
    return summary


def serve_cache_hits(batches: Iterable, cache: ResultCache, ledger: Ledger, bar, waiting: dict):
    """The one place cache hits are served: record every cached computation of each batch of
    the plan (one cache query per batch); yield (key, (item, params)) for the ones still
    missing, each remembered in ``waiting`` until its result comes back."""
    for params, batch in batches:
        found = cache.get_many([key for key, _, _ in batch])
        for key, item, item_columns in batch:
            entry = found.get(key)
            if entry is None:
                waiting[key] = (item, params, item_columns)
                yield key, (item, params)
                continue
            ledger.reused(key, item_columns, params, entry)
            bar.update()
