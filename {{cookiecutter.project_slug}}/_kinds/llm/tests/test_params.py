"""The prompt benchmark's parameters: checked types, quantized floats, the grid's provider."""

import pytest

from {{ cookiecutter.module_name }}.harness.identity import content_hash
from {{ cookiecutter.module_name }}.params import Params, grid


def test_wrong_types_are_rejected_with_the_field_name():
    with pytest.raises(TypeError, match="Params.temperature"):
        Params(temperature="hot")
    with pytest.raises(TypeError, match="Params.max_tokens"):
        Params(max_tokens=64.0)


def test_temperature_is_quantized():
    assert Params(temperature=0.7) == Params(temperature=0.70000000001)
    assert content_hash(Params(temperature=0.7)) == content_hash(Params(temperature=0.70000000001))
    assert content_hash(Params(temperature=0.7)) != content_hash(Params(temperature=0.75))


def test_provider_is_part_of_the_identity():
    """Offline answers are never served from the cache as a real model's, or the reverse."""
    assert Params(provider="offline").config_id != Params(provider="openai").config_id


def test_the_grid_switches_to_a_real_endpoint_by_environment(monkeypatch):
    assert {p.provider for p in grid()} == {"offline"}
    monkeypatch.setenv("LLM_PROVIDER", "openai")
    monkeypatch.setenv("LLM_MODELS", "model-a, model-b")
    configurations = grid()
    assert {p.provider for p in configurations} == {"openai"}
    assert {p.model for p in configurations} == {"model-a", "model-b"}
    monkeypatch.setenv("LLM_PROVIDER", "nope")
    with pytest.raises(ValueError, match="LLM_PROVIDER"):
        grid()
