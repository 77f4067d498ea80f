"""Datapoints: the requests a load level sends, and the loader for the bundled ones."""

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from .harness.identity import Record
from .harness.jsonl import records

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "requests.jsonl"


@dataclass(frozen=True, slots=True)
class Item(Record):  # Record: fields checked when an item is made
    input_id: str
    payload: str | None  # the request body; None when the record is malformed (an error row)


def load_items(path: Path | None = None, limit: int | None = None) -> list[Item]:
    """Read a JSONL file of {"id", "payload"} records (default: the bundled requests).

    Every level sends every request once, unless ``Params.requests_per_worker`` sets a
    budget per level (``level_items``). A payload that is not a string is sent as its JSON
    text. A malformed line is not skipped: it becomes an item without a payload, so the run
    records it as an error row instead of silently sending fewer requests.
    """
    items = []
    for input_id, record in records(path or SAMPLE, limit):
        payload = record.get("payload")
        if payload is not None and not isinstance(payload, str):
            payload = json.dumps(payload, sort_keys=True)
        items.append(Item(input_id=input_id, payload=payload))
    return items


def level_items(items: list[Item], params) -> list[Item]:
    """The requests one level sends: every item once (``requests_per_worker`` 0), or
    ``concurrency x requests_per_worker`` of them, cycling through ``items``: the k-th time
    round, a request's ``input_id`` gets ``#k`` (each request of a level is its own datapoint).
    """
    if not params.requests_per_worker or not items:
        return items
    budget = params.concurrency * params.requests_per_worker
    return [
        dataclasses.replace(item, input_id=f"{item.input_id}#{n // len(items)}")
        if n >= len(items)
        else item
        for n, item in ((n, items[n % len(items)]) for n in range(budget))
    ]
