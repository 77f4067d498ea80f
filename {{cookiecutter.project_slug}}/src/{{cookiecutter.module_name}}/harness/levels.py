"""Load levels (Params with a ``concurrency`` field): a level is measured, recorded and cached
as one unit.

A level is one configuration's computations within a run. Under load, how a request went
depends on the others in flight, so:

- Every row of a level, failed requests and Timeouts included, is a measurement: the level's
  cache entries (errors too, whatever ``--cache-errors`` says) are written together once its
  last request is recorded, so a rerun serves the whole level and sends nothing.
- Rows are committed as they come (a crash loses little) with ``level_complete = 0``; when the
  level's last row is committed they are set to 1 in one transaction, then cached. A level
  interrupted midway (Ctrl-C, kill -9, the circuit breaker) keeps its rows at 0: they stay in
  the db as what happened, but they are never cached, never restored into the cache and never
  counted as the level's measurement (validate ignores them in its checks).
- A level the cache holds only part of (an interrupted run, a cache written before levels
  were units, which held successes only) is measured again whole: its entries are dropped from
  the cache (the db keeps the rows) rather than topped up with a few requests sent alone.

``level_items`` (data.py, optional) gives each level its own requests, e.g. concurrency x N.
"""

import dataclasses
import sys
import time
from collections import defaultdict

from .kind import Params, level_items
from .tracking import is_result_column

COLUMN = "level_complete"  # 1: the row belongs to a level measured whole; 0: interrupted
LOAD = "concurrency" in {field.name for field in dataclasses.fields(Params)}
CHUNK = 900  # cache keys per UPDATE (SQLite's variable limit is 999 in old versions)


def items_of(items: list, params) -> list:
    """The datapoints ``params`` computes: ``level_items(items, params)`` if the kind has it."""
    return list(level_items(items, params)) if level_items else items


# plan.Plan's items_of: None when every configuration computes the same items
ITEMS_OF = items_of if level_items else None


def restorable(row: dict, otherwise: bool) -> bool:
    """May this computed db row go (back) into the cache? A load level's row only if its level
    was measured whole, errors included; a row without the column (other kinds, rows written
    before levels were units) as ``otherwise`` says."""
    state = row.get(COLUMN)
    return otherwise if state is None else state == 1


def recording(recorder, plan, cache):
    """The run's recorder: as it is, or for load levels wrapped so levels are units."""
    if not LOAD:
        return recorder
    # a level's keys, before any is served (a load test's grid is small: a dict is fine)
    work = {key: (item, params) for params, batch in plan.batches() for key, item, _ in batch}
    return LevelRecorder(recorder, work, cache)


def notice(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class LevelRecorder:
    """Records rows like the Recorder it wraps; holds a level's cache entries until the level's
    last row is committed, then marks its rows complete and caches them all."""

    def __init__(self, recorder, work: dict, cache):
        self.recorder = recorder
        self.level_of = {}  # key -> its level (params), for the levels to measure in this run
        self.remaining = {}  # level -> keys not recorded yet
        self.held = defaultdict(list)  # level -> its cache entries, written once it is whole
        keys = defaultdict(list)
        for key, (_, params) in work.items():
            keys[params].append(key)
        for params, level in keys.items():
            entries = {key: cache.get(key) for key in level}
            cached = [key for key, entry in entries.items() if entry is not None]
            runs = {entries[key]["cache"] for key in cached}
            if len(cached) == len(level) and len(runs) == 1:
                continue  # measured whole by one run: served from the cache
            if cached:  # part of it, or parts of several runs (topped up before levels were units)
                drop(cache, cached)
                self.supersede(level)
                notice(
                    f"level concurrency={params.concurrency} (config {params.config_id}): the "
                    f"cache held {len(cached)} of its {len(level)} results, from {len(runs)} "
                    "run(s): measuring the whole level again"
                )
            self.remaining[params] = set(level)
            self.level_of.update(dict.fromkeys(level, params))

    def supersede(self, keys: list[str]) -> None:
        """Rows of ``keys`` written before levels were units (no mark) stop counting as the
        level's measurement: it is measured again whole (rows of interrupted levels are 0)."""
        writer = self.recorder.writer
        if not {"cache", "cache_key"} <= writer.columns:
            return  # no rows yet (a cache without its db)
        with writer.connection:
            writer.ensure_columns([COLUMN], [{COLUMN: 0}])
            for start in range(0, len(keys), CHUNK):
                chunk = keys[start : start + CHUNK]
                writer.connection.execute(
                    f'UPDATE "{writer.table}" SET {COLUMN} = 0 WHERE {COLUMN} IS NULL '
                    f"AND cache = '' AND cache_key IN ({', '.join('?' * len(chunk))})",
                    chunk,
                )

    def __getattr__(self, name):  # tick, flush, writer, ...: the wrapped Recorder's
        return getattr(self.recorder, name)

    def add(self, row: dict, seconds: float = 0.0) -> None:
        params = self.level_of.get(row["cache_key"])
        if params is None:  # served from the cache: its level was measured whole
            self.recorder.add({**row, COLUMN: 1}, seconds)
            return
        result = {k: v for k, v in row.items() if is_result_column(k) and v is not None}
        value = {"result": result, "cache": self.recorder.writer.track_id}
        self.held[params].append((row["cache_key"], value, row["config_id"]))
        self.recorder.add({**row, COLUMN: 0}, seconds)  # cached with its level
        self.remaining[params].discard(row["cache_key"])
        if not self.remaining[params]:
            self.finish(params)

    def finish(self, params) -> None:
        """The level's last row arrived: commit, mark the level's rows complete, cache them."""
        now = time.monotonic()
        self.recorder.flush_rows(now)
        entries = self.held.pop(params)
        writer = self.recorder.writer
        with writer.connection:  # one transaction: a level is marked whole or not at all
            for start in range(0, len(entries), CHUNK):
                keys = [key for key, _, _ in entries[start : start + CHUNK]]
                writer.connection.execute(
                    f'UPDATE "{writer.table}" SET {COLUMN} = 1 WHERE track_id = ? '
                    f"AND cache = '' AND cache_key IN ({', '.join('?' * len(keys))})",
                    [writer.track_id, *keys],
                )
        self.recorder.entries += entries  # cached only once the level is marked whole
        self.recorder.flush_cache(now)


def drop(cache, keys: list[str]) -> None:
    """Remove ``keys`` from the cache (derived from the db, which keeps their rows)."""
    with cache.store.transact():
        for key in keys:
            cache.store.delete(key)
