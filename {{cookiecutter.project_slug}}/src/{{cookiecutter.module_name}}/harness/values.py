"""What a result may hold: every value is stored as it is, or the datapoint becomes an error row.

``storable(result, columns)`` runs in this process (the single writer) on every computed result
before it reaches the db or the cache, so both hold the same values:

- str, int, float, bool, bytes and None are stored as they are; so is +-inf (SQLite keeps it).
- numpy scalars become the Python number they hold (``np.int64(3)`` -> ``3``, not 8 raw bytes).
- lists, tuples, dicts and numpy arrays are stored as JSON text (``[1, 2]`` -> ``'[1, 2]'``):
  read them back with ``json.loads``.
- NaN is refused (SQLite would store it as NULL: "missing", a wrong value): the datapoint becomes
  an error row. Return None for "no value", or a number.
- Keys must be identifiers, unique ignoring case (SQLite column names ignore case), and must not
  be one of the row's own columns (track_id, timestamp, config_id, cache, cache_key, reused, the
  run metadata, ``params_*`` and ``item_*``): a result cannot replace its row's identity.

Anything else (another object, an int beyond 64 bits, a NaN inside a list) turns the datapoint
into an error row naming the key and the reason (error_type ``BadResult``), retried on the next
run like any error: one bad datapoint never costs another datapoint's row.
"""

import json
import math

import numpy as np

from .tracking import LINEAGE_COLUMNS, RUN_METADATA_COLUMNS

RESERVED = {"track_id", "timestamp", *LINEAGE_COLUMNS, *RUN_METADATA_COLUMNS}
RESERVED_PREFIXES = ("params_", "item_")
INT64 = (-(2**63), 2**63 - 1)


class BadResult(ValueError):
    """A result value or key that cannot be stored faithfully; the message names the key."""


class Columns:
    """The names of the predictions columns, by lower case: keys must match their spelling."""

    def __init__(self, names=()):
        self.by_lower = {name.lower(): name for name in names}

    def check(self, key: str) -> None:
        known = self.by_lower.get(key.lower(), key)
        if known != key:
            raise BadResult(
                f"result key {key!r} clashes with the column {known!r} (SQLite column names "
                "ignore case): return the same spelling on every datapoint"
            )

    def add(self, keys) -> None:
        for key in keys:
            self.by_lower.setdefault(key.lower(), key)


def storable(result: dict, columns: Columns | None = None) -> dict:
    """``result`` with every value in the form it is stored in; raises BadResult."""
    lower = {}
    for key in result:
        check_key(key)
        if key.lower() in lower:
            raise BadResult(
                f"result keys {lower[key.lower()]!r} and {key!r} differ only in case (SQLite "
                "column names ignore case): rename one"
            )
        lower[key.lower()] = key
        if columns is not None:
            columns.check(key)
    return {key: value_of(key, value) for key, value in result.items()}


def check_key(key) -> None:
    if not isinstance(key, str) or not key.isidentifier():
        raise BadResult(
            f"result key {key!r} is not an identifier (letters, digits and _, not starting "
            "with a digit): it cannot be a column name"
        )
    if key.lower() in RESERVED or key.lower().startswith(RESERVED_PREFIXES):
        raise BadResult(
            f"result key {key!r} would replace a column the runner fills (track_id, timestamp, "
            "config_id, cache, cache_key, reused, run metadata, params_*, item_*): rename it"
        )


def value_of(key: str, value):
    """The stored form of one value (see the module's docstring); raises BadResult."""
    if isinstance(value, np.generic):
        value = value.item()  # np.int64(3) -> 3, np.float32 -> float, np.bool_ -> bool
    if value is None or isinstance(value, (str, bytes, bool)):
        return value
    if isinstance(value, int):
        if not INT64[0] <= value <= INT64[1]:
            raise BadResult(f"result key {key!r}: {value} does not fit in 64 bits; return a str")
        return value
    if isinstance(value, float):
        if math.isnan(value):
            raise BadResult(
                f"result key {key!r} is NaN, which SQLite stores as NULL (missing): return None "
                "for no value, or a number"
            )
        return value
    if isinstance(value, (list, tuple, dict, np.ndarray)):
        try:
            return json.dumps(value, allow_nan=False, default=json_default, ensure_ascii=False)
        except (TypeError, ValueError) as error:
            raise BadResult(f"result key {key!r}: cannot be stored as JSON ({error})") from None
    raise BadResult(
        f"result key {key!r}: a {type(value).__name__} cannot be stored; return a number, a str, "
        "or a list/dict of them (stored as JSON text)"
    )


def json_default(value):
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    raise TypeError(f"a {type(value).__name__} is not JSON")


def bad_result_row(result: dict, item, error: BadResult) -> dict:
    """The error row that replaces a result that cannot be stored."""
    latency = result.get("latency")
    try:
        latency = value_of("latency", latency)
    except BadResult:
        latency = None
    return {
        "input_id": item.input_id,
        "error": str(error),
        "error_type": "BadResult",
        "latency": latency if isinstance(latency, (int, float)) else None,
    }
