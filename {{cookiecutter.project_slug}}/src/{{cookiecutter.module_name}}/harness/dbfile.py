"""The results db as a file: one that cannot be written is refused before anything runs."""

import os
import sqlite3
from pathlib import Path

from .errors import OperationalError, db_error


def require_writable(db: Path) -> None:
    """Raise an OperationalError (what, which file, the fix) if ``db`` cannot be written:
    read-only, damaged, locked, or in a missing or read-only folder."""
    db = Path(db)
    if not db.exists():
        folder = db.resolve().parent
        if not folder.is_dir():
            raise OperationalError(
                f"results db {db}: its folder {folder} does not exist: create it, or pass --db "
                "another path"
            )
        if not os.access(folder, os.W_OK):
            raise db_error(db, PermissionError(f"folder {folder} is read-only"))
        return
    try:
        connection = sqlite3.connect(db, timeout=5, isolation_level=None)
        try:  # a real write (rolled back): needs the file, its journal and the folder
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("CREATE TABLE bench_write_check (x)")
            connection.execute("ROLLBACK")
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:
        raise db_error(db, error) from None
