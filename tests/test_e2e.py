"""End-to-end tier: bake the default project and use it as a new user would, through make.

The default bake gets its own ``make install`` (a fresh .venv built from the baked
pyproject.toml: this is what catches a missing dependency). The steps run in the order a user
follows them; each step is a module-scoped fixture that records what it saw, and the tests
assert on those records. The parallelism variants reuse the shared environment
(``make <target> VENV=...``) instead of installing again.
"""

import re
import shutil
import time
from pathlib import Path

import pytest

from helpers import bake, make, option_matrix, pip_install, run, tools_env
from results import (
    assert_rerun_reused_everything,
    db_rows,
    report_images,
    run_counts,
    runs_in_order,
)

pytestmark = pytest.mark.e2e
USER_TARGETS = ("help", "install", "test", "dev", "run", "validate", "cache", "report", "clean-dev")


class Step:
    """What one command did: its output, and facts gathered right after it."""

    def __init__(self, done, **facts):
        self.stdout, self.stderr, self.output = done.stdout, done.stderr, done.stdout + done.stderr
        self.facts = facts


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict]:
    """The default bake after `make install`, and what the install left before anything ran:
    the package's modules without bytecode, the dependency's .pyc files."""
    project = bake(tmp_path_factory.mktemp("user"))
    assert shutil.which("uv", path=tools_env()["PATH"]), (
        "uv is not on PATH: make install would fall back to pip (install test deps with .ci/run)"
    )
    started = time.monotonic()
    make(project, "install", timeout=900)
    print(f"make install: {time.monotonic() - started:.1f}s")
    package = project / "src" / "my_benchmark"
    uncompiled = [
        str(module.relative_to(package))
        for module in package.rglob("*.py")
        if not list(module.parent.glob(f"__pycache__/{module.stem}.*.pyc"))
    ]
    dependency = project.glob(".venv/lib/python*/site-packages/xetrack/__pycache__/*.pyc")
    return project, {"uncompiled": uncompiled, "xetrack_pyc": len(list(dependency))}


@pytest.fixture(scope="module")
def project(installed) -> Path:
    """The default bake, after `make install`."""
    return installed[0]


@pytest.fixture(scope="module")
def venv_python(project) -> Path:
    return project / ".venv" / "bin" / "python"


@pytest.fixture(scope="module")
def dev(project) -> Step:
    done = make(project, "dev")
    return Step(
        done,
        dev_db=(project / "dev.db").exists(),
        results_db=(project / "benchmark.db").exists(),
        rows=db_rows(project / "dev.db", "predictions") if (project / "dev.db").exists() else [],
    )


@pytest.fixture(scope="module")
def runs(project, dev) -> tuple[Step, Step]:
    """`make run` twice (after the dev run, as the README's workflow goes)."""
    first = make(project, "run")
    second = make(project, "run")
    return Step(first), Step(second, runs=runs_in_order(project / "benchmark.db"))


def test_make_install_builds_venv_from_the_project(project, venv_python):
    assert venv_python.exists()
    check = (
        "import importlib.metadata as m, my_benchmark, xetrack; "
        "print(m.version('my-benchmark'), m.version('xetrack'))"
    )
    done = run([str(venv_python), "-c", check], cwd=project)
    assert done.stdout.split() == ["0.1.0", "0.7.0"]
    for tool in ("pytest", "ruff"):  # the dev group
        assert (project / ".venv" / "bin" / tool).exists(), f"{tool} not installed by make install"
    # the first install writes the lock files; numpy 2 (the uv override of xetrack's numpy<2),
    # with which make test, run, validate and report below pass
    assert (project / "uv.lock").is_file() and (project / "requirements.lock").is_file()
    numpy = run([str(venv_python), "-c", "import numpy; print(numpy.__version__)"], cwd=project)
    assert numpy.stdout.startswith("2."), numpy.stdout


def test_make_install_compiles_bytecode(installed):
    """make install writes the bytecode of the project and its dependencies: the first command
    does not compile every module it imports."""
    project, left = installed
    assert (project / "src" / "my_benchmark" / "harness" / "runner.py").exists()
    assert left["uncompiled"] == [], f"no bytecode after make install: {left['uncompiled']}"
    assert left["xetrack_pyc"] > 0, "uv sync compiled no dependency (UV_COMPILE_BYTECODE=1)"


