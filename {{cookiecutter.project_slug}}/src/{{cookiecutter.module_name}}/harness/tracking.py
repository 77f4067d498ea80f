"""Where results go: the ``predictions`` and ``metrics`` tables, and each run's metadata.

Both tables live in one SQLite file that ``xetrack.Reader`` and the ``xt`` CLI read (with
either engine: xetrack's DuckDB engine attaches the same SQLite file).
"""

import dataclasses
import platform
import sqlite3
import subprocess
from datetime import datetime, timedelta
from importlib.metadata import version
from pathlib import Path

from xetrack import Reader
from xetrack.engine import SqliteEngine

from .errors import EngineUnavailable, db_error

PREDICTIONS = "predictions"
METRICS = "metrics"
# How xetrack reads this db and writes the metrics table (predictions rows always go in through
# sqlite3, see RowWriter): "sqlite", or "duckdb" (DuckDB attaches the same SQLite file).
ENGINE = "{{ cookiecutter.engine }}"
JOURNALS = ("delete", "wal")  # run --journal: the results db's journal mode (set_journal)


def require_engine(engine: str) -> None:
    """Raise EngineUnavailable now, before any datapoint runs, if ``engine`` cannot be used."""
    if engine == "sqlite":
        return
    if engine != "duckdb":
        raise EngineUnavailable(f"engine {engine!r} is not an option: use sqlite or duckdb.")
    try:
        from .duckdb_setup import ensure_sqlite_extension
    except ModuleNotFoundError as error:
        if error.name == "duckdb":
            raise EngineUnavailable(
                "the duckdb package is not installed: run `make install`, or use --engine sqlite."
            ) from None
        raise EngineUnavailable(
            "this project was baked with engine=sqlite: it does not bring DuckDB's sqlite "
            "extension, which xetrack's DuckDB engine would download at run time. Use --engine "
            "sqlite, or DuckDB SQL over a DataFrame (README, 'Looking at the results')."
        ) from None
    ensure_sqlite_extension()


# What runs write: results dbs and their SQLite side files (-journal, -wal, -shm) and locks, the
# cache and reports. They never make the tree dirty (git pathspecs: `*` also matches `/`).
WRITTEN_BY_RUNS = ("*.db", "*.db-*", "*.db.lock", ".cache", "reports")


def git_state(root: Path, ignore: tuple[str, ...] = ()) -> tuple[str, bool]:
    """(commit, dirty) of the git work tree at ``root``; ("", False) outside git.

    Files runs write (``WRITTEN_BY_RUNS``) and the paths in ``ignore`` (e.g. a results db not
    named *.db) do not make the tree dirty; paths outside ``root`` are left out.
    """

    def git(*args):
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return "", False
    inside = []
    for path in ignore:
        try:
            inside.append(Path(path).absolute().relative_to(Path(root).absolute()).as_posix())
        except ValueError:  # outside the work tree: git would refuse the pathspec
            continue
    excluded = [f":(exclude){path}" for path in (*WRITTEN_BY_RUNS, *inside)]
    return commit, bool(git("status", "--porcelain", "--", ".", *excluded))


def git_diff_stat(root: Path, since: str) -> str:
    done = subprocess.run(
        ["git", "diff", "--stat", since, "--", "."], cwd=root, capture_output=True, text=True
    )
    return done.stdout.rstrip() or done.stderr.rstrip()


def last_commit(db: Path) -> str:
    """The git commit of the latest experiment run recorded in ``db`` ("" if none)."""
    if not table_exists(db, PREDICTIONS):
        return ""
    with sqlite3.connect(db) as connection:
        columns = table_columns(connection, PREDICTIONS)
        if not {"git_commit", "phase"} <= columns:
            return ""
        row = connection.execute(
            f"SELECT git_commit FROM {PREDICTIONS} WHERE phase = 'experiment' "
            "ORDER BY timestamp DESC LIMIT 1"
        ).fetchone()
    return (row[0] or "") if row else ""


