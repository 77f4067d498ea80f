"""The model-comparison parameters: checked types, quantized floats, a grid of estimators."""

import pytest

from {{ cookiecutter.module_name }}.harness.identity import content_hash
from {{ cookiecutter.module_name }}.params import Params, grid


def test_wrong_types_are_rejected_with_the_field_name():
    with pytest.raises(TypeError, match="Params.C"):
        Params(C="strong")
    with pytest.raises(TypeError, match="Params.n_estimators"):
        Params(n_estimators=10.0)


def test_floats_are_quantized():
    assert Params(C=1e-4) == Params(C=0.00010000001)
    assert content_hash(Params(C=1e-4)) == content_hash(Params(C=0.00010000001))
    assert content_hash(Params(C=1e-4)) != content_hash(Params(C=2e-4))


def test_grid_compares_estimators_and_their_hyperparameters():
    configurations = grid()
    models = {params.model for params in configurations}
    assert len(models) >= 2
    for model in models:  # each estimator is swept over at least two settings
        assert sum(params.model == model for params in configurations) >= 2
