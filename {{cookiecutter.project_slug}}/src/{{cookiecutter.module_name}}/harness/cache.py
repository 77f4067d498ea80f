"""The result cache: a diskcache store keyed by content hashes (see identity.py).

Values have xetrack's layout, ``{"result": ..., "cache": <track_id that computed it>}``, so
``xt cache ls <dir>`` and ``xt cache delete <dir> <track_id>`` work on it. Each entry is tagged
with its configuration id, so one configuration can be cleared on its own.

Many entries at once (``get_many``, ``put_many``): one query per CHUNK keys and one
``executemany`` per batch, in diskcache's own table and encoding (``Cache.disk.store`` and
``fetch``, the rows ``set`` would write), instead of three statements per ``set`` and one per
``get``.
"""

import json
import shutil
import sqlite3
import time
from datetime import datetime
from pathlib import Path

import diskcache

from .errors import CacheError

IN_PROGRESS = "run-in-progress"
CACHE_PAGES = 2048  # SQLite page cache of the cache's connection: 8 MB
CHUNK = 900  # keys per query (SQLite's variable limit is 999 in old versions)
INSERT = (
    "INSERT INTO Cache (key, raw, store_time, expire_time, access_time, access_count, tag, size, "
    "mode, filename, value) VALUES (?, 1, ?, NULL, ?, 0, ?, ?, ?, ?, ?)"
)  # file holding the track_id of a run that has not finished
# diskcache's triggers on each insert (diskcache 5.6, as SQLite keeps them): the entry count and
# the total size in its Settings table, two UPDATE statements per entry
INSERT_TRIGGERS = {
    f"Settings_{name}_insert": f"CREATE TRIGGER Settings_{name}_insert AFTER INSERT ON Cache FOR "
    f'EACH ROW BEGIN UPDATE Settings SET value = value + {added} WHERE key = "{name}"; END'
    for name, added in (("count", "1"), ("size", "NEW.size"))
}


def cleared_marker(directory: Path) -> Path:
    """``.cache/<db>.cleared.json``, beside the cache (clearing it all keeps the marker):
    {config_id or "*": when cache-clear ran}; older results are not restored from the db."""
    return Path(directory).parent / f"{Path(directory).name}.cleared.json"


