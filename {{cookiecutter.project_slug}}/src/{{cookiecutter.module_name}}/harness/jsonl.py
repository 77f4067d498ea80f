"""Datapoints from a JSON Lines file: one record per non-blank line, none skipped."""

import json
from collections.abc import Iterator
from pathlib import Path

from .errors import DataError


def records(path: Path | str, limit: int | None = None) -> Iterator[tuple[str, dict]]:
    """(input_id, record) of each non-blank line of ``path``; with ``limit``, stops once it has
    given that many (it checks after each record, so it always gives the first one).

    ``input_id`` is the record's ``id`` as text, else ``line-<number>``. A malformed line (not
    JSON, or not an object) is not skipped: it comes as an empty record, so the item made from
    it lacks its fields and the run records an error row instead of silently shrinking the
    dataset. A UTF-8 byte order mark is skipped. DataError (file, line and fix) for: a line that
    is not UTF-8, an ``input_id`` given twice with different content (``1`` and ``"1"``
    included: the same content twice is one datapoint), and a file without records.
    """
    count = 0
    seen = {}  # input_id -> (line number, content)
    with open(path, "rb") as lines:
        for number, raw in enumerate(lines, start=1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as error:
                raise DataError(
                    f"{path}, line {number}: not UTF-8 text (byte {raw[error.start]:#04x} at "
                    f"column {error.start + 1}): save the file as UTF-8"
                ) from None
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                record = {}
            if not isinstance(record, dict):
                record = {}
            input_id = str(record.get("id", f"line-{number}"))
            content = json.dumps(record, sort_keys=True)  # 1, 1.0, True and "1" all differ
            first, earlier = seen.setdefault(input_id, (number, content))
            if earlier != content:
                raise DataError(
                    f"{path}, lines {first} and {number}: input_id {input_id!r} has two different "
                    "records: give each its own id (or remove one)"
                )
            yield input_id, record
            count += 1
            if limit is not None and count >= limit:
                break
    if count == 0:
        raise DataError(f"{path}: no records (the dataset is empty): add JSON Lines records")
