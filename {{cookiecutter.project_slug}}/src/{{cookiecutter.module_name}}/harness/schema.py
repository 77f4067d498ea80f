"""Schema drift: params fields renamed or removed since earlier runs wrote the db.

A renamed field leaves earlier rows under the old column name, and analyses grouped by params
then split one configuration in two. Checked before a run writes anything.
"""

import difflib
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path


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


def params_drift(db: Path, table: str, current: set[str]) -> Drift:
    """Compare the current ``params_*`` columns with those already in ``table`` of ``db``."""
    if not Path(db).exists():
        return Drift()
    with sqlite3.connect(db) as connection:
        existing = {row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')}
    existing = {c for c in existing if c.startswith("params_")}
    if not existing:
        return Drift()
    added = sorted(current - existing)
    removed = {}
    for old in sorted(existing - current):
        close = difflib.get_close_matches(old, added, n=1, cutoff=0.6)
        removed[old] = close[0] if close else None
    unmatched_old = [old for old, new in removed.items() if new is None]
    unmatched_new = [new for new in added if new not in removed.values()]
    if len(unmatched_old) == len(unmatched_new) == 1:  # one gone, one new: a rename
        removed[unmatched_old[0]] = unmatched_new[0]
    return Drift(removed=removed, added=[a for a in added if a not in removed.values()])
