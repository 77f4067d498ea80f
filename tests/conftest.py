"""Shared helpers for the template's tests.

Fast tier: bake and inspect files. End-to-end tier (marker ``e2e``): install a baked project in
a real virtual environment and run it as a user would. One environment holds the baked
projects' dependencies and is reused across bakes (each bake is installed into it without
dependencies); ``test_install_from_pyproject`` still installs one project from its own
pyproject.toml into a fresh environment to catch a missing dependency.
"""

import itertools
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter

TEMPLATE_DIR = Path(__file__).resolve().parents[1]
# Option values that bake today. The pre-generation hook refuses the others.
AVAILABLE = {
    "benchmark_kind": ["classification"],
    "engine": ["sqlite"],
    "parallelism": ["none", "threads", "processes"],
}
DEFAULT_MODULE = "my_benchmark"


def option_matrix():
    """Every valid combination of the choice options, as pytest params with readable ids."""
    names = list(AVAILABLE)
    for values in itertools.product(*(AVAILABLE[n] for n in names)):
        answers = dict(zip(names, values, strict=True))
        yield pytest.param(answers, id="-".join(f"{k}={v}" for k, v in answers.items()))


def bake(output_dir: Path, **answers) -> Path:
    """Bake the template with ``--no-input`` plus ``answers``; return the project folder."""
    return Path(
        cookiecutter(
            str(TEMPLATE_DIR), no_input=True, extra_context=answers, output_dir=str(output_dir)
        )
    )


def run(cmd, cwd: Path, env: dict | None = None, timeout: float = 600, check: bool = True):
    """Run a command; on failure show its output in the assertion message."""
    done = subprocess.run(
        cmd,
        check=False,  # checked below, with the output in the message
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        shell=isinstance(cmd, str),
    )
    if check and done.returncode != 0:
        raise AssertionError(
            f"{cmd} exited {done.returncode}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
        )
    return done


def create_venv(path: Path) -> Path:
    """A virtual environment at ``path`` (uv when available: much faster); returns its python."""
    if shutil.which("uv"):
        run(["uv", "venv", "--quiet", "--python", sys.executable, str(path)], cwd=path.parent)
    else:
        run([sys.executable, "-m", "venv", str(path)], cwd=path.parent)
    return path / "bin" / "python"


def pip_install(python: Path, *args: str) -> None:
    if shutil.which("uv"):
        run(["uv", "pip", "install", "--quiet", "--python", str(python), *args], cwd=python.parent)
    else:
        run([str(python), "-m", "pip", "install", "--quiet", *args], cwd=python.parent)


@pytest.fixture(scope="session")
def shared_python(tmp_path_factory) -> Path:
    """Python of one environment holding the baked projects' dependencies (installed once)."""
    root = tmp_path_factory.mktemp("shared-env")
    project = bake(root / "seed")
    python = create_venv(root / "venv")
    pip_install(python, "-e", f"{project}[dev]")
    return python


@pytest.fixture(scope="session")
def default_project(tmp_path_factory, shared_python) -> Path:
    """The default bake, installed (without deps) into the shared environment."""
    project = bake(tmp_path_factory.mktemp("default"))
    pip_install(shared_python, "--no-deps", "-e", str(project))
    return project


def install_into(python: Path, project: Path) -> None:
    pip_install(python, "--no-deps", "-e", str(project))
