"""Fast tier: every valid option combination bakes a complete, clean project.

Nothing is installed here: these tests bake (once per combination, shared between the tests)
and inspect the files. ruff runs from the test environment with the baked pyproject's config.
"""

import json
import sys
import tomllib

import pytest
import yaml

from helpers import (
    DEFAULT_SLUG,
    TEMPLATE_DIR,
    assert_file_set,
    full_context,
    jinja_leftovers,
    option_matrix,
    ruff,
    run,
    text_files,
)

MATRIX = list(option_matrix())


def test_defaults_bake_with_no_input(tmp_path):
    """What the README's first command does: `cookiecutter --no-input <template>`."""
    done = run(
        [
            sys.executable,
            "-m",
            "cookiecutter",
            "--no-input",
            "-o",
            str(tmp_path),
            str(TEMPLATE_DIR),
        ],
        cwd=tmp_path,
    )
    assert [p.name for p in tmp_path.iterdir()] == [DEFAULT_SLUG], done.stderr
    project = tmp_path / DEFAULT_SLUG
    assert_file_set(project, full_context())
    assert not jinja_leftovers(project)


@pytest.mark.parametrize("answers", MATRIX)
def test_exact_file_set(baked, answers):
    assert_file_set(baked(answers), full_context(**answers))


@pytest.mark.parametrize("answers", MATRIX)
def test_no_empty_folders(baked, answers):
    """Conditional file names can leave a folder empty: the post-generation hook prunes it
    (git's own folders aside: the hook makes a repository)."""
    project = baked(answers)
    empty = [
        p.relative_to(project)
        for p in project.rglob("*")
        if p.is_dir() and not any(p.iterdir()) and p.relative_to(project).parts[0] != ".git"
    ]
    assert not empty


@pytest.mark.parametrize("answers", MATRIX)
def test_no_jinja_leftovers(baked, answers):
    project = baked(answers)
    assert text_files(project), "no text file baked"
    leftovers = jinja_leftovers(project)
    assert not leftovers, "unrendered Jinja in baked files:\n" + "\n".join(leftovers)


@pytest.mark.parametrize("answers", MATRIX)
def test_config_files_parse(baked, answers):
    """Every TOML, YAML and JSON file parses."""
    project = baked(answers)
    parsed = 0
    for path, text in text_files(project).items():
        name = path.relative_to(project)
        try:
            if path.suffix == ".toml":
                tomllib.loads(text)
            elif path.suffix in (".yml", ".yaml"):
                list(yaml.safe_load_all(text))
            elif path.suffix == ".json":
                json.loads(text)
            else:
                continue
        except Exception as error:  # the file name matters more than the exception type
            pytest.fail(f"{name} does not parse: {error}")
        parsed += 1
    assert parsed >= 1, "pyproject.toml at least"


@pytest.mark.parametrize("answers", MATRIX)
def test_pyproject_reflects_answers(baked, answers):
    context = full_context(**answers)
    pyproject = tomllib.loads((baked(answers) / "pyproject.toml").read_text())
    version = context["python_version"]
    assert pyproject["project"]["name"] == context["project_slug"]
    assert pyproject["project"]["requires-python"] == f">={version}"
    assert pyproject["tool"]["ruff"]["target-version"] == f"py{version.replace('.', '')}"
    deps = " ".join(pyproject["project"]["dependencies"])
    assert "xetrack" in deps
    dev = " ".join(pyproject["dependency-groups"]["dev"])
    assert "pytest" in dev and "ruff" in dev, "runtime and dev dependencies are separate"


@pytest.mark.parametrize("answers", MATRIX)
def test_python_files_compile(baked, answers):
    project = baked(answers)
    sources = sorted(project.rglob("*.py"))
    assert sources
    for path in sources:
        try:
            compile(path.read_text(encoding="utf-8"), str(path), "exec")
        except SyntaxError as error:
            pytest.fail(f"{path.relative_to(project)} does not compile: {error}")


@pytest.mark.parametrize("answers", MATRIX)
def test_ruff_check_clean(baked, answers):
    done = ruff(baked(answers), "check")
    assert done.returncode == 0, f"ruff check:\n{done.stdout}\n{done.stderr}"


@pytest.mark.parametrize("answers", MATRIX)
def test_ruff_format_clean(baked, answers):
    done = ruff(baked(answers), "format", "--check")
    assert done.returncode == 0, f"ruff format --check:\n{done.stdout}\n{done.stderr}"


def test_the_machinery_holds_jinja_only_in_module_level_lines():
    """No Jinja in function bodies or signatures of cli.py and harness/ (module-level constants
    such as ``ENGINE = "{{ cookiecutter.engine }}"`` are fine): an optional part is a module the
    core tries to import (harness/cluster.py, harness/duckdb_setup.py), not a Jinja block."""
    package = TEMPLATE_DIR / "{{cookiecutter.project_slug}}/src/{{cookiecutter.module_name}}"
    offending = [
        f"{path.relative_to(package)}:{number}: {line.strip()}"
        for path in [package / "cli.py", *sorted((package / "harness").glob("*.py"))]
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "{%" in line or ("{{" in line and line[:1].isspace())
    ]
    assert not offending, "Jinja inside machinery code:\n" + "\n".join(offending)