def run_metadata(
    experiment: str,
    phase: str,
    predict_version: str,
    git: tuple[str, bool],
    forced: bool = False,
    fingerprint: str = "",
    neutral_change: bool = False,
    replicate: int = 0,
) -> dict:
    """Columns recorded on every row of a run (fingerprint: harness/fingerprint.py)."""
    commit, dirty = git
    return {
        "experiment": experiment,
        "phase": phase,
        "git_commit": commit,
        "git_dirty": int(dirty),
        "forced": int(forced),  # an experiment run on a dirty tree, on purpose
        "predict_version": predict_version,
        "predict_fingerprint": fingerprint,
        # predict's code changed without a PREDICT_VERSION bump, declared neutral on purpose
        "neutral_change": int(neutral_change),
        "replicate": replicate,  # run --replicate: the same configurations measured again
        "python_version": platform.python_version(),
        "xetrack_version": version("xetrack"),
    }


RUN_METADATA_COLUMNS = tuple(run_metadata("", "", "", ("", False)))
# Columns the runner puts around predict's result (besides run metadata).
LINEAGE_COLUMNS = ("config_id", "cache", "cache_key", "reused", "row_digest", "level_complete")


def is_result_column(name: str) -> bool:
    """A column predict's result filled (not item, params, lineage or run metadata)."""
    context = ("track_id", "timestamp", *LINEAGE_COLUMNS, *RUN_METADATA_COLUMNS)
    return name not in context and not name.startswith(("item_", "params_"))


def flatten(prefix: str, record) -> dict:
    """``params.lexicon`` -> ``params_lexicon``: the columns xetrack's track() would make."""
    columns = {}
    for field in dataclasses.fields(record):
        value = getattr(record, field.name)
        name = f"{prefix}_{field.name}"
        if dataclasses.is_dataclass(value):
            columns |= flatten(name, value)
        elif isinstance(value, (tuple, frozenset, bytes)):
            columns[name] = str(value)
        else:
            columns[name] = value
    return columns


class RowWriter:
    """Appends rows to one table of the SQLite file, many rows per transaction.

    xetrack's ``track()``/``log()`` commit one row per call (about 1 ms on disk) and its
    ``log_batch()`` costs about 260 us a row and silently drops a batch on a key clash, so rows
    go in with one ``executemany`` per batch, in xetrack's schema (``track_id``, ``timestamp``
    as the key, columns typed as xetrack types them).
    """

    def __init__(self, db: Path, table: str, track_id: str, journal: str = "", column_types=None):
        # a column's type when its first batch holds no value (an Optional param left None):
        # TEXT would turn the numbers written later into text
        self.column_types = column_types or {}
        self.connection = sqlite3.connect(db, timeout=60)
        if journal == "wal":  # per connection (set_journal sets the file's mode, before)
            self.connection.execute("PRAGMA synchronous = NORMAL")
        self.table = table
        self.track_id = track_id
        self.connection.execute(
            f'CREATE TABLE IF NOT EXISTS "{table}" (track_id TEXT, timestamp TEXT, '
            "PRIMARY KEY (track_id, timestamp))"
        )
        if table == PREDICTIONS:
            # `xt stats describe` and `xt head` without --table read the table "default" only
            # (xetrack 0.7.0): a view of the predictions lets them work on this db.
            self.connection.execute(
                f'CREATE VIEW IF NOT EXISTS "default" AS SELECT * FROM "{PREDICTIONS}"'
            )
        self.columns = table_columns(self.connection, table)
        self._last_stamp = datetime.min

    def ensure_columns(self, names: list[str], rows: list[dict]) -> None:
        """Add the columns among ``names`` that the table lacks, typed from the batch's values."""
        for name in names:
            if name not in self.columns:
                if not name.isidentifier():
                    raise ValueError(f"column name {name!r} is not an identifier")
                sql_type = column_type(
                    (row.get(name) for row in rows), self.column_types.get(name, "TEXT")
                )
                self.connection.execute(
                    f'ALTER TABLE "{self.table}" ADD COLUMN "{name}" {sql_type}'
                )
                self.columns.add(name)

    def _stamp(self) -> str:
        # Strictly increasing, so (track_id, timestamp) stays unique at any write rate.
        now = max(datetime.now(), self._last_stamp + timedelta(microseconds=1))
        self._last_stamp = now
        return now.isoformat(" ", "microseconds")  # xetrack's format, 4x faster than strftime

    def write(self, rows: list[dict]) -> None:
        """Commit ``rows`` in one transaction.

        Hot path (every datapoint goes through it): the column list is worked out once per
        batch, not per row.
        """
        if not rows:
            return
        names, shapes = {}, set()  # rows mostly share one key sequence: look at each once
        for row in rows:
            shape = tuple(row)
            if shape not in shapes:
                shapes.add(shape)
                names.update(dict.fromkeys(shape))
        names = list(names)
        with self.connection:
            self.ensure_columns(names, rows)
            values = [[self.track_id, self._stamp(), *map(row.get, names)] for row in rows]
            placeholders = ", ".join("?" * (len(names) + 2))
            columns = ", ".join(f'"{name}"' for name in names)  # quoted: `order` is a fine key
            self.connection.executemany(
                f'INSERT INTO "{self.table}" (track_id, timestamp, {columns}) '
                f"VALUES ({placeholders})",
                values,
            )

    def close(self) -> None:
        self.connection.close()