def test_make_prints_help_listing_every_target(project):
    done = make(project)
    makefile = (project / "Makefile").read_text()
    targets = set(re.findall(r"^([A-Za-z][\w-]*):(?![:?]?=)", makefile, flags=re.M))
    assert set(USER_TARGETS) <= targets, f"Makefile lacks {set(USER_TARGETS) - targets}"
    listed = set(re.findall(r"^\s*make (\S+)", done.stdout, flags=re.M))
    assert listed == targets, f"help lists {sorted(listed)}, Makefile has {sorted(targets)}"


def test_make_test_passes(project):
    done = make(project, "test")
    summary = done.stdout.strip().splitlines()[-1]
    assert re.search(r"\b[1-9]\d* passed\b", summary), done.stdout
    assert not re.search(r"\b(failed|error|errors)\b", summary), summary


def test_make_dev_writes_dev_db_only(dev):
    assert dev.facts["dev_db"], dev.output
    assert not dev.facts["results_db"], "make dev wrote benchmark.db"
    computed, reused = run_counts(dev.output)
    assert computed == len(dev.facts["rows"]) > 0 and reused == 0
    inputs = {row["input_id"] for row in dev.facts["rows"]}
    assert 0 < len(inputs) <= 10, f"dev run used {len(inputs)} items, expected a small subset"


def test_second_make_run_computes_nothing(runs):
    first, second = runs
    computed, reused = run_counts(first.output)
    assert computed > 0 and reused == 0, first.output
    assert run_counts(second.output) == (0, computed), second.output


def test_second_make_run_rows_point_at_the_first_run(project, runs, dev):
    assert_rerun_reused_everything(project / "benchmark.db")
    first, second = runs[1].facts["runs"]
    assert len(first) > len(dev.facts["rows"]), "the full run covers more than the dev subset"


def test_make_validate_passes(project, runs):
    done = make(project, "validate")
    assert "passed" in done.stdout, done.stdout


def test_make_cache_reports_hits(project, runs):
    done = make(project, "cache")
    rows = sum(len(r) for r in runs[1].facts["runs"])
    hits = len(runs[1].facts["runs"][1])
    assert "Cache hits" in done.stdout, done.stdout
    assert re.search(rf"Total executions: {rows}\b", done.stdout), done.stdout
    assert re.search(rf"Cache hits: {hits}\b", done.stdout), done.stdout


def test_make_report_writes_markdown_and_plots(project, runs):
    make(project, "report")
    folder = project / "reports" / "baseline"
    readme = folder / "README.md"
    assert readme.exists(), sorted(p.name for p in folder.parent.rglob("*"))
    linked = report_images(folder)
    assert linked == {p.name for p in folder.glob("*.png")}, "a plot is written but not shown"


def test_seed_scripts_work_on_the_results(project, venv_python, runs):
    validate = run(
        [str(venv_python), "scripts/validate_benchmark.py", "benchmark.db", "predictions"],
        cwd=project,
    )
    assert "passed" in validate.stdout
    analysis = run(
        [str(venv_python), "scripts/analyze_cache_hits.py", "benchmark.db", "predictions"],
        cwd=project,
    ).stdout
    for label in (
        "Total executions",
        "Cache hits",
        "Cache misses",
        "Unique parameter combinations",
    ):
        assert label in analysis, analysis


def test_make_clean_dev_removes_dev_db_and_keeps_results(project, dev, runs):
    assert (project / "dev.db").exists()
    make(project, "clean-dev")
    assert not (project / "dev.db").exists()
    assert (project / "benchmark.db").exists()
    # the results' cache survives: one more run still computes nothing
    assert run_counts(make(project, "run").stdout) == (0, len(runs[1].facts["runs"][0]))


VARIANTS = [p for p in option_matrix("parallelism") if p.values[0]["parallelism"] != "none"]


@pytest.mark.parametrize("answers", VARIANTS)
def test_parallelism_variant_runs_each_datapoint_once(tmp_path, shared_python, venv, answers):
    value = answers["parallelism"]
    module = f"bench_{value}"
    project = bake(tmp_path, project_name=f"Bench {value}", **answers)
    pip_install(shared_python, "-e", str(project))  # with its dependencies (dask brings its own)
    check = f"from {module}.harness import runner; print(runner.PARALLELISM)"
    done = run([str(shared_python), "-c", check], cwd=project)
    assert done.stdout.strip() == value
    first, second = make(project, "run", venv), make(project, "run", venv)
    computed, reused = run_counts(first.stdout)
    assert computed > 0 and reused == 0
    assert run_counts(second.stdout) == (0, computed)
    assert_rerun_reused_everything(project / "benchmark.db")
    assert "passed" in make(project, "validate", venv).stdout
