"""Parameters and items are frozen, checked, and hashed by content (the cache identity)."""

import dataclasses
import subprocess
import sys

import pytest

from {{ cookiecutter.module_name }}.data import Item
from {{ cookiecutter.module_name }}.identity import check_fields, computation_key, content_hash
from {{ cookiecutter.module_name }}.params import Params, grid
from {{ cookiecutter.module_name }}.predict import PREDICT_VERSION, predict


@dataclasses.dataclass(frozen=True)
class Record:
    number: int
    text: str

    def __post_init__(self):
        check_fields(self)


@dataclasses.dataclass(frozen=True)
class OtherRecord:
    number: int
    text: str


def test_params_are_frozen_and_hashable():
    params = Params()
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.threshold = 2.0
    assert hash(params) == hash(Params())
    assert len({params, Params()}) == 1


def test_wrong_types_are_rejected_with_the_field_name():
    with pytest.raises(TypeError, match="Params.threshold"):
        Params(threshold="high")
    with pytest.raises(TypeError, match="Params.negation"):
        Params(negation=1)


def test_mutable_field_types_are_rejected():
    @dataclasses.dataclass(frozen=True)
    class Bad:
        words: list

        def __post_init__(self):
            check_fields(self)

    with pytest.raises(TypeError, match="tuple"):
        Bad(words=["a"])


def test_floats_are_quantized():
    assert Params(threshold=1e-4) == Params(threshold=0.00010000001)
    assert content_hash(Params(threshold=1e-4)) == content_hash(Params(threshold=0.00010000001))
    assert content_hash(Params(threshold=1e-4)) != content_hash(Params(threshold=2e-4))


def test_hash_is_the_same_in_another_process():
    code = (
        "from {{ cookiecutter.module_name }}.params import Params;"
        "from {{ cookiecutter.module_name }}.identity import content_hash;"
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
    assert content_hash(Item("x", None, None)) != content_hash(Item("x", "", None))


def test_computation_key_changes_with_version_item_and_params():
    item = Item("s1", "good", "positive")
    key = computation_key(predict, PREDICT_VERSION, item, Params())
    assert key == computation_key(
        predict, PREDICT_VERSION, Item("s1", "good", "positive"), Params()
    )
    assert key != computation_key(predict, PREDICT_VERSION + "-next", item, Params())
    assert key != computation_key(
        predict, PREDICT_VERSION, Item("s2", "good", "positive"), Params()
    )
    assert key != computation_key(predict, PREDICT_VERSION, item, Params(threshold=0.5))


def test_grid_has_unique_configurations():
    configurations = grid()
    assert len(configurations) == len(set(configurations)) > 1
    assert len({p.config_id for p in configurations}) == len(configurations)