def set_journal(db: Path, journal: str) -> None:
    """``run --journal``, before anything else opens the db: "delete", SQLite's default rollback
    journal (each commit waits for the disk: safe against kill -9 and power loss), or "wal"
    (write-ahead log; with the RowWriter's synchronous=NORMAL commits do not wait for the disk:
    safe against kill -9, but a power loss or OS crash may lose the last commits). The mode
    stays on the file (WAL brings -wal and -shm side files); "delete" sets it back."""
    if journal not in JOURNALS:
        raise ValueError(f"journal {journal!r} is not an option: use {' or '.join(JOURNALS)}")
    connection = sqlite3.connect(db, timeout=60)
    try:
        connection.execute(f"PRAGMA journal_mode = {journal.upper()}")
    finally:
        connection.close()


def column_type(values, default: str = "TEXT") -> str:
    """SQL type of a new column: xetrack's type of its values, REAL when ints and floats mix,
    ``default`` when none has a value.

    One type per column keeps the db readable by xetrack's DuckDB engine, which refuses a float
    in an INTEGER column.
    """
    types = {SqliteEngine.to_sql_type(value) for value in values if value is not None}
    if types == {"INTEGER", "REAL"}:
        return "REAL"
    if not types:
        return default
    return types.pop() if len(types) == 1 else "TEXT"


def table_columns(connection: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')}


def table_exists(db: Path, table: str) -> bool:
    if not Path(db).exists():
        return False
    try:
        with sqlite3.connect(db) as connection:
            found = connection.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
            ).fetchone()
    except sqlite3.DatabaseError as error:  # damaged: one line naming the file, not a traceback
        raise db_error(db, error) from None
    return found is not None


def read_table(db: Path, table: str, engine: str = "sqlite"):
    """The whole table as a DataFrame, read through xetrack; None if it does not exist.

    The existence check comes first because xetrack's Reader creates a missing table.
    """
    if not table_exists(db, table):
        return None
    require_engine(engine)
    try:
        return Reader(str(db), engine=engine, table=table).to_df()
    except Exception as error:  # duckdb is only importable in some projects: match by name
        if type(error).__name__ != "TypeMismatchException":
            raise
        raise EngineUnavailable(
            f"DuckDB cannot read table {table!r} of {db}: {str(error).splitlines()[0]} A column "
            "holds values of two types (SQLite stores them; DuckDB refuses them). Read it with "
            "--engine sqlite, and return one type per key from predict."
        ) from None
