"""Errors the machinery raises for a problem of the setup, not of a datapoint.

Each is an ``OperationalError``: the command line prints its message, one line saying what
went wrong, which file and the fix, and exits with status 2 (``--debug`` or ``BENCH_DEBUG=1``
shows the traceback instead).
"""

import sqlite3
from pathlib import Path


class OperationalError(RuntimeError):
    """A problem of the setup; the message says what, which file and how to fix it."""


class EngineUnavailable(OperationalError):
    """The engine cannot be used here; the message says why and how to fix it."""


class ParallelismUnavailable(OperationalError):
    """The parallelism cannot be used here; the message says why and how to fix it."""


class DataError(OperationalError):
    """The dataset cannot be used: unreadable, empty, or one input_id with two contents."""


class CacheError(OperationalError):
    """The result cache cannot be written (it is rebuilt from the db when it cannot be read)."""


def db_error(db: Path, error: Exception) -> OperationalError:
    """The OperationalError for a sqlite3/OS error met on the results db ``db``."""
    text = str(error)
    lowered = text.lower()
    if "full" in lowered or getattr(error, "errno", None) == 28:
        fix = "could not be written, the disk is full: free some space and run again"
    elif "disk i/o" in lowered:
        fix = "could not be written (disk I/O error): check free space and the disk, run again"
    elif "readonly" in lowered or "read-only" in lowered or "permission" in lowered:
        fix = "cannot be written (read-only): make it and its folder writable, or pass --db"
    elif "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        fix = (
            "is damaged (not a readable SQLite db): restore it (e.g. `git checkout -- "
            f"{db}`) or move it aside"
        )
    elif "locked" in lowered:
        fix = "is locked by another program: close it (or wait) and run again"
    else:
        fix = "cannot be opened: check the file, its folder and their permissions"
    return OperationalError(f"results db {db} {fix} ({type(error).__name__}: {text})")


DB_ERRORS = (sqlite3.DatabaseError, OSError)
