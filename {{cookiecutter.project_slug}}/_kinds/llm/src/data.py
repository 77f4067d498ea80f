"""Datapoints: a frozen item type and the loader for the bundled questions."""

from dataclasses import dataclass
from pathlib import Path

from .harness.identity import Record
from .harness.jsonl import records

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "questions.jsonl"


@dataclass(frozen=True, slots=True)
class Item(Record):  # Record: fields checked when an item is made
    input_id: str
    question: str | None  # None when the record is malformed: predict records the error
    answer: str | None  # the reference answer (ground truth)
    category: str | None = None  # segmentations: group metrics by these at analysis time
    difficulty: str | None = None


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
    return [
        Item(
            input_id=input_id,
            question=text(record, "question"),
            answer=text(record, "answer"),
            category=text(record, "category"),
            difficulty=text(record, "difficulty"),
        )
        for input_id, record in records(path or SAMPLE, limit)
    ]
