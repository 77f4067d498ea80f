"""What "the same computation" means: field checks and stable content hashes.

xetrack 0.7.0 keys its cache on Python's ``hash()``: randomised per process for strings,
address-based for ``None`` on Python 3.11, and colliding (``hash(-1) == hash(-2)``). So this
module hashes content instead: SHA-256 over a canonical JSON encoding that names the type of
every value. Equal content gives equal digests in any process, on any machine and on Python
3.10-3.13; different content or a different type gives a different digest.
"""

import dataclasses
import functools
import hashlib
import json
import math
import types
import typing

# Floats are rounded to this many significant digits, so 1e-4 and 0.00010000001 are one value.
FLOAT_SIGNIFICANT_DIGITS = 6


def quantize(value: float) -> float:
    return float(f"{value:.{FLOAT_SIGNIFICANT_DIGITS}g}")


def check_fields(record) -> None:
    """Check each field of a frozen dataclass against its declared type; quantize floats.

    Call it from ``__post_init__``. Only immutable types are allowed (str, int, float, bool,
    bytes, None, tuple[...], frozenset[...], nested frozen dataclasses): a list or dict field
    would make a configuration mutable and unhashable.

    A configuration (``Configuration``) refuses NaN (stored as NULL, equal to nothing) and
    stores -0.0 as 0.0 (one configuration, not two).
    """
    hints = type_hints(type(record))
    for field in dataclasses.fields(record):
        where = f"{type(record).__name__}.{field.name}"
        value = getattr(record, field.name)
        checked = _check(value, hints[field.name], where)
        if isinstance(record, Configuration):
            checked = _settled(checked, where)
        if checked is not value:
            object.__setattr__(record, field.name, checked)


def _settled(value, where: str):
    """``value`` with -0.0 as 0.0; ValueError for a NaN (in a tuple or frozenset too)."""
    if isinstance(value, float):
        if math.isnan(value):
            raise ValueError(f"{where} = nan: a configuration cannot hold NaN; use None")
        return 0.0 if value == 0 else value
    if isinstance(value, (tuple, frozenset)):
        return type(value)(_settled(v, f"{where}[]") for v in value)
    return value


class Record:
    """Base of a frozen dataclass whose fields are checked when it is made (``check_fields``).

    ``@dataclass(frozen=True, slots=True) class Item(Record): ...``. A subclass with its own
    ``__post_init__`` calls ``check_fields(self)`` first (in a ``slots=True`` dataclass,
    ``super()`` fails before Python 3.14).
    """

    __slots__ = ()  # adds no field and no __dict__: the content hash sees the fields only

    def __post_init__(self):
        check_fields(self)


class Configuration(Record):
    """Base of a kind's ``Params``: checked fields, and ``config_id``."""

    __slots__ = ()

    @property
    def config_id(self) -> str:
        """Short stable id of this configuration (a prefix of its content hash)."""
        return content_hash(self)[:12]


@functools.cache
def type_hints(kind: type) -> dict:
    # typing.get_type_hints costs ~50 us: once per type, not once per item loaded.
    return typing.get_type_hints(kind)


# Field metadata of a field added or renamed later (see ``neutral`` and ``renamed``).
NEUTRAL, RENAMED_FROM = "neutral", "renamed_from"
_ABSENT = object()


def neutral(default):
    """A field added later whose ``default`` means "as before": ``new: int | None = neutral(None)``.

    At that value the field is left out of the canonical encoding, so configurations at it keep
    their config_id, computation keys and cached results; other values are new computations.
    The first run after adding it fills the new column of earlier rows with ``default``.
    """
    return dataclasses.field(default=default, metadata={NEUTRAL: default})


def renamed(old_name: str, default=dataclasses.MISSING):
    """A field renamed from ``old_name``: ``new_name: str = renamed("old_name", default="x")``.

    Encoded under its old name, so keys and cached results stay; the first run after the rename
    renames the column of earlier rows (params_old_name -> params_new_name).
    """
    return dataclasses.field(default=default, metadata={RENAMED_FROM: old_name})


@functools.cache
def encoded_fields(kind: type) -> tuple[tuple[str, str, object], ...]:
    """(attribute, name in the encoding, canonical neutral value or _ABSENT) of each field."""
    return tuple(
        (
            field.name,
            field.metadata.get(RENAMED_FROM, field.name),
            canonical(field.metadata[NEUTRAL]) if NEUTRAL in field.metadata else _ABSENT,
        )
        for field in dataclasses.fields(kind)
    )


def _check(value, annotation, where):
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        for option in args:
            try:
                return _check(value, option, where)
            except TypeError:
                continue
        raise TypeError(f"{where} = {value!r}: expected {annotation}")
    if origin is tuple:
        _expect(isinstance(value, tuple), value, "a tuple", where)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_check(v, args[0], f"{where}[]") for v in value)
        _expect(len(value) == len(args), value, f"a tuple of {len(args)}", where)
        return tuple(_check(v, a, f"{where}[]") for v, a in zip(value, args, strict=True))
    if origin is frozenset:
        _expect(isinstance(value, frozenset), value, "a frozenset", where)
        return frozenset(_check(v, args[0], f"{where}[]") for v in value)
    if annotation is float:
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        _expect(is_number, value, "a float", where)
        return quantize(float(value))
    if annotation is int:
        _expect(isinstance(value, int) and not isinstance(value, bool), value, "an int", where)
        return value
    if annotation in (str, bool, bytes, type(None)):
        _expect(isinstance(value, annotation), value, annotation.__name__, where)
        return value
    if dataclasses.is_dataclass(annotation) and annotation.__dataclass_params__.frozen:
        _expect(isinstance(value, annotation), value, annotation.__name__, where)
        return value
    raise TypeError(
        f"{where}: type {annotation!r} is not allowed in a frozen record; use str, int, float, "
        "bool, bytes, None, tuple[...] instead of list, frozenset[...] instead of set or dict"
    )


