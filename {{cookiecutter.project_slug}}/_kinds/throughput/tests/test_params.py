"""The load levels: one configuration per concurrency level, configured by the environment."""

import pytest

from {{ cookiecutter.module_name }}.params import LEVELS, Params, grid


def test_the_default_grid_is_the_local_target_at_each_level():
    configurations = grid()
    assert [p.concurrency for p in configurations] == list(LEVELS)
    assert {(p.target, p.url) for p in configurations} == {("local", "")}
    assert len({p.config_id for p in configurations}) == len(LEVELS)


def test_the_environment_points_the_grid_at_an_endpoint(monkeypatch):
    monkeypatch.setenv("LOAD_URL", "http://127.0.0.1:8000/work")
    monkeypatch.setenv("LOAD_CONCURRENCY", "4, 1,4")
    monkeypatch.setenv("LOAD_TARGET_VERSION", "build-42")
    configurations = grid()
    assert [p.concurrency for p in configurations] == [4, 1]  # as given, each level once
    for params in configurations:
        assert (params.target, params.url) == ("http", "http://127.0.0.1:8000/work")
        assert (params.sleep_ms, params.cpu_rounds) == (0, 0)  # local-only knobs
        assert params.target_version == "build-42"
    monkeypatch.setenv("LOAD_CONCURRENCY", "1,many")
    with pytest.raises(ValueError, match="LOAD_CONCURRENCY"):
        grid()


def test_a_new_target_version_is_a_new_configuration():
    assert Params(target_version="2").config_id != Params().config_id
    assert Params(timeout=5.0000000001) == Params(timeout=5.0)  # floats are quantized


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"concurrency": 0}, "concurrency"),
        ({"target": "grpc"}, "target"),
        ({"target": "http"}, "url"),
        ({"target": "http", "url": "127.0.0.1:8000"}, "url"),
    ],
)
def test_impossible_levels_are_refused(fields, message):
    with pytest.raises(ValueError, match=message):
        Params(**fields)


def test_wrong_types_are_refused():
    with pytest.raises(TypeError, match="Params.concurrency"):
        Params(concurrency="8")
