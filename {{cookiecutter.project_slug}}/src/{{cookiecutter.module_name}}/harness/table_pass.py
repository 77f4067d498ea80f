"""validate's reads of the whole table, shared by its checks: one aggregate pass (``totals``)
and one grouping by the identity columns (``repeats``), instead of one read per check.

A million-row table costs about a second per read, and grouping by a column without an index
sorts the whole table: each is done once, in a thread beside the row checks (``whole_table``).
``table`` is validation's Table: connection, name, quoted, columns, ``has``, ``one``, latest.
"""

import copy
from contextlib import closing
from pathlib import Path

from . import sql


def whole_table(table, db: Path, done: str, keys: list[str]) -> tuple[dict, tuple | None]:
    """``totals`` and ``repeats`` (None without identity columns) on a connection of their own,
    for a thread: SQLite lets go of the GIL while it reads and sorts, so these run beside the
    row checks' Python."""
    own = copy.copy(table)
    with closing(sql.connect(db)) as own.connection:
        return totals(own, done), repeats(own, keys, done) if keys else None


def totals(table, done: str) -> dict:
    """Whole-table counts in one pass: ``rows``; ``computed`` (rows ``done`` selects);
    ``hits``; NULLs per params column (``nulls``); the latest run's ``latest_rows`` and
    ``latest_failed``; the lowest and highest replicate and phase and the rows with a phase."""
    parts = {"rows": "COUNT(*)", "computed": f"SUM({done})"}
    if table.has("cache"):
        parts["hits"] = f"SUM({sql.text_set('cache')})"
    for column in sql.params_columns(table.columns):
        parts[f"null {column}"] = f"SUM({sql.quote(column)} IS NULL)"
    args = ()
    latest = "1"
    if table.has("track_id"):
        latest, args = "track_id = ?", (table.latest,)
    parts["latest_rows"] = f"SUM({latest})"
    if table.has("error"):
        parts["latest_failed"] = f"SUM({latest} AND {sql.text_set('error')})"
    if table.has("replicate"):
        parts["replicate_min"] = "MIN(COALESCE(replicate, 0))"
        parts["replicate_max"] = "MAX(COALESCE(replicate, 0))"
    if table.has("phase"):
        parts.update(phase_min="MIN(phase)", phase_max="MAX(phase)", phased="COUNT(phase)")
    query = f"SELECT {', '.join(parts.values())} FROM {table.quoted}"
    values = table.one(query, args * query.count("?"))
    found = dict(zip(parts, values, strict=True))
    for name in ("rows", "computed", "hits", "latest_rows", "latest_failed"):
        if name in found:
            found[name] = found[name] or 0  # SUM over no rows is NULL
    found["nulls"] = {
        name.removeprefix("null "): int(found.pop(name) or 0)
        for name in list(found)
        if name.startswith("null ")
    }
    return found


def repeats(table, keys: list[str], done: str) -> tuple[int, int, list[str], bool]:
    """One grouping by ``keys`` for leaks and duplicates: (groups with more than one row ``done``
    selects, their extra rows, a few of those groups as text, whether a group may hold one run
    twice: then only the exact grouping by (track_id, keys) can tell)."""
    group = ", ".join(map(sql.quote, keys))
    twice = "COUNT(*) > COUNT(DISTINCT track_id)" if table.has("track_id") else "0"
    cursor = table.connection.execute(
        f"SELECT SUM({done}), {twice}, {group} FROM {table.quoted} GROUP BY {group} "
        f"HAVING SUM({done}) > 1 OR {twice} ORDER BY {group}"
    )
    groups = extra = 0
    examples = []
    maybe_twice = False
    for computed, again, *key in cursor:
        maybe_twice = maybe_twice or bool(again)
        if computed > 1:
            groups, extra = groups + 1, extra + computed - 1
            if len(examples) < 5:
                examples.append(str(key[0] if len(key) == 1 else tuple(key)))
    return groups, extra, examples, maybe_twice
