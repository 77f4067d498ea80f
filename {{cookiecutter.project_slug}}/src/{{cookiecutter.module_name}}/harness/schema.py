"""Schema drift: params fields renamed or removed since earlier runs wrote the db.

A renamed field leaves earlier rows under the old column name, and analyses grouped by params
then split one configuration in two. Checked before a run writes anything. Changes declared in
Params (``identity.neutral``, ``identity.renamed``) are not drift: ``migrate`` brings earlier
rows to the new schema (renamed column, added column at its neutral value).
"""

import dataclasses
import difflib
import sqlite3
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

from .identity import NEUTRAL, RENAMED_FROM, type_hints


@dataclass
class Drift:
    removed: dict[str, str | None] = field(default_factory=dict)  # old column -> likely new name
    added: list[str] = field(default_factory=list)

    @property
    def blocking(self) -> bool:
        return bool(self.removed)

    def describe(self, table: str) -> list[str]:
        lines = []
        for old, new in self.removed.items():
            if new:
                lines.append(
                    f"{old} is in {table} but not in Params: renamed to {new}? Keep earlier rows "
                    f"comparable with: ALTER TABLE {table} RENAME COLUMN {old} TO {new}; "
                    "(and the same on metrics)"
                )
            else:
                lines.append(
                    f"{old} is in {table} but no longer in Params: earlier rows were computed "
                    "with a field that is gone; start a new db or put the field back"
                )
        for new in self.added:
            lines.append(
                f"{new} is new: earlier rows have NULL there. If they ran with the field's "
                f"default, fill it in: UPDATE {table} SET {new} = <default> WHERE {new} IS NULL;"
            )
        return lines


@dataclass
class Declared:
    """Params changes declared in the dataclass, as column names."""

    renames: dict[str, str] = field(default_factory=dict)  # params_old -> params_new
    neutrals: dict[str, object] = field(default_factory=dict)  # params_new -> its neutral value
    sql_types: dict[str, str] = field(default_factory=dict)  # params_new -> its column type


SQL_TYPES = {bool: "INTEGER", int: "INTEGER", float: "REAL", str: "TEXT"}


def declared(params_type: type) -> Declared:
    """The renamed and neutral fields of ``params_type`` (identity.renamed, identity.neutral)."""
    found = Declared()
    hints = type_hints(params_type)
    for item in dataclasses.fields(params_type):
        column = f"params_{item.name}"
        if RENAMED_FROM in item.metadata:
            found.renames[f"params_{item.metadata[RENAMED_FROM]}"] = column
        if NEUTRAL in item.metadata:
            value = item.metadata[NEUTRAL]
            simple = value is None or isinstance(value, (bool, int, float, str))
            found.neutrals[column] = value if simple else str(value)
            found.sql_types[column] = sql_type(hints[item.name])
    return found


def params_column_types(params_type: type) -> dict[str, str]:
    """params_<field> -> the column type its annotation gives (RowWriter's column_types)."""
    hints = type_hints(params_type)
    return {f"params_{f.name}": sql_type(hints[f.name]) for f in dataclasses.fields(params_type)}


def sql_type(annotation) -> str:
    """Column type of a field: its type, or the type beside None of an Optional one."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = options[0] if len(options) == 1 else str
    return SQL_TYPES.get(annotation, "TEXT")


def migrate(db: Path, table: str, changes: Declared) -> list[str]:
    """Bring earlier rows of ``table`` to the declared schema; say what was done.

    A declared rename renames the column; a declared neutral field gets its column, filled with
    the neutral value on the earlier rows (which ran as before). Safe to run again.
    """
    if not Path(db).exists():
        return []
    done = []
    with sqlite3.connect(db) as connection:
        columns = {row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')}
        if not any(c.startswith("params_") for c in columns):
            return []
        for old, new in changes.renames.items():
            if old in columns and new not in columns:
                connection.execute(f'ALTER TABLE "{table}" RENAME COLUMN {old} TO {new}')
                columns = (columns - {old}) | {new}
                done.append(f"{table}: renamed column {old} to {new} (declared rename)")
        for column, value in changes.neutrals.items():
            if column in columns:
                continue
            sql = changes.sql_types[column]
            connection.execute(f'ALTER TABLE "{table}" ADD COLUMN {column} {sql}')
            connection.execute(f'UPDATE "{table}" SET {column} = ?', (value,))
            done.append(f"{table}: added column {column} = {value!r} on earlier rows (neutral)")
    return done


def params_drift(db: Path, table: str, current: set[str], changes: Declared | None = None) -> Drift:
    """Compare the current ``params_*`` columns with those already in ``table`` of ``db``.

    Declared changes (``changes``) are not drift: ``migrate`` applies them.
    """
    if not Path(db).exists():
        return Drift()
    changes = changes or Declared()
    with sqlite3.connect(db) as connection:
        existing = {row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')}
    existing = {changes.renames.get(c, c) for c in existing if c.startswith("params_")}
    if not existing:
        return Drift()
    added = sorted(current - existing - set(changes.neutrals))
    removed = {}
    for old in sorted(existing - current):
        close = difflib.get_close_matches(old, added, n=1, cutoff=0.6)
        removed[old] = close[0] if close else None
    unmatched_old = [old for old, new in removed.items() if new is None]
    unmatched_new = [new for new in added if new not in removed.values()]
    if len(unmatched_old) == len(unmatched_new) == 1:  # one gone, one new: a rename
        removed[unmatched_old[0]] = unmatched_new[0]
    return Drift(removed=removed, added=[a for a in added if a not in removed.values()])