class ResultCache:
    def __init__(self, directory: Path):
        self.directory = Path(directory)
        # diskcache's defaults evict entries past 1 GB (results would silently be recomputed)
        # and check the size on every set (half the cost of a set): neither fits a result store.
        # Its 64 MB memory map and 32 MB page cache would make the run's memory grow with the
        # cache (up to ~100 MB): the OS caches the file anyway. Statement journals in memory:
        # each insert (diskcache's count and size triggers, its unique key index) journals the
        # pages it changes, and in a temp file that was ~8 pwrite calls per entry, the biggest
        # system-time cost of a first pass (1M datapoints: 33 of 92 us of CPU per datapoint).
        # A statement's journal is dropped when the statement ends: a few pages at a time.
        try:
            self.store = diskcache.Cache(
                str(self.directory),
                tag_index=True,
                eviction_policy="none",
                cull_limit=0,
                sqlite_mmap_size=0,
                sqlite_cache_size=CACHE_PAGES,
                sqlite_temp_store=2,  # MEMORY
            )
            len(self.store)  # reads its index: a damaged file fails here, not mid-run
        except (sqlite3.DatabaseError, OSError) as error:
            raise CacheError(
                f"cache {self.directory} cannot be opened ({type(error).__name__}: {error}): "
                "`run` rebuilds a damaged cache from the results db; otherwise free disk space "
                "or make it writable"
            ) from None

    def get(self, key: str) -> dict | None:
        return self.store.get(key)

    def get_many(self, keys: list[str]) -> dict[str, dict]:
        """The values of the ``keys`` that are cached (missing keys are left out)."""
        found = {}
        disk, now = self.store.disk, time.time()
        for start in range(0, len(keys), CHUNK):
            chunk = keys[start : start + CHUNK]
            rows = self.store._sql(  # diskcache's connection: its settings and its lock
                "SELECT key, mode, filename, value FROM Cache WHERE raw = 1 AND key IN "
                f"({', '.join('?' * len(chunk))}) AND (expire_time IS NULL OR expire_time > ?)",
                (*chunk, now),
            ).fetchall()
            for key, mode, filename, value in rows:
                try:
                    found[key] = disk.fetch(mode, filename, value, False)
                except OSError:  # its file is gone: a miss, as diskcache's get says
                    continue
        return found

    def present(self, keys: list[str]) -> set[str]:
        """The ``keys`` that are cached, without reading their values."""
        found = set()
        for start in range(0, len(keys), CHUNK):
            chunk = keys[start : start + CHUNK]
            rows = self.store._sql(
                f"SELECT key FROM Cache WHERE raw = 1 AND key IN ({', '.join('?' * len(chunk))})",
                chunk,
            )
            found.update(key for (key,) in rows)
        return found

    def put_many(self, entries: list[tuple[str, dict, str]], replace: bool = True) -> int:
        """Store (key, value, config_id) entries in one transaction (the last of a key wins);
        return how many keys were new.

        New keys go in with one ``executemany``, in the order given (key order dirties the
        fewest index pages); a key already cached is replaced by ``set`` (which also removes
        the file of a large old value), or kept as it is if not ``replace``.
        """
        latest = {key: (value, config_id) for key, value, config_id in entries}
        if not latest:
            return 0
        try:
            with self.store.transact():
                keys = list(latest)
                cached, now, store = self.present(keys), time.time(), self.store.disk.store
                rows = []
                for key in keys:
                    value, config_id = latest[key]
                    if key in cached:
                        if replace:
                            self.store.set(key, value, tag=config_id)
                        continue
                    size, mode, filename, db_value = store(value, False, key=key)
                    rows.append((key, now, now, config_id, size, mode, filename, db_value))
                self.insert(rows)
            return len(rows)
        except (sqlite3.DatabaseError, OSError) as error:
            raise CacheError(
                f"cache {self.directory} cannot be written ({type(error).__name__}: {error}): "
                "free disk space or make it writable, or delete it (the results db is intact "
                "and the cache is rebuilt from it)"
            ) from None

    def insert(self, rows: list[tuple]) -> None:
        """INSERT new entries (in a transaction). diskcache's two insert triggers cost more
        than the insert itself: when they are exactly the ones above, they are dropped for the
        executemany and their effect applied once (count + n, size + the sizes), then made
        again, all in this transaction, so no reader ever sees the difference."""
        connection = self.store._con
        names = tuple(INSERT_TRIGGERS)
        found = connection.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN (?, ?)", names
        )
        if not rows or dict(found.fetchall()) != INSERT_TRIGGERS:  # another diskcache: its own
            connection.executemany(INSERT, rows)
            return
        for name in names:
            connection.execute(f"DROP TRIGGER {name}")
        connection.executemany(INSERT, rows)
        added = {"count": len(rows), "size": sum(row[4] for row in rows)}
        for name, value in added.items():
            connection.execute("UPDATE Settings SET value = value + ? WHERE key = ?", (value, name))
        for sql in INSERT_TRIGGERS.values():
            connection.execute(sql)

    def cleared(self) -> dict[str, str]:
        """When ``cache-clear`` ran, per config_id ("*": all): results the db holds from
        before are computed again, not restored from the db."""
        marker = cleared_marker(self.directory)
        return json.loads(marker.read_text()) if marker.exists() else {}

    def interrupted_run(self) -> str | None:
        """track_id of a run that was killed before it finished, if any."""
        marker = self.directory / IN_PROGRESS
        return marker.read_text().strip() if marker.exists() else None

    def mark_running(self, track_id: str) -> None:
        (self.directory / IN_PROGRESS).write_text(track_id)

    def mark_finished(self) -> None:
        (self.directory / IN_PROGRESS).unlink(missing_ok=True)

    def stats(self) -> dict:
        """Entries per configuration, and the size on disk."""
        per_config = {}
        for key in self.store.iterkeys():
            _, tag = self.store.get(key, tag=True)
            per_config[tag] = per_config.get(tag, 0) + 1
        return {"entries": len(self.store), "bytes": self.store.volume(), "per_config": per_config}

    def clear_config(self, config_id: str) -> int:
        return self.store.evict(config_id)

    def close(self) -> None:
        self.store.close()


def listing(directory: Path, as_json: bool = False) -> str:
    """What ``cache-ls`` prints: the entries per configuration and the size on disk."""
    if not Path(directory).exists():
        empty = {"cache": str(directory), "entries": 0, "bytes": 0, "per_config": {}}
        return json.dumps(empty) if as_json else f"no cache at {directory}"
    store = ResultCache(directory)
    stats = store.stats()
    store.close()
    if as_json:
        return json.dumps({"cache": str(directory), **stats}, indent=2)
    from tabulate import tabulate  # cache-ls only: a run never prints a table

    rows = sorted(stats["per_config"].items())
    table = tabulate(rows, headers=("config_id", "entries"))
    return f"{directory}: {stats['entries']} entries, {stats['bytes'] / 1e6:.2f} MB\n{table}"


def clear_all(directory: Path) -> bool:
    """Delete the whole cache directory (and any interrupted-run marker with it)."""
    if Path(directory).exists():
        shutil.rmtree(directory)
        return True
    return False


def record_cleared(directory: Path, config_id: str = "*") -> None:
    """Remember that ``cache-clear`` ran (for one configuration, or "*": all of them)."""
    marker = cleared_marker(directory)
    cleared = json.loads(marker.read_text()) if marker.exists() else {}
    cleared[config_id] = datetime.now().isoformat(" ", "microseconds")  # the rows' format
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(cleared))
