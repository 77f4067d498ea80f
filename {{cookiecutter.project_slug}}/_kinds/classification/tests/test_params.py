"""The classification parameters: checked types, quantized floats."""

import pytest

from {{ cookiecutter.module_name }}.harness.identity import content_hash
from {{ cookiecutter.module_name }}.params import Params


def test_wrong_types_are_rejected_with_the_field_name():
    with pytest.raises(TypeError, match="Params.threshold"):
        Params(threshold="high")
    with pytest.raises(TypeError, match="Params.negation"):
        Params(negation=1)


def test_floats_are_quantized():
    assert Params(threshold=1e-4) == Params(threshold=0.00010000001)
    assert content_hash(Params(threshold=1e-4)) == content_hash(Params(threshold=0.00010000001))
    assert content_hash(Params(threshold=1e-4)) != content_hash(Params(threshold=2e-4))
