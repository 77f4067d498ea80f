import pytest

from {{ cookiecutter.module_name }}.data import load_items
from {{ cookiecutter.module_name }}.params import grid


@pytest.fixture
def items():
    return load_items(limit=12)


@pytest.fixture
def configurations():
    return grid()[:2]
