"""Helpers and constants shared by the template's tests (fixtures live in conftest.py).

Fast tier: bake and inspect files. End-to-end tier (marker ``e2e``): install a baked project in
a real virtual environment and run it as a user would. One environment holds the baked
projects' dependencies and is reused across bakes (each bake is installed into it without
dependencies); the default bake is installed with its own ``make install`` into its own
``.venv``, which is what catches a dependency missing from the baked pyproject.toml.

Where to edit when the template changes:
- a new option or option value -> nothing here: ``option_matrix()`` reads cookiecutter.json
- a file is added/removed/renamed in the baked project -> ``expected_files``
"""

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cookiecutter.generate import generate_context
from cookiecutter.main import cookiecutter
from cookiecutter.prompt import prompt_for_config

TEMPLATE_DIR = Path(__file__).resolve().parents[1]
COOKIECUTTER_JSON = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text())

DEFAULT_MODULE = "my_benchmark"
DEFAULT_SLUG = "my-benchmark"

ANSWERS_FILE = ".cookiecutter.json"
PRE_COMMIT_CONFIG = ".pre-commit-config.yaml"
# A custom bake next to the default one: quotes in free text, another Python, another module.
CUSTOM_ANSWERS = {
    "project_name": 'It\'s a "Quoted" Bench',
    "author_name": "Ada O'Brien",
    "python_version": "3.13",
    "parallelism": "threads",
}
# The bakes the tooling tests inspect: the default, the custom one, and the other engine.
ANSWER_VARIANTS = [
    pytest.param({}, id="default"),
    pytest.param(CUSTOM_ANSWERS, id="custom"),
    pytest.param({"engine": "duckdb"}, id="duckdb"),
]


# Options that change a text only (LICENSE and one pyproject.toml line): out of the full matrix,
# tested on their own (test_bake.py, test_every_license_bakes).
TEXT_ONLY_OPTIONS = {"license"}


def choices() -> dict[str, list[str]]:
    """The choice variables of cookiecutter.json and all their values (default first)."""
    return {
        name: value
        for name, value in COOKIECUTTER_JSON.items()
        if isinstance(value, list) and not name.startswith("_")
    }


def option_matrix(*vary: str):
    """Combinations of the choice options of cookiecutter.json as pytest params with readable ids.

    Every value cookiecutter.json offers bakes, so the values come from there (defaults first).
    With no argument every option varies (the full matrix); ``option_matrix("parallelism")``
    varies only the named options and keeps the others at their default.
    """
    options = choices()
    names = list(vary or (name for name in options if name not in TEXT_ONLY_OPTIONS))
    for values in itertools.product(*(options[n] for n in names)):
        answers = dict(zip(names, values, strict=True))
        yield pytest.param(answers, id="-".join(f"{k}={v}" for k, v in answers.items()))


def full_context(**answers) -> dict:
    """Every cookiecutter variable as a ``--no-input`` bake with ``answers`` would see it
    (derived values such as project_slug and module_name rendered the way cookiecutter does)."""
    context = generate_context(
        context_file=str(TEMPLATE_DIR / "cookiecutter.json"), extra_context=answers
    )
    return dict(prompt_for_config(context, no_input=True))


KINDS_DIR = TEMPLATE_DIR / "{{cookiecutter.project_slug}}" / "_kinds"
# Where the post-generation hook places each part of a kind's folder ({module}: the package).
KIND_PARTS = {"src": "src/{module}", "tests": "tests", "data": "data"}


def kind_files(kind: str) -> list[str]:
    """The files a kind bakes, read from its folder ``_kinds/<kind>/`` of the template."""
    folder = KINDS_DIR / kind
    assert folder.is_dir(), f"no folder {folder} for benchmark_kind {kind!r}"
    return sorted(
        f"{KIND_PARTS[path.relative_to(folder).parts[0]]}/{path.name}"
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    )


def expected_files(context: dict) -> set[str]:
    """Every file a bake must contain, as paths relative to the project folder.

    ``context`` is ``full_context(**answers)``. THE place to edit when a baked file is added,
    removed or renamed; files that only some options bake go in the conditional part below.
    """
    module = context["module_name"]
    files = {
        ".cookiecutter.json",
        ".github/dependabot.yml",
        ".github/workflows/benchmark-ci.yml",
        ".gitignore",
        ".pre-commit-config.yaml",
        "EXPERIMENT.md",
        "LICENSE",
        "Makefile",
        "README.md",
        "pyproject.toml",
        "scripts/analyze_cache_hits.py",
        "scripts/validate_benchmark.py",
        *(f"src/{module}/{name}.py" for name in ("__init__", "__main__", "cli")),
        *(
            f"src/{module}/harness/{name}.py"
            for name in (
                "__init__",
                "aggregates",
                "app",
                "breaker",
                "cache",
                "cache_report",
                "cache_restore",
                "compare/__init__",
                "compare/between",
                "compare/core",
                "compare/fast",
                "compare/grouped",
                "compare/intervals",
                "compare/joint",
                "compare/load",
                "compare/means",
                "compare/png",
                "compare/planning",
                "compare/ranking",
                "compare/text",
                "compare/runs",
                "compare/stats",
                "dbfile",
                "errors",
                "execution",
                "fingerprint",
                "findings",
                "identity",
                "integrity",
                "jsonl",
                "keepalive",
                "kind",
                "level_checks",
                "levels",
                "lineage",
                "plan",
                "pools",
                "recorder",
                "replicates",
                "report",
                "report_data",
                "report_pass",
                "report_stats",
                "row_pass",
                "run_checks",
                "run_view",
                "runner",
                "schema",
                "shared_metrics",
                "sql",
                "table_pass",
                "tracking",
                "validation",
                "values",
            )
        ),
        *(
            f"tests/{name}.py"
            for name in (
                "conftest",
                "helpers",
                "test_analysis_sql",
                "test_breaker",
                "test_compare",
                "test_compare_joint",
                "test_compare_runs",
                "test_faults",
                "test_failures",
                "test_grouped",
                "test_identity",
                "test_kind",
                "test_ranking",
                "test_replicates",
                "test_runner",
            )
        ),
        *(path.format(module=module) for path in kind_files(context["benchmark_kind"])),
    }
    # Option-dependent files.
    if context["engine"] == "duckdb":
        files.add(f"src/{module}/harness/duckdb_setup.py")
    if context["parallelism"] == "dask":
        files.update({f"src/{module}/harness/cluster.py", "tests/test_cluster.py"})
    return files


