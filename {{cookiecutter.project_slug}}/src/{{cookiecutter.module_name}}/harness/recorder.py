"""Rows first, then their cache entries: the order exactly-once relies on (see runner.py)."""

import time

from .cache import ResultCache
from .cache_restore import cache_rows
from .tracking import RowWriter


class Recorder:
    """Buffers rows and commits them; writes the run's cache entries once its rows are all in.

    Rows are committed once they hold ``max_unsaved_seconds`` of computation (or
    ``max_batch_rows`` rows, or after 1 s). Cache entries are written at the end of the run
    (``flush``), from the committed rows, in key order (cache_restore.cache_rows): writing them
    as they come, in random key order, cost more than writing the rows themselves. Entries are
    only ever written after their rows are committed, so a run killed before it cached them
    leaves its rows for the next run to cache (``heal``): nothing committed is computed again.
    A load level's entries (levels.py) are written as soon as the level is whole (``entries``).
    """

    def __init__(self, writer: RowWriter, cache: ResultCache, options):
        self.writer, self.cache, self.options = writer, cache, options
        self.rows, self.entries = [], []  # entries: a whole load level's, written at once
        self.computed = False  # this run computed rows: cache_rows decides which are cached
        self.unsaved_seconds = 0.0
        self.last_flush = time.monotonic()

    def add(self, row: dict, seconds: float = 0.0) -> None:
        self.rows.append(row)
        self.computed |= row["cache"] == ""  # not served from the cache
        self.unsaved_seconds += seconds
        now = time.monotonic()
        if (
            len(self.rows) >= self.options.max_batch_rows
            or self.unsaved_seconds >= self.options.max_unsaved_seconds
            or now - self.last_flush >= 1.0
        ):
            self.flush_rows(now)

    def tick(self) -> None:
        """The 1 s rule while nothing arrives (a datapoint hangs): finished rows get committed."""
        now = time.monotonic()
        if self.rows and now - self.last_flush >= 1.0:
            self.flush_rows(now)

    def flush_rows(self, now: float) -> None:
        # The buffer is emptied first: a failed or interrupted commit never writes a row twice.
        rows = self.rows
        self.rows = []
        self.unsaved_seconds = 0.0
        self.last_flush = now
        self.writer.write(rows)

    def flush_cache(self, now: float) -> None:
        self.cache.put_many(self.entries)
        self.entries = []

    def flush(self) -> None:
        """End of the run (also after Ctrl-C or an error): commit, then cache."""
        self.flush_rows(time.monotonic())  # committed first ...
        self.flush_cache(time.monotonic())
        if self.computed:  # ... then cached: heal() covers a crash in between
            cache_rows(self.writer, self.cache, self.writer.track_id, self.options.cache_errors)
            self.computed = False
