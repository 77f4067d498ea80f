"""Identity of a computation: content hashes, stable across processes, never colliding."""

import dataclasses
import math
import sqlite3
import subprocess
import sys

import pytest

from {{ cookiecutter.module_name }}.data import load_items
from {{ cookiecutter.module_name }}.harness import plan
from {{ cookiecutter.module_name }}.harness.identity import (
    KeyHasher,
    check_fields,
    computation_key,
    content_hash,
    neutral,
    renamed,
    result_digest,
)
from {{ cookiecutter.module_name }}.harness.tracking import RowWriter, flatten
from {{ cookiecutter.module_name }}.params import Params, grid
from {{ cookiecutter.module_name }}.predict import PREDICT_VERSION, predict


@dataclasses.dataclass(frozen=True)
class Record:
    number: int
    text: str | None

    def __post_init__(self):
        check_fields(self)


@dataclasses.dataclass(frozen=True)
class OtherRecord:
    number: int
    text: str | None


def test_params_are_frozen_and_hashable():
    params = Params()
    field = dataclasses.fields(params)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(params, field, getattr(params, field))
    assert hash(params) == hash(Params())
    assert len({params, Params()}) == 1


def test_mutable_field_types_are_rejected():
    @dataclasses.dataclass(frozen=True)
    class Bad:
        words: list

        def __post_init__(self):
            check_fields(self)

    with pytest.raises(TypeError, match="tuple"):
        Bad(words=["a"])


def test_wrong_types_are_rejected_with_the_field_name():
    with pytest.raises(TypeError, match="Record.number"):
        Record(number="1", text="a")
    with pytest.raises(TypeError, match="Record.number"):
        Record(number=True, text="a")