CACHE_PARTS = {"__pycache__", ".ruff_cache", ".pytest_cache", ".mypy_cache", ".DS_Store"}


def file_set_diff(expected: set[str], actual: set[str]) -> str:
    missing, unexpected = sorted(expected - actual), sorted(actual - expected)
    lines = ["baked files differ from expected_files() in tests/helpers.py"]
    if missing:
        lines += ["  missing (expected, not baked):", *(f"    - {p}" for p in missing)]
    if unexpected:
        lines += ["  unexpected (baked, not expected):", *(f"    + {p}" for p in unexpected)]
    if any(set(p.split("/")) & CACHE_PARTS or p.endswith(".pyc") for p in unexpected):
        lines.append(
            "  hint: cache files were baked: the template folder holds untracked caches "
            "(e.g. from running ruff or pytest inside it); delete them"
        )
    lines.append("  if the change is intended, edit expected_files() in tests/helpers.py")
    return "\n".join(lines)


def assert_file_set(project: Path, context: dict) -> None:
    """The baked files are exactly ``expected_files(context)``; a readable diff otherwise."""
    expected, actual = expected_files(context), baked_files(project)
    assert actual == expected, file_set_diff(expected, actual)


def bake(output_dir: Path, **answers) -> Path:
    """Bake the template with ``--no-input`` plus ``answers``; return the project folder."""
    return Path(
        cookiecutter(
            str(TEMPLATE_DIR), no_input=True, extra_context=answers, output_dir=str(output_dir)
        )
    )


def baked_files(project: Path) -> set[str]:
    """Every file of ``project`` except git's (the post-generation hook makes a repository)."""
    return {
        p.relative_to(project).as_posix()
        for p in project.rglob("*")
        if p.is_file() and p.relative_to(project).parts[0] != ".git"
    }


def text_files(project: Path) -> dict[Path, str]:
    """Every baked file that is text (UTF-8 without NUL bytes), with its content."""
    found = {}
    for path in sorted(project.rglob("*")):
        if not path.is_file() or path.relative_to(project).parts[0] == ".git":
            continue
        data = path.read_bytes()
        if b"\0" in data:
            continue
        try:
            found[path] = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
    return found


# `${{ ... }}` is GitHub Actions' own syntax (baked from `{% raw %}`), not a Jinja leftover.
JINJA_LEFTOVER = re.compile(r"(?<!\$)\{\{|\{%|\{#")


def jinja_leftovers(project: Path) -> list[str]:
    """``path:line: text`` of every line still holding Jinja syntax."""
    leftovers = []
    for path, text in text_files(project).items():
        for number, line in enumerate(text.splitlines(), 1):
            if JINJA_LEFTOVER.search(line):
                leftovers.append(f"{path.relative_to(project)}:{number}: {line.strip()}")
    return leftovers


def ruff(project: Path, *args: str):
    """Run the test environment's ruff in ``project`` (its own pyproject config applies)."""
    return run([sys.executable, "-m", "ruff", *args, "--no-cache", "."], cwd=project, check=False)


def run(cmd, cwd: Path, env: dict | None = None, timeout: float = 600, check: bool = True):
    """Run a command; on failure show its output in the assertion message."""
    done = subprocess.run(
        cmd,
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


def tools_env() -> dict:
    """Environment for running a baked project's commands: the test environment's tools (uv,
    installed there by .ci/run) on PATH, no active virtual environment leaking in."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def make(project: Path, *args: str, timeout: float = 600, check: bool = True):
    """``make ARGS`` in ``project`` as a user runs it; returns the finished process."""
    done = subprocess.run(
        ["make", *args],
        cwd=project,
        env=tools_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and done.returncode != 0:
        raise AssertionError(
            f"make {' '.join(args)} exited {done.returncode} in {project}\n"
            f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
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


def dev_group(project: Path) -> list[str]:
    """Arguments of ``pip_install`` adding the baked project's ``dev`` dependency group (PEP 735:
    uv pip, or pip >= 25.1)."""
    return ["--group", f"{project / 'pyproject.toml'}:dev"]


def install_into(python: Path, project: Path) -> None:
    pip_install(python, "--no-deps", "-e", str(project))


def git(project: Path, *args: str):
    identity = ["-c", "user.name=Template Tests", "-c", "user.email=tests@example.invalid"]
    return run(["git", *identity, *args], cwd=project)