def _expect(ok: bool, value, expected: str, where: str) -> None:
    if not ok:
        raise TypeError(f"{where} = {value!r}: expected {expected}, got {type(value).__name__}")


def canonical(value):
    """A JSON-ready form of ``value`` that names the type of everything but str and None."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return {"bool": value}
    if isinstance(value, int):
        return {"int": str(value)}
    if isinstance(value, float):
        return {"float": repr(value)}
    if isinstance(value, bytes):
        return {"bytes": value.hex()}
    if isinstance(value, tuple):
        return {"tuple": [canonical(v) for v in value]}
    if isinstance(value, frozenset):
        return {"frozenset": sorted(_dumps(canonical(v)) for v in value)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        kind = type(value)
        fields = {}
        for name, encoded_name, neutral_value in encoded_fields(kind):
            encoded = canonical(getattr(value, name))
            if encoded != neutral_value:  # a neutral field at its neutral value: as before
                fields[encoded_name] = encoded
        return {"type": f"{kind.__module__}.{kind.__qualname__}", "fields": fields}
    raise TypeError(f"cannot hash {type(value).__name__}: use an immutable type")


# one encoder, not one per call (json.dumps with options makes a new one: ~1.5 us): same text
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _dumps(data) -> str:
    return _ENCODER.encode(data)


def content_hash(value) -> str:
    """SHA-256 hex digest of the canonical encoding of ``value``."""
    return hashlib.sha256(_dumps(canonical(value)).encode()).hexdigest()


def computation_key(function, version: str, item, params, replicate: int = 0) -> str:
    """Identity of one computation: (function and its version, item content, params content,
    and the replicate index when it is not 0: replicate 0 keeps the keys it always had)."""
    function_id = f"{function.__module__}.{function.__qualname__}"
    return content_hash(("computation", function_id, version, item, params, *_tail(replicate)))


def computation_keys(function, version: str, items, params, replicate: int = 0) -> list[str]:
    """``computation_key`` of each item with one params: the same digests, params encoded once.

    The runner hashes every (item, params) of the grid before a run; this halves that cost.
    """
    function_id = f"{function.__module__}.{function.__qualname__}"
    head = [canonical("computation"), canonical(function_id), canonical(version)]
    encoded_params = canonical(params)
    tail = [canonical(part) for part in _tail(replicate)]
    return [
        hashlib.sha256(
            _dumps({"tuple": [*head, canonical(item), encoded_params, *tail]}).encode()
        ).hexdigest()
        for item in items
    ]


class KeyHasher:
    """``computation_key`` of a whole grid: the same digests, each item and each params encoded
    once per run, and each key one copy of its item's SHA-256 state plus the params' tail.

    The canonical encoding of ``("computation", function_id, version, item, params)`` is the
    concatenation of its parts' encodings (JSON of a list), so the digest can be computed from
    the item's prefix and the params' suffix.
    """

    def __init__(self, function, version: str, replicate: int = 0):
        function_id = f"{function.__module__}.{function.__qualname__}"
        head = ",".join(_dumps(canonical(part)) for part in ("computation", function_id, version))
        self.head = '{"tuple":[' + head + ","
        self.end = "".join(f",{_dumps(canonical(part))}" for part in _tail(replicate)) + "]}"

    def item(self, item):
        """(the item's canonical encoding, the SHA-256 state of every key's prefix with it)."""
        encoded = _dumps(canonical(item))
        return encoded, hashlib.sha256(f"{self.head}{encoded},".encode())

    def tail(self, params) -> bytes:
        """The end of every key's encoding with ``params`` (pass it to ``key``)."""
        return f"{_dumps(canonical(params))}{self.end}".encode()

    @staticmethod
    def key(prefix, tail: bytes) -> str:
        digest = prefix.copy()
        digest.update(tail)
        return digest.hexdigest()


def _tail(replicate: int) -> tuple:
    """The key's last part: nothing for replicate 0, else ("replicate", index)."""
    if isinstance(replicate, bool) or not isinstance(replicate, int) or replicate < 0:
        raise ValueError(f"replicate = {replicate!r}: expected an int >= 0")
    return (("replicate", replicate),) if replicate else ()


def result_digest(result: dict) -> str:
    """Digest of a row's result as SQLite gives it back (bools as ints, NULLs and NaNs left out:
    SQLite stores NaN as NULL; numbers to 12 significant digits, numeric text as numbers), so
    an edited row is noticed on reading.
    """
    stored = {name: _as_stored(value) for name, value in result.items() if not _is_null(value)}
    return hashlib.sha256(_dumps(stored).encode()).hexdigest()[:16]


def _is_null(value) -> bool:
    return value is None or (isinstance(value, float) and value != value)  # NaN != NaN


def _as_stored(value) -> str:
    if isinstance(value, str):  # a number in a TEXT column and text in a numeric one alike
        return _stored_text(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (bool, int)):
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.12g}"
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


@functools.lru_cache(maxsize=4096)  # labels and empty errors repeat on every row
def _stored_text(value: str) -> str:
    try:
        number = float(value)
    except ValueError:
        return value
    return _as_stored(number)
