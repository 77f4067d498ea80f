"""Datapoints: a frozen item type and the loader for the bundled sample."""

from dataclasses import dataclass
from pathlib import Path

from .harness.identity import Record
from .harness.jsonl import records

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample.jsonl"


@dataclass(frozen=True, slots=True)
class Item(Record):  # Record: fields checked when an item is made
    input_id: str
    text: str | None  # None when the record is malformed: predict records the error
    label: str | None


def load_items(path: Path | None = None, limit: int | None = None) -> list[Item]:
    """Read a JSONL file of {"id", "text", "label"} records (default: the bundled sample).

    A malformed line is not skipped: it becomes an item without text, so the run records it
    as an error row instead of silently shrinking the dataset.
    """
    items = []
    for input_id, record in records(path or SAMPLE, limit):
        text, label = record.get("text"), record.get("label")
        items.append(
            Item(
                input_id=input_id,
                text=text if isinstance(text, str) else None,
                label=label if isinstance(label, str) else None,
            )
        )
    return items
