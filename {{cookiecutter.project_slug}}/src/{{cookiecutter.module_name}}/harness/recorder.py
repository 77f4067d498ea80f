"""Rows first, then their cache entries: the order exactly-once relies on (see runner.py)."""

import time

from .cache import ResultCache
from .tracking import RowWriter

# Cache entries are written CACHE_BATCH at a time (or after CACHE_SECONDS): every insert of a
# random key rewrites index pages of diskcache's table, so fewer, larger transactions cost
# less than half as much per entry (1,000 -> 10,000: ~100 -> ~50 us at 100k entries).
CACHE_BATCH = 10_000
CACHE_SECONDS = 5.0


class Recorder:
    """Buffers rows and cache entries; commits rows first, then writes their cache entries.

    Rows are committed once they hold ``max_unsaved_seconds`` of computation (or
    ``max_batch_rows`` rows, or after 1 s). Cache entries wait for larger batches (CACHE_BATCH,
    or CACHE_SECONDS): one diskcache transaction per row would double the cost of the per-row
    mode, and entries are only ever written after their rows are committed, so ``heal`` can
    always rebuild the missing ones.
    """

    def __init__(self, writer: RowWriter, cache: ResultCache, options):
        self.writer, self.cache, self.options = writer, cache, options
        self.rows, self.pending, self.entries = [], [], []  # entries: of committed rows
        self.unsaved_seconds = 0.0
        self.last_flush = self.last_cache_flush = time.monotonic()

    def add(self, row: dict, entry: tuple | None = None, seconds: float = 0.0) -> None:
        self.rows.append(row)
        if entry is not None:
            self.pending.append(entry)
        self.unsaved_seconds += seconds
        now = time.monotonic()
        if (
            len(self.rows) >= self.options.max_batch_rows
            or self.unsaved_seconds >= self.options.max_unsaved_seconds
            or now - self.last_flush >= 1.0
        ):
            self.flush_rows(now)
            if len(self.entries) >= CACHE_BATCH or now - self.last_cache_flush >= CACHE_SECONDS:
                self.flush_cache(now)

    def tick(self) -> None:
        """The 1 s rule while nothing arrives (a datapoint hangs): finished rows get committed."""
        now = time.monotonic()
        if self.rows and now - self.last_flush >= 1.0:
            self.flush_rows(now)
        if self.entries and now - self.last_cache_flush >= CACHE_SECONDS:
            self.flush_cache(now)

    def flush_rows(self, now: float) -> None:
        # The buffer is emptied first: a failed or interrupted commit never writes a row twice.
        rows, pending = self.rows, self.pending
        self.rows, self.pending = [], []
        self.unsaved_seconds = 0.0
        self.last_flush = now
        self.writer.write(rows)
        self.entries += pending  # cached only once their rows are committed

    def flush_cache(self, now: float) -> None:
        self.cache.put_many(self.entries)
        self.entries = []
        self.last_cache_flush = now

    def flush(self) -> None:
        now = time.monotonic()
        self.flush_rows(now)  # committed first ...
        self.flush_cache(now)  # ... then cached: heal() covers a crash in between