def test_hash_is_the_same_in_another_process():
    code = (
        "from {{ cookiecutter.module_name }}.params import Params;"
        "from {{ cookiecutter.module_name }}.harness.identity import content_hash;"
        "print(content_hash(Params()))"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={"PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert digests == {content_hash(Params())}


def test_no_collisions_between_close_values_or_types():
    # hash(-1) == hash(-2) in CPython: xetrack's key would collide here.
    assert content_hash(Record(-1, "a")) != content_hash(Record(-2, "a"))
    assert content_hash(Record(1, "a")) != content_hash(OtherRecord(1, "a"))
    assert content_hash(Record(1, "1")) != content_hash(Record(1, "a"))
    assert content_hash(Record(1, None)) != content_hash(Record(1, ""))


def test_computation_key_changes_with_version_item_and_params():
    first, second = load_items(limit=2)
    params, other = grid()[:2]
    key = computation_key(predict, PREDICT_VERSION, first, params)
    assert key == computation_key(predict, PREDICT_VERSION, first, params)
    assert key != computation_key(predict, PREDICT_VERSION + "-next", first, params)
    assert key != computation_key(predict, PREDICT_VERSION, second, params)
    assert key != computation_key(predict, PREDICT_VERSION, first, other)


def test_grid_has_unique_configurations():
    configurations = grid()
    assert len(configurations) == len(set(configurations)) > 1
    assert len({p.config_id for p in configurations}) == len(configurations)


def same_name(new: type, old: type) -> type:
    """``new`` under ``old``'s name: the same class after an edit of its fields."""
    new.__qualname__ = old.__qualname__
    return new


def test_a_neutral_field_at_its_neutral_value_keeps_the_hash():
    @dataclasses.dataclass(frozen=True)
    class Before:
        number: int

    @dataclasses.dataclass(frozen=True)
    class After:
        number: int
        window: int | None = neutral(None)
        scale: float = neutral(1.0)

        def __post_init__(self):
            check_fields(self)  # as Params does: 1 becomes 1.0

    same_name(After, Before)
    assert content_hash(After(3)) == content_hash(Before(3))
    assert content_hash(After(3, scale=1)) == content_hash(Before(3))  # equal content: 1 == 1.0
    assert content_hash(After(3, window=5)) != content_hash(Before(3))
    assert content_hash(After(3, scale=2.0)) != content_hash(Before(3))


def test_a_renamed_field_keeps_the_hash_and_a_plain_change_does_not():
    @dataclasses.dataclass(frozen=True)
    class Before:
        lexicon: str = "base"

    @dataclasses.dataclass(frozen=True)
    class Renamed:
        word_list: str = renamed("lexicon", default="base")

    @dataclasses.dataclass(frozen=True)
    class Undeclared:
        word_list: str = "base"

    same_name(Renamed, Before)
    same_name(Undeclared, Before)
    assert content_hash(Renamed()) == content_hash(Before())
    assert content_hash(Renamed("extended")) == content_hash(Before("extended"))
    assert content_hash(Undeclared()) != content_hash(Before())


def test_a_result_digest_survives_the_round_trip_through_sqlite(tmp_path):
    """validate rechecks row_digest on rows read back: SQLite's types must not change it."""
    rows = [
        {"a": 1, "b": 0.1 + 0.2, "c": True, "d": "text", "e": None, "f": math.nan, "g": 2.0},
        {"a": 2.5, "b": "7", "c": False, "d": 3, "e": "x", "f": 1.0, "g": 1e-9},  # mixed types
    ]
    writer = RowWriter(tmp_path / "t.db", "results", "run")
    writer.write(rows)
    writer.close()
    with sqlite3.connect(tmp_path / "t.db") as connection:
        cursor = connection.execute("SELECT a, b, c, d, e, f, g FROM results ORDER BY timestamp")
        names = [column[0] for column in cursor.description]
        read = [dict(zip(names, values, strict=True)) for values in cursor]
    assert [result_digest(r) for r in read] == [result_digest(r) for r in rows]
    assert result_digest({"a": 1}) != result_digest({"a": 2})


def test_the_streamed_plan_has_the_computation_keys_of_today(monkeypatch):
    """plan.Plan (each item and params encoded once, keys from a copied SHA-256 state) gives
    exactly computation_key's digests, so existing dbs and caches stay valid; equal items and
    configurations collapse (the first is kept); chunks of items keep every key."""
    items, configurations = load_items()[:5], grid()[:3]
    monkeypatch.setattr(plan, "CHUNK", 2)  # several chunks of items
    work = plan.Plan([*items, items[1]], [*configurations, configurations[0]], predict, "7")
    assert (work.size, work.duplicates) == (15, 6 * 4 - 15)
    walked = [(key, item, p) for p, batch in work.batches() for key, item, _ in batch]
    chunks = (items[:2], items[2:4], items[4:])
    assert [(item, p) for _, item, p in walked] == [
        (item, p) for chunk in chunks for p in configurations for item in chunk
    ]
    assert [key for key, _, _ in walked] == [
        computation_key(predict, "7", item, p) for _, item, p in walked
    ]
    hasher = KeyHasher(predict, PREDICT_VERSION)
    prefix = hasher.item(items[0])[1]
    assert hasher.key(prefix, hasher.tail(configurations[1])) == computation_key(
        predict, PREDICT_VERSION, items[0], configurations[1]
    )
    for replicate in (1, 2):  # run --replicate N: the keys of computation_key(..., replicate)
        hasher = KeyHasher(predict, PREDICT_VERSION, replicate)
        assert hasher.key(prefix, hasher.tail(configurations[1])) != computation_key(
            predict, PREDICT_VERSION, items[0], configurations[1]
        )
        prefix = hasher.item(items[0])[1]
        assert hasher.key(prefix, hasher.tail(configurations[1])) == computation_key(
            predict, PREDICT_VERSION, items[0], configurations[1], replicate
        )
    columns = next(work.batches())[1][0][2]  # the item's columns, as a row stores them
    assert columns == flatten("item", items[0])
    assert set(columns) == {f"item_{f.name}" for f in dataclasses.fields(items[0])}
