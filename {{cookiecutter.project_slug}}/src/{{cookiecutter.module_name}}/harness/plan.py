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
    def __init__(self, items, configurations, function, version: str, replicate: int = 0):
        self.hasher = KeyHasher(function, version, replicate)
        tails = {}
        for params in configurations:
            tails.setdefault(self.hasher.tail(params), params)  # the first of equal ones
        self.configurations = [(params, tail) for tail, params in tails.items()]
        seen, self.items = set(), []
        for item in items:  # 16 bytes of digest per item, not its whole encoding
            digest = hashlib.sha256(_dumps(canonical(item)).encode()).digest()[:16]
            if digest not in seen:
                seen.add(digest)
                self.items.append(item)
        self.duplicates = len(items) * len(configurations) - self.size

    @property
    def size(self) -> int:
        """Unique computations of the grid."""
        return len(self.items) * len(self.configurations)

    @property
    def params(self) -> list:
        return [params for params, _ in self.configurations]

    def batches(self) -> Iterator[tuple[object, list[tuple[str, object, dict]]]]:
        """(params, [(computation key, item, the item's columns), ...]) for each chunk of items
        and each configuration."""
        key = self.hasher.key
        for start in range(0, len(self.items), CHUNK):
            chunk = [
                (self.hasher.item(item)[1], item, flatten("item", item))
                for item in self.items[start : start + CHUNK]
            ]
            for params, tail in self.configurations:
                yield (
                    params,
                    [(key(prefix, tail), item, columns) for prefix, item, columns in chunk],
                )
