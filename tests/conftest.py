"""pytest fixtures shared by the template's tests. Helpers and constants: helpers.py."""

from pathlib import Path

import pytest

from helpers import bake, create_venv, dev_group, install_into, pip_install


@pytest.fixture(scope="session", autouse=True)
def isolated_cookiecutter_config(tmp_path_factory):
    """Keep cookiecutter's replay files out of the user's home directory."""
    root = tmp_path_factory.mktemp("cookiecutter-config")
    config = root / "config.yaml"
    config.write_text(
        f'cookiecutters_dir: "{root / "cookiecutters"}"\nreplay_dir: "{root / "replay"}"\n'
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COOKIECUTTER_CONFIG", str(config))
        yield config


@pytest.fixture(scope="session")
def baked(tmp_path_factory):
    """``baked(answers)``: the project folder of a bake with ``answers``, baked once a session."""
    projects = {}

    def get(answers: dict) -> Path:
        key = tuple(sorted(answers.items()))
        if key not in projects:
            projects[key] = bake(tmp_path_factory.mktemp("bake"), **answers)
        return projects[key]

    return get


@pytest.fixture(scope="session")
def shared_python(tmp_path_factory) -> Path:
    """Python of one environment holding the baked projects' dependencies (installed once)."""
    root = tmp_path_factory.mktemp("shared-env")
    project = bake(root / "seed")
    python = create_venv(root / "venv")
    pip_install(python, "-e", str(project), *dev_group(project))
    return python


@pytest.fixture(scope="session")
def venv(shared_python) -> str:
    """`make` argument that runs a baked project's targets in the shared environment."""
    return f"VENV={shared_python.parent.parent}"


@pytest.fixture(scope="session")
def default_project(tmp_path_factory, shared_python) -> Path:
    """The default bake, installed (without deps) into the shared environment."""
    project = bake(tmp_path_factory.mktemp("default"))
    install_into(shared_python, project)
    return project


def pytest_collection_modifyitems(items):
    """Under ``--dist loadgroup``, keep a module's tests on one worker when they share a
    module-scoped fixture: it bakes and installs a project, which would otherwise be done once per
    worker. Tests without one (the fast tier, the kind suites under another name) spread freely."""
    for item in items:
        definitions = getattr(item, "_fixtureinfo", None)
        if definitions is None:
            continue
        scopes = {d.scope for defs in definitions.name2fixturedefs.values() for d in defs}
        if "module" in scopes:
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
