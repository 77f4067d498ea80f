"""Datapoints: a frozen item type and the loader for the bundled sample."""

import json
from dataclasses import dataclass
from pathlib import Path

from .harness.identity import check_fields

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample.jsonl"


@dataclass(frozen=True, slots=True)
class Item:
    input_id: str
    text: str | None  # None when the record is malformed: predict records the error
    label: str | None

    def __post_init__(self):
        check_fields(self)


def load_items(path: Path | None = None, limit: int | None = None) -> list[Item]:
    """Read a JSONL file of {"id", "text", "label"} records (default: the bundled sample).

    A malformed line is not skipped: it becomes an item without text, so the run records it
    as an error row instead of silently shrinking the dataset.
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
            text, label = record.get("text"), record.get("label")
            items.append(
                Item(
                    input_id=str(record.get("id", f"line-{number}")),
                    text=text if isinstance(text, str) else None,
                    label=label if isinstance(label, str) else None,
                )
            )
            if limit is not None and len(items) >= limit:
                break
    return items
