"""Datapoints: the requests a load level sends, and the loader for the bundled ones."""

import json
from dataclasses import dataclass
from pathlib import Path

from .harness.identity import check_fields

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "requests.jsonl"


@dataclass(frozen=True, slots=True)
class Item:
    input_id: str
    payload: str | None  # the request body; None when the record is malformed (an error row)

    def __post_init__(self):
        check_fields(self)


def load_items(path: Path | None = None, limit: int | None = None) -> list[Item]:
    """Read a JSONL file of {"id", "payload"} records (default: the bundled requests).

    Every level sends every request once. A payload that is not a string is sent as its JSON
    text. A malformed line is not skipped: it becomes an item without a payload, so the run
    records it as an error row instead of silently sending fewer requests.
    """
    items = []
    with open(path or SAMPLE, encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                record = {}
            if not isinstance(record, dict):
                record = {}
            payload = record.get("payload")
            if payload is not None and not isinstance(payload, str):
                payload = json.dumps(payload, sort_keys=True)
            items.append(Item(input_id=str(record.get("id", f"line-{number}")), payload=payload))
            if limit is not None and len(items) >= limit:
                break
    return items
