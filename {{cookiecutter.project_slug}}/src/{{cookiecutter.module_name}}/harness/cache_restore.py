"""The db is the source of truth; the cache is derived from it.

A cache that is missing (a fresh clone with a committed db, a deleted ``.cache/``), empty,
zero-length or damaged is rebuilt from the db's computed rows before a run: those datapoints are
served as cache hits, not computed again. Error rows are restored only under ``--cache-errors``
(as they are cached). Datapoints cleared on purpose (``cache-clear``) are not restored: rows
computed before the clear stay in the db but are computed again.
"""

import shutil
import sys
from pathlib import Path

from .cache import ResultCache
from .errors import CacheError
from .levels import restorable
from .tracking import RowWriter, is_result_column

CHUNK = 900  # cache keys per query (SQLite's variable limit is 999 in old versions)


def notice(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def open_cache(directory: Path) -> ResultCache:
    """The cache at ``directory``; a damaged one is deleted (it is derived) and started afresh."""
    try:
        return ResultCache(directory)
    except CacheError as error:
        if not is_damage(error):  # a full disk or a read-only folder: deleting would not help
            raise
        notice(f"cache {directory} is damaged: rebuilding it from the results db")
    try:
        shutil.rmtree(directory)
        return ResultCache(directory)
    except (CacheError, OSError) as error:
        raise CacheError(
            f"cache {directory} cannot be rebuilt ({error}): delete the folder by hand and run "
            "again (the results db is intact)"
        ) from None


def is_damage(error: Exception) -> bool:
    text = str(error).lower()
    return any(word in text for word in ("not a database", "malformed", "corrupt"))


def result_of(row: dict) -> dict:
    """predict's result, as the cache stores it, from a db row."""
    return {name: row[name] for name in row if is_result_column(name) and row[name] is not None}


def restore_from_db(
    db: Path, writer: RowWriter, cache: ResultCache, work: dict, cache_errors: bool
) -> int:
    """Cache the db's computed rows of ``work``'s keys that the cache lacks; return how many."""
    if not {"cache_key", "cache", "config_id"} <= writer.columns:
        return 0
    missing = [key for key in work if key not in cache.store]
    cleared = cache.cleared()
    entries = {}
    for start in range(0, len(missing), CHUNK):
        chunk = missing[start : start + CHUNK]
        cursor = writer.connection.execute(
            f"SELECT * FROM \"{writer.table}\" WHERE cache = '' AND cache_key IN "
            f"({', '.join('?' * len(chunk))}) ORDER BY timestamp",
            chunk,
        )
        names = [column[0] for column in cursor.description]
        for values in cursor:
            row = dict(zip(names, values, strict=True))
            if not restorable(row, cache_errors or not row.get("error")):  # levels.py
                continue
            since = max(cleared.get("*", ""), cleared.get(row["config_id"], ""))
            if since and str(row["timestamp"]) <= since:
                continue
            entry = {"result": result_of(row), "cache": row["track_id"]}
            entries[row["cache_key"]] = (row["cache_key"], entry, row["config_id"])  # latest
    cache.put_many(list(entries.values()))
    if entries:
        notice(
            f"cache {cache.directory} lacked {len(entries)} results that {db} holds: "
            "restored them from the db (nothing is computed again)"
        )
    return len(entries)
