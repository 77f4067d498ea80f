"""Reading the predictions table in SQL: the runs as aggregates, then one configuration at a time.

compare and rank never load a whole table: the runs come from one GROUP BY; a run's rows come
ordered by configuration, and only the columns the kind's ``summarize`` and ``row_values`` read
(found on a sample of the rows) are kept, one configuration in memory at a time.

A row is a ``Row``: a dict that notes a key it lacks but the table has. The point summaries of
each configuration read every row, so a column the sample missed is noticed there, and that
configuration is read again with the column (``Rows.check``): a number is never computed from a
column that was not read.
"""

import itertools
import sqlite3
from pathlib import Path

import numpy as np

from .. import kind
from ..level_checks import COLUMN as LEVEL
from ..tracking import PREDICTIONS, is_result_column
from .stats import plain, summary

SAMPLE = 500  # rows per run on which the columns summarize and row_values read are found


def connect(db: Path) -> sqlite3.Connection:
    """A read-only connection (compare never writes, and works on a db it may not write)."""
    return sqlite3.connect(Path(db).resolve().as_uri() + "?mode=ro", uri=True)


def table_columns(connection) -> list[str]:
    return [r[1] for r in connection.execute(f"PRAGMA table_info({PREDICTIONS})")]


def quoted(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def run_list(db: Path, run_columns: tuple) -> list[dict]:
    """What ``runs.runs`` gives from the whole table, as one GROUP BY: one dict per run (track_id,
    started, rows, run metadata), oldest first. Metadata is the same on every row of a run."""
    with connect(db) as connection:
        present = set(table_columns(connection))
        columns = [c for c in run_columns if c in present]
        # MAX ignores NULLs: the run's value (the first non-null one, as pandas' first())
        picked = "".join(f", MAX({quoted(c)})" for c in columns)
        found = connection.execute(
            f"SELECT track_id, MIN(timestamp), COUNT(*){picked} FROM {PREDICTIONS} "
            "GROUP BY track_id ORDER BY MIN(timestamp)"
        ).fetchall()
    runs = []
    for track_id, started, rows, *values in found:
        run = {"track_id": track_id, "started": str(started), "rows": int(rows)}
        run.update({c: plain(v) for c, v in zip(columns, values, strict=True)})
        runs.append(run)
    return runs


class Row(dict):
    """A result row; asking for a key it lacks that the table has notes it (``missed``)."""

    __slots__ = ()
    table: frozenset = frozenset()  # the table's result columns
    missed: set = set()

    def note(self, key) -> None:
        if key in self.table and not dict.__contains__(self, key):
            self.missed.add(key)

    def get(self, key, default=None):
        try:  # a key the row has: nothing to note (the fast path, millions of calls)
            return dict.__getitem__(self, key)
        except KeyError:
            self.note(key)
            return default

    def __missing__(self, key):
        self.note(key)
        raise KeyError(key)

    def __contains__(self, key) -> bool:
        if dict.__contains__(self, key):
            return True
        self.note(key)
        return False

    def note_all(self) -> None:
        self.missed.update(self.table - dict.keys(self))

    def keys(self):
        self.note_all()
        return dict.keys(self)

    def __iter__(self):
        return iter(self.keys())

    def items(self):
        self.note_all()
        return dict.items(self)

    def values(self):
        self.note_all()
        return dict.values(self)


class Reader(Row):
    """A row that notes every key asked for (``missed``: here, the columns read)."""

    __slots__ = ()

    def get(self, key, default=None):
        self.note(key)
        return dict.get(self, key, default)

    def __contains__(self, key) -> bool:
        self.note(key)
        return dict.__contains__(self, key)

    def note(self, key) -> None:
        self.missed.add(key)

    def note_all(self) -> None:
        self.missed.update(dict.keys(self))


class Plain(dict):
    """A checked ``Row`` (its class is switched once its configuration was checked): dict speed
    for the resamples."""

    __slots__ = ()


class Checked(dict):
    """A checked configuration: input_id -> Plain row, and what the check computed on its rows
    in input_id order (compare's order: core reuses them rather than read a million rows
    again): ``summary``, and ``arrays`` (``row_arrays``, or None when row_values was not read)."""

    __slots__ = ("summary", "arrays")


def row_arrays(results: list[dict]) -> dict[str, np.ndarray]:
    """Per-datapoint metric -> its value on each of ``results``, NaN where it is missing."""
    values = [kind.row_values(r) for r in results]
    # None (and NaN) as NaN: numpy's conversion, no call per value
    return {
        name: np.array([v.get(name) for v in values], float) for name in kind.ROW_HIGHER_IS_BETTER
    }


def row_class(base: type, table) -> type:
    """A class of rows of its own (``missed`` is the class's: one set for a run's rows)."""
    attributes = {"__slots__": (), "table": frozenset(table), "missed": set()}
    return type(base.__name__, (base,), attributes)


class Rows:
    """One run of a db, read one configuration at a time (see the module's docstring)."""

    def __init__(self, db: Path, track_id: str):
        self.db, self.track_id = Path(db), track_id
        with connect(db) as connection:
            names = table_columns(connection)
        self.result_columns = [c for c in names if is_result_column(c)]
        # rows of a load level interrupted midway are not measurements (levels.py)
        self.where = "track_id = ?" + (f" AND {LEVEL} IS NOT 0" if LEVEL in names else "")
        self.params_columns = sorted(c for c in names if c.startswith("params_"))
        self.row = row_class(Row, self.result_columns)
        self.columns = self.sampled_columns()

    def sampled_columns(self) -> list[str]:
        """The result columns summarize and row_values read on the run's first SAMPLE rows."""
        with connect(self.db) as connection:
            select = ", ".join(quoted(c) for c in self.result_columns)
            sample = connection.execute(
                f"SELECT {select} FROM {PREDICTIONS} WHERE {self.where} ORDER BY rowid "
                f"LIMIT {SAMPLE}",
                (self.track_id,),
            ).fetchall()
        reader = row_class(Reader, ())
        rows = [reader(zip(self.result_columns, values, strict=True)) for values in sample]
        kind.summarize(rows)
        for row in rows:
            kind.row_values(row)
        wanted = {"input_id", kind.GROUP} | reader.missed
        return [c for c in self.result_columns if c in wanted]

    def stream(self):
        """(config_id, params, input_id -> Row) of each configuration, in config_id order (read
        again from the next configuration on when ``checked`` added a column)."""
        last = ""
        while True:
            columns = list(self.columns)
            select = ", ".join(quoted(c) for c in [*self.params_columns, *columns])
            with connect(self.db) as connection:
                cursor = connection.execute(
                    f"SELECT config_id, {select} FROM {PREDICTIONS} "
                    f"WHERE {self.where} AND config_id > ? ORDER BY config_id, rowid",
                    (self.track_id, last),
                )
                cursor.arraysize = 10_000  # rows per fetch
                rows = itertools.chain.from_iterable(iter(cursor.fetchmany, []))
                for last, group in itertools.groupby(rows, key=lambda r: r[0]):
                    yield self.configuration(last, group, columns)
                    if self.columns != columns:
                        break
                else:
                    return

    def configuration(self, config_id: str, group, columns: list[str]):
        """(config_id, params, input_id -> Row) from the SELECTed tuples of one configuration."""
        first = len(self.params_columns) + 1
        group = list(group)
        if not group:
            return config_id, {}, {}
        params = {
            c.removeprefix("params_"): plain(v)
            for c, v in zip(self.params_columns, group[0][1:first], strict=True)
        }
        # column by column (list comprehensions, not a call per value): one object per distinct
        # text value of a column of labels (a million rows sharing a handful of them)
        found = []
        for column in list(zip(*group, strict=True))[first:]:
            sample = column[:SAMPLE]
            if any(v.__class__ is str for v in sample) and len(set(sample)) <= SAMPLE // 5:
                shared = {}
                column = [shared.setdefault(v, v) if v.__class__ is str else v for v in column]
            found.append(column)
        make = self.row
        rows = [make(zip(columns, values, strict=True)) for values in zip(*found, strict=True)]
        by_id = {str(row["input_id"]): row for row in rows}
        return config_id, params, by_id

    def reread(self, config_id: str, columns: list[str]):
        """One configuration again with ``columns`` (a column its point summaries missed)."""
        select = ", ".join(quoted(c) for c in [*self.params_columns, *columns])
        with connect(self.db) as connection:
            group = connection.execute(
                f"SELECT config_id, {select} FROM {PREDICTIONS} "
                f"WHERE {self.where} AND config_id = ?",
                (self.track_id, config_id),
            ).fetchall()
        return self.configuration(config_id, group, columns)

    def checked(self, config_id: str, by_id: dict, row_values: bool = True) -> dict:
        """``by_id`` once summarize and row_values (unless ``row_values`` is False: the
        ranking reads results through summarize alone) read all its rows without asking for a
        column that was not read (else read again with it); its rows then plain dicts, in a
        ``Checked`` holding the summary."""
        while True:
            try:
                ordered = [by_id[k] for k in sorted(by_id)]
                point = summary(ordered)
                arrays = row_arrays(ordered) if row_values else None
            except Exception:
                if not self.row.missed - set(self.columns):
                    raise  # the kind's error on these rows, not a column left out
            missed = self.row.missed - set(self.columns)
            self.row.missed.clear()
            if not missed:
                break
            self.columns = [c for c in self.result_columns if c in {*self.columns, *missed}]
            by_id = self.reread(config_id, self.columns)[2]
        for row in by_id.values():
            row.__class__ = Plain
        checked = Checked(by_id)
        checked.summary, checked.arrays = point, arrays
        return checked


def paired_streams(rows_a: Rows, rows_b: Rows):
    """(config_id, params, A's rows, B's rows) of every configuration of either run, in
    config_id order (an empty dict for the run that lacks it); rows checked (``Rows.checked``)."""
    stream_a, stream_b = rows_a.stream(), rows_b.stream()
    next_a, next_b = next(stream_a, None), next(stream_b, None)
    while next_a or next_b:
        if next_b is None or (next_a and next_a[0] < next_b[0]):
            yield next_a[0], next_a[1], rows_a.checked(next_a[0], next_a[2]), {}
            next_a = next(stream_a, None)
        elif next_a is None or next_b[0] < next_a[0]:
            yield next_b[0], next_b[1], {}, rows_b.checked(next_b[0], next_b[2])
            next_b = next(stream_b, None)
        else:
            checked_a = rows_a.checked(next_a[0], next_a[2])
            yield next_a[0], next_a[1], checked_a, rows_b.checked(next_b[0], next_b[2])
            next_a, next_b = next(stream_a, None), next(stream_b, None)
