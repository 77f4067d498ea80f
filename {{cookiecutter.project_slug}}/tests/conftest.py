import pytest

from {{ cookiecutter.module_name }}.data import load_items
from {{ cookiecutter.module_name }}.params import grid


@pytest.fixture
def items():
    return load_items(limit=12)


@pytest.fixture
def configurations():
    return grid()[:2]
{%- if cookiecutter.benchmark_kind == "llm" %}


@pytest.fixture(autouse=True)
def offline_only(monkeypatch):
    """No test reaches a network: the grid stays offline whatever the shell exports."""
    for name in ("LLM_PROVIDER", "LLM_MODELS"):
        monkeypatch.delenv(name, raising=False)
{%- endif %}
{%- if cookiecutter.benchmark_kind == "throughput" %}


@pytest.fixture(autouse=True)
def local_target_only(monkeypatch):
    """No test reaches a network: the grid stays on the local target whatever the shell
    exports (tests that need a server start their own on 127.0.0.1)."""
    names = ("LOAD_URL", "LOAD_CONCURRENCY", "LOAD_TARGET_VERSION", "LOAD_REQUESTS_PER_WORKER")
    for name in names:
        monkeypatch.delenv(name, raising=False)
{%- endif %}
{%- if cookiecutter.benchmark_kind == "sklearn" %}


@pytest.fixture(autouse=True)
def models_dir(tmp_path, monkeypatch):
    """Each test fits into its own model folder (also in the processes it starts)."""
    from {{ cookiecutter.module_name }} import models

    folder = tmp_path / "models"
    monkeypatch.setenv("BENCHMARK_MODELS_DIR", str(folder))
    monkeypatch.setattr(models, "MODELS_DIR", folder)
    monkeypatch.setattr(models, "_loaded", {})
    return folder
{%- endif %}
