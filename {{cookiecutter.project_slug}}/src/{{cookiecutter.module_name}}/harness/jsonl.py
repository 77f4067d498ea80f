"""Datapoints from a JSON Lines file: one record per non-blank line, none skipped."""

import json
from collections.abc import Iterator
from pathlib import Path


def records(path: Path | str, limit: int | None = None) -> Iterator[tuple[str, dict]]:
    """(input_id, record) of each non-blank line of ``path``; with ``limit``, stops once it has
    given that many (it checks after each record, so it always gives the first one).

    ``input_id`` is the record's ``id`` as text, else ``line-<number>``. A malformed line (not
    JSON, or not an object) is not skipped: it comes as an empty record, so the item made from
    it lacks its fields and the run records an error row instead of silently shrinking the
    dataset.
    """
    count = 0
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                record = {}
            if not isinstance(record, dict):
                record = {}
            yield str(record.get("id", f"line-{number}")), record
            count += 1
            if limit is not None and count >= limit:
                break
