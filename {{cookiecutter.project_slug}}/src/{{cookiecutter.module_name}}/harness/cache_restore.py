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
from .levels import COLUMN as LEVEL
from .levels import restorable as level_restorable
from .tracking import RowWriter, is_result_column

CHUNK = 900  # cache keys per query (SQLite's variable limit is 999 in old versions)
WRITE_CHUNK = 10_000  # entries per cache transaction (cache_rows)


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
    db: Path, writer: RowWriter, cache: ResultCache, config_ids: set[str], cache_errors: bool
) -> int:
    """Cache the db's computed rows of ``config_ids`` that the cache lacks; return how many.

    Streamed, in chunks: a first pass reads the computed rows' keys only and stops at the first
    one the cache lacks (usually there is none: one scan, no value read). Only then a second
    pass restores them, latest row first (the first restored entry of a key wins).
    """
    columns = writer.columns
    if not {"cache_key", "cache", "config_id"} <= columns:
        return 0
    cleared = cache.cleared()
    error = "error" if "error" in columns else "NULL"
    level = LEVEL if LEVEL in columns else "NULL"

    def restorable(key, config_id, failed, timestamp, complete) -> bool:
        # load levels (levels.py): only rows of a level measured whole, errors included
        if config_id not in config_ids or not level_restorable(
            {LEVEL: complete}, cache_errors or not failed
        ):
            return False
        since = max(cleared.get("*", ""), cleared.get(config_id, ""))
        return not (since and str(timestamp) <= since)

    keys = writer.connection.execute(
        f'SELECT cache_key, config_id, {error}, timestamp, {level} FROM "{writer.table}" '
        "WHERE cache = ''"
    )
    while chunk := keys.fetchmany(CHUNK):
        wanted = {row[0] for row in chunk if restorable(*row)}
        if len(cache.present(list(wanted))) < len(wanted):
            break
    else:
        return 0
    keys.close()
    cursor = writer.connection.execute(
        f"SELECT * FROM \"{writer.table}\" WHERE cache = '' ORDER BY timestamp DESC"
    )
    names = [column[0] for column in cursor.description]
    restored = 0
    while chunk := cursor.fetchmany(CHUNK):
        entries = {}
        for values in chunk:
            row = dict(zip(names, values, strict=True))
            key = row["cache_key"]
            if key in entries or not restorable(
                key, row["config_id"], row.get("error"), row["timestamp"], row.get(LEVEL)
            ):
                continue
            entry = {"result": result_of(row), "cache": row["track_id"]}
            entries[key] = (key, entry, row["config_id"])  # the latest row of the key
        cached = cache.present(list(entries))
        fresh = [entry for key, entry in entries.items() if key not in cached]
        cache.put_many(fresh)
        restored += len(fresh)
    if restored:
        notice(
            f"cache {cache.directory} lacked {restored} results that {db} holds: "
            "restored them from the db (nothing is computed again)"
        )
    return restored


def heal(writer: RowWriter, cache: ResultCache, killed_track_id: str, cache_errors: bool) -> int:
    """Cache the results a killed run committed but did not get to cache."""
    return cache_rows(writer, cache, killed_track_id, cache_errors)


def cache_rows(writer: RowWriter, cache: ResultCache, track_id: str, cache_errors: bool) -> int:
    """Cache the computed rows of run ``track_id`` that the cache lacks; return how many.

    A run writes its cache entries here, once its rows are all committed (recorder.py), and the
    next run does the same for a run that was killed first (``heal``). The rows are read back
    sorted by key and written WRITE_CHUNK at a time: in key order each page of diskcache's
    unique key index is rewritten about once per run, where entries in the order they were
    computed (random SHA-256 keys) rewrite most of the index on every batch. Memory stays
    flat: SQLite sorts on disk, one chunk is in Python at a time. Which rows: as the run
    decides when it computes them (errors only with ``cache_errors``, never a Timeout, a load
    level only when measured whole); a key the cache holds already is left as it is.
    """
    columns = writer.columns
    if not {"cache_key", "cache", "config_id"} <= columns:
        return 0
    results = sorted(name for name in columns if is_result_column(name))
    flags = [name if name in columns else "NULL" for name in ("error", "error_type", LEVEL)]
    selected = ", ".join(["cache_key", "config_id", *flags, *(f'"{n}"' for n in results)])
    cursor = writer.connection.execute(
        f"SELECT {selected} FROM \"{writer.table}\" WHERE track_id = ? AND cache = '' "
        "ORDER BY cache_key",
        (track_id,),
    )
    written = 0
    while chunk := cursor.fetchmany(WRITE_CHUNK):
        entries = []
        for key, config_id, error, error_type, complete, *values in chunk:
            if cacheable(error, error_type, complete, cache_errors):
                result = {n: v for n, v in zip(results, values, strict=True) if v is not None}
                entries.append((key, {"result": result, "cache": track_id}, config_id))
        written += cache.put_many(entries, replace=False)
    cursor.close()
    return written


def cacheable(error, error_type, complete, cache_errors: bool) -> bool:
    """Is a computed row's result cached? Not a Timeout (retried next run), an error only with
    ``--cache-errors``; a load level's row only if its level was measured whole."""
    return level_restorable(
        {LEVEL: complete}, error_type != "Timeout" and (cache_errors or not error)
    )
