"""The grid, streamed: every unique (item, configuration) once, without a dict of them all.

Items are deduplicated once and configurations once (by content: equal encodings, equal
computation keys), then the product is walked in chunks of items: each item is encoded, hashed
and flattened once per run, each key is one copy of a SHA-256 state, and only one chunk of keys
is in memory at a time, so the runner's memory does not grow with the grid. Within a chunk the
configurations come in grid order (a grid of up to CHUNK items is walked configuration after
configuration, as before).
"""

import hashlib
from collections.abc import Iterator

from .identity import KeyHasher, _dumps, canonical
from .tracking import flatten

CHUNK = 4096  # items per chunk: keys and flattened items held at a time


class Plan:
    def __init__(
        self, items, configurations, function, version: str, replicate: int = 0, items_of=None
    ):
        self.hasher = KeyHasher(function, version, replicate)
        tails = {}
        for params in configurations:
            tails.setdefault(self.hasher.tail(params), params)  # the first of equal ones
        self.configurations = [(params, tail) for tail, params in tails.items()]
        self.items = unique(items)
        # items_of(items, params): a load level's own requests (levels.py); else None and
        # every configuration computes the same items, kept once
        self.own = {p: unique(items_of(items, p)) for p in self.params} if items_of else {}
        listed = (
            sum(len(items_of(items, params)) for params in configurations)
            if items_of
            else len(items) * len(configurations)
        )
        self.duplicates = listed - self.size

    def planned(self, params) -> int:
        """Unique computations of one configuration."""
        return len(self.own.get(params, self.items))

    @property
    def size(self) -> int:
        """Unique computations of the grid."""
        return sum(self.planned(params) for params in self.params)

    @property
    def params(self) -> list:
        return [params for params, _ in self.configurations]

    def batches(self) -> Iterator[tuple[object, list[tuple[str, object, dict]]]]:
        """(params, [(computation key, item, the item's columns), ...]) for each chunk of items
        and each configuration (each load level in turn when levels have their own items)."""
        key = self.hasher.key
        if self.own:
            for params, tail in self.configurations:
                for chunk in self.chunks(self.own[params]):
                    yield params, [(key(prefix, tail), item, cols) for prefix, item, cols in chunk]
            return
        for chunk in self.chunks(self.items):
            for params, tail in self.configurations:
                yield params, [(key(prefix, tail), item, cols) for prefix, item, cols in chunk]

    def chunks(self, items: list) -> Iterator[list]:
        """[(the item's key prefix, item, its columns), ...] of CHUNK items at a time."""
        for start in range(0, len(items), CHUNK):
            yield [
                (self.hasher.item(item)[1], item, flatten("item", item))
                for item in items[start : start + CHUNK]
            ]


def unique(items) -> list:
    """``items`` without repeats (equal content), the first of each kept; 16 bytes of digest
    per item are remembered, not its whole encoding."""
    seen, kept = set(), []
    for item in items:
        digest = hashlib.sha256(_dumps(canonical(item)).encode()).digest()[:16]
        if digest not in seen:
            seen.add(digest)
            kept.append(item)
    return kept
