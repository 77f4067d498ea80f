"""validate's one read of the rows of the runs it checks, oldest first (``read``).

The only index of a predictions table is its primary key (track_id, timestamp): finding one
configuration's rows means reading the whole run. So one pass does what needs every row: it
recomputes each row's digest (``check_edited``: was the row changed after it was written?) and
keeps, per run and configuration, the columns ``summarize`` reads (``check_metrics_agree``),
instead of one read per check and one per configuration. Rows stream one at a time; what is
kept is one list per column (each repeated text value one object), not a dict per row.
``table`` is validation's Table: connection, name, columns, ``has``.
"""

import hashlib
import sys
from json.encoder import encode_basestring_ascii

from . import sql
from .findings import FAIL, OK, SKIP, Finding
from .identity import _as_stored
from .lineage import EXAMPLES, NAMING, in_scope, named, result_columns, selected

MEMO = 4096  # distinct values remembered per column (labels, error types; not ids)


def digests(names: list[str], offset: int = 0):
    """``result_digest`` of rows given as value tuples holding ``names`` in that order from
    position ``offset`` (the rest of the row is ignored), without a dict
    and json.dumps per row (a million rows are checked): the same JSON text, keys sorted once,
    each column's frequent values encoded once (tests/test_analysis_sql.py checks it equals
    ``result_digest``)."""
    columns = [  # (position in the row, its memo: value -> '"name":"text"', '"name":'), by name
        (offset + i, {}, encode_basestring_ascii(names[i]) + ":")
        for i in sorted(range(len(names)), key=names.__getitem__)
    ]

    def digest(values) -> str:
        parts = []
        for i, memo, key in columns:
            value = values[i]
            found = memo.get(value)
            if found is None:
                if value is None or value != value:  # NULL or NaN: left out
                    continue
                found = key + encode_basestring_ascii(_as_stored(value))
                if len(memo) < MEMO:
                    memo[value] = found
            parts.append(found)
        return hashlib.sha256(("{" + ",".join(parts) + "}").encode()).hexdigest()[:16]

    return digest


class RowPass:
    """What one read of the rows found: digests checked, and the kept columns."""

    def __init__(self, kept_names: list[str]):
        self.counts: dict[tuple, int] = {}  # rows per (track_id, config_id)
        self.hits = 0  # rows served from the cache
        # (config_id, *params values) -> NAMING values of its first row
        self.configurations: dict[tuple, tuple] = {}
        self.params: list[str] = []  # the params columns of those keys
        self.checked = self.edited = 0
        self.examples: list[dict] = []  # the first edited rows, by NAMING
        self.names = kept_names  # columns kept per (track_id, config_id)
        self.kept: dict[tuple, list[list]] = {}

    def appenders(self, key: tuple) -> list:
        """The ``append`` of each kept column of ``key`` (run, configuration)."""
        columns = self.kept[key] = [[] for _ in self.names]
        return [column.append for column in columns]

    def first_rows(self) -> list[dict]:
        """Each distinct configuration's first row: NAMING, config_id and params columns."""
        names = ("config_id", *self.params)
        return [
            {**dict(zip(NAMING, first, strict=True)), **dict(zip(names, key, strict=True))}
            for key, first in self.configurations.items()
        ]

    def results(self, key: tuple) -> list[dict] | None:
        """The kept results of one run's configuration, oldest first, NULLs left out (None when
        nothing was kept)."""
        columns = self.kept.get(key)
        if columns is None:
            return None
        names = self.names
        return [
            {name: value for name, value in zip(names, values, strict=True) if value is not None}
            for values in zip(*columns, strict=True)
        ]


def read(table, scope: list[str], keep: list[str] = ()) -> RowPass:
    """One pass over the rows of the runs in ``scope`` (by timestamp): rows per run and
    configuration, cache hits, each configuration's first row (config_id and params columns),
    every row's digest checked (rows with one), and the result columns ``keep`` kept per run and
    configuration."""
    results = result_columns(table)
    keep = [name for name in keep if name in results]
    found = RowPass(keep)
    has_digest = table.has("row_digest")
    params = sql.params_columns(table.columns) if table.has("config_id") else []
    hit = sql.text_set("cache") if table.has("cache") else "0"
    start = 5 + len(params)  # track_id, input_id, row_digest, hit, config_id, params, results
    digest = digests(results, start)
    kept_at = [start + results.index(name) for name in keep]
    where, args = in_scope(scope)
    cursor = table.connection.execute(
        f"SELECT {selected(table, NAMING[:2] + ('row_digest',))}, {hit}, "
        f"{selected(table, ('config_id',))}, "
        f"{''.join(f'{sql.quote(c)}, ' for c in params)}"
        f"{', '.join(map(sql.quote, results)) or 'NULL'} FROM {table.quoted} "
        f"WHERE {where} ORDER BY timestamp",
        args,
    )
    counts, configurations, appenders = found.counts, found.configurations, {}
    hits = checked = edited = 0
    for row in cursor:
        key = row[0], row[4]
        counts[key] = counts.get(key, 0) + 1
        hits += row[3]
        if params and row[4:start] not in configurations:
            configurations[row[4:start]] = (row[0], row[1], row[4])
        if has_digest and row[2] is not None and row[2] != "":
            checked += 1
            if digest(row) != row[2]:
                edited += 1
                if len(found.examples) < EXAMPLES:
                    naming = row[0], row[1], row[4]
                    found.examples.append(dict(zip(NAMING, naming, strict=True)))
        if keep:
            append = appenders.get(key) or appenders.setdefault(key, found.appenders(key))
            for add, i in zip(append, kept_at, strict=True):
                value = row[i]
                add(sys.intern(value) if type(value) is str else value)  # one object per text
    found.hits, found.checked, found.edited = hits, checked, edited
    found.params = params
    return found


def check_edited(table, scope: list[str], rows: RowPass | None = None) -> Finding:
    """Each row's result still has the digest written with it (``rows``: the pass already made
    over ``scope``, else one is made)."""
    if not table.has("row_digest"):
        return Finding("edited_rows", SKIP, "no row_digest column (rows written before it)")
    rows = read(table, scope) if rows is None else rows
    if not rows.edited:
        return Finding("edited_rows", OK, f"{rows.checked} rows as written")
    return Finding(
        "edited_rows",
        FAIL,
        f"{rows.edited} rows were changed after they were written: "
        f"{named(rows.examples, rows.edited)}",
        "Results must come from predict. Delete these rows (and make cache-clear) and run "
        "again; to change a result, change predict and bump PREDICT_VERSION.",
        {"rows": rows.edited},
    )
