"""Datapoints: a frozen item type and the loader for the bundled questions."""

import json
from dataclasses import dataclass
from pathlib import Path

from .harness.identity import check_fields

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "questions.jsonl"


@dataclass(frozen=True, slots=True)
class Item:
    input_id: str
    question: str | None  # None when the record is malformed: predict records the error
    answer: str | None  # the reference answer (ground truth)
    category: str | None = None  # segmentations: group metrics by these at analysis time
    difficulty: str | None = None

    def __post_init__(self):
        check_fields(self)


def text(record: dict, name: str) -> str | None:
    value = record.get(name)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)  # {"answer": 42} means "42"
    return value if isinstance(value, str) else None


def load_items(path: Path | None = None, limit: int | None = None) -> list[Item]:
    """Read a JSONL file of {"id", "question", "answer", "category", "difficulty"} records
    (default: the bundled questions).

    A malformed line is not skipped: it becomes an item without a question, so the run records
    it as an error row instead of silently shrinking the dataset.
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

            items.append(
                Item(
                    input_id=str(record.get("id", f"line-{number}")),
                    question=text(record, "question"),
                    answer=text(record, "answer"),
                    category=text(record, "category"),
                    difficulty=text(record, "difficulty"),
                )
            )
            if limit is not None and len(items) >= limit:
                break
    return items
