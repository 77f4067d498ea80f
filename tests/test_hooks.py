"""Fast tier: the pre-generation hook refuses bad answers, and hostile free text bakes.

A refused bake must say what is wrong and what would be valid, and leave nothing behind.
The hook's message is read from stderr (cookiecutter runs the hook as a subprocess, so
``capfd`` captures it) or from the cookiecutter command's stderr.
"""

import ast
import json
import re
import subprocess
import sys
import tomllib

import pytest
from cookiecutter.exceptions import FailedHookException
from cookiecutter.main import cookiecutter

from helpers import (
    TEMPLATE_DIR,
    assert_file_set,
    bake,
    baked_files,
    choices,
    full_context,
    jinja_leftovers,
    ruff,
    run,
    text_files,
)

REFUSED = "Nothing was written"
HOOK = "hooks/pre_gen_project.py"


def refused_bake(tmp_path, capfd, **answers) -> str:
    """Bake with ``answers``; assert it is refused and leaves nothing; return the message."""
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(FailedHookException):
        cookiecutter(str(TEMPLATE_DIR), no_input=True, extra_context=answers, output_dir=str(out))
    assert list(out.iterdir()) == [], "a refused bake left files behind"
    message = capfd.readouterr().err
    assert REFUSED in message, message
    return message


def refused_replay(tmp_path, capfd, **answers) -> str:
    """Bake from a replay file (cookiecutter does not check choice values there, so the hook is
    the only guard); assert it is refused and leaves nothing; return the message."""
    replay = tmp_path / "replay.json"
    context = {**full_context(), **answers, "_template": str(TEMPLATE_DIR)}
    replay.write_text(json.dumps({"cookiecutter": context}))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(FailedHookException):
        cookiecutter(str(TEMPLATE_DIR), replay=str(replay), output_dir=str(out))
    assert list(out.iterdir()) == [], "a refused bake left files behind"
    message = capfd.readouterr().err
    assert REFUSED in message, message
    return message


# (answers, fragments the message must contain)
INVALID_NAMES = [
    pytest.param({"module_name": "my-bench"}, ["'my-bench'", "identifier"], id="module-dash"),
    pytest.param({"module_name": "1bench"}, ["'1bench'", "identifier"], id="module-digit-first"),
    pytest.param({"module_name": "my bench"}, ["'my bench'", "identifier"], id="module-space"),
    pytest.param({"module_name": "bénch"}, ["'bénch'", "identifier"], id="module-non-ascii"),
    pytest.param({"project_slug": "my bench"}, ["project_slug", "'my bench'"], id="slug-space"),
    pytest.param({"project_slug": "My_Bench!"}, ["project_slug", "'My_Bench!'"], id="slug-chars"),
    pytest.param({"module_name": "class"}, ["'class'", "keyword"], id="module-keyword"),
    pytest.param({"project_slug": "class"}, ["'class'", "keyword"], id="slug-keyword"),
    pytest.param({"module_name": "match"}, ["'match'", "keyword"], id="module-soft-keyword"),
    pytest.param({"module_name": "test"}, ["'test'", "shadow"], id="module-test"),
    pytest.param({"module_name": "json"}, ["'json'", "shadow"], id="module-stdlib-json"),
    pytest.param({"project_slug": "json"}, ["'json'", "shadow"], id="slug-stdlib-json"),
    pytest.param({"module_name": "xetrack"}, ["'xetrack'", "shadow"], id="module-xetrack"),
]


@pytest.mark.parametrize(("answers", "fragments"), INVALID_NAMES)
def test_invalid_names_are_refused(tmp_path, capfd, answers, fragments):
    message = refused_bake(tmp_path, capfd, **answers)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in:\n{message}"
    assert "e.g." in message, f"the message should show a valid example:\n{message}"


@pytest.mark.parametrize("name", ["   ", "!!!"])
def test_name_without_letters_is_refused(tmp_path, name):
    """A name that slugifies to nothing cannot bake (cookiecutter stops before the hook runs:
    the project folder would be the output folder itself); nothing is written."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("the user's file")
    with pytest.raises(Exception) as refused:
        cookiecutter(
            str(TEMPLATE_DIR),
            no_input=True,
            extra_context={"project_name": name},
            output_dir=str(out),
        )
    assert refused.type.__module__.startswith("cookiecutter"), refused.value
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_refusal_from_the_command_line(tmp_path):
    """What a user sees: a non-zero exit, the reason on stderr, no folder."""
    out = tmp_path / "out"
    out.mkdir()
    cmd = [sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(out), str(TEMPLATE_DIR)]
    done = run([*cmd, "module_name=json"], cwd=tmp_path, check=False)
    assert done.returncode != 0
    assert "module_name 'json' would shadow" in done.stderr, done.stderr
    assert REFUSED in done.stderr
    assert list(out.iterdir()) == []


BAD_CHOICES = [
    ("python_version", "3.8"),
    ("python_version", "2.7"),
    ("python_version", "3.14"),
    ("benchmark_kind", "regression"),
    ("engine", "postgres"),
    ("parallelism", "gpu"),
    ("license", "GPL-3.0"),
]


@pytest.mark.parametrize(("name", "value"), BAD_CHOICES, ids=[f"{n}={v}" for n, v in BAD_CHOICES])
def test_unknown_choice_refused_by_cookiecutter(tmp_path, name, value):
    """``--no-input name=value``: cookiecutter itself refuses a value outside the choices."""
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ValueError) as refused:
        cookiecutter(
            str(TEMPLATE_DIR), no_input=True, extra_context={name: value}, output_dir=str(out)
        )
    assert list(out.iterdir()) == []
    message = str(refused.value)
    assert value in message and name in message, message
    for valid in choices()[name]:
        assert valid in message, message


@pytest.mark.parametrize(("name", "value"), BAD_CHOICES, ids=[f"{n}={v}" for n, v in BAD_CHOICES])
def test_unknown_choice_refused_by_the_hook(tmp_path, capfd, name, value):
    """A replay file skips cookiecutter's choice check: the hook must refuse the value."""
    message = refused_replay(tmp_path, capfd, **{name: value})
    assert f"{name} {value!r}" in message, message
    if name == "python_version":
        assert "not supported" in message, message
        for supported in choices()["python_version"]:
            assert supported in message, message
    else:
        assert "not an option" in message, message
        for valid in choices()[name]:
            assert valid in message, message


def hook_constants() -> dict:
    """The module-level constants of hooks/pre_gen_project.py that hold no Jinja."""
    tree = ast.parse(re.sub(r"\{\{.*?\}\}", "None", (TEMPLATE_DIR / HOOK).read_text()))
    return {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
        if node.targets[0].id in ("SUPPORTED_PYTHONS", "CHOICES")
    }


def test_hook_accepts_exactly_the_choices_of_cookiecutter_json():
    """The hook's allowed values are cookiecutter.json's: a value added to one and not the
    other is either refused by the hook or accepted although it cannot be chosen."""
    constants, offered = hook_constants(), choices()
    assert set(constants["SUPPORTED_PYTHONS"]) == set(offered["python_version"]), (
        f"{HOOK} SUPPORTED_PYTHONS vs cookiecutter.json python_version"
    )
    hook_choices = {name: list(values) for name, values in constants["CHOICES"].items()}
    assert hook_choices == {k: v for k, v in offered.items() if k != "python_version"}, (
        f"{HOOK} CHOICES vs cookiecutter.json (same values, default first)"
    )


def test_custom_module_name_bakes(tmp_path):
    project = bake(tmp_path, project_name="Sentiment Study", module_name="sentiment_bench")
    assert project.name == "sentiment-study"
    context = full_context(project_name="Sentiment Study", module_name="sentiment_bench")
    assert_file_set(project, context)
    assert (project / "src" / "sentiment_bench" / "__init__.py").exists()


HOSTILE = [
    pytest.param(
        {
            "project_name": 'Bob\'s "Quoted" Bench',
            "description": "He said \"it's fine\"; it wasn't. \"\"\"triple\"\"\" and '''single'''",
            "author_name": 'O\'Brien "the Tester"',
        },
        id="quotes",
    ),
    pytest.param(
        {
            "project_name": "Back\\slash Bench\\",
            "description": "C:\\path\\to\\data \\n is not a newline \\u00e9 \\x00 and ends with \\",
            "author_name": "Back\\Slash\\",
        },
        id="backslashes",
    ),
    pytest.param(
        {
            "project_name": "Multi\nLine\r\nBench",
            "description": "First line.\nSecond line;\n\n  indented third: $HOME `uname` %s {x}",
            "author_name": "Ann Author",
        },
        id="newlines",
    ),
    pytest.param(
        {
            "project_name": "Ünïcødé Bénch 基准 🚀",
            "description": "Überprüfung — «quotes» 日本語 ✓ 🚀 ‘curly’ “double”",
            "author_name": "Zoë Ørsted-Łukasz 王",
        },
        id="unicode",
    ),
]


def normalized(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("answers", HOSTILE)
def test_hostile_free_text_bakes(tmp_path, answers):
    project = bake(tmp_path, **answers)
    context = full_context(**answers)
    assert project.name == context["project_slug"]
    assert context["module_name"].isidentifier()
    assert_file_set(project, context)
    assert not jinja_leftovers(project)

    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    assert normalized(pyproject["project"]["description"]) == normalized(answers["description"])
    assert pyproject["project"]["authors"] == [{"name": answers["author_name"]}]

    for path, text in text_files(project).items():
        name = path.relative_to(project)
        if path.suffix == ".py":
            compile(text, str(path), "exec")
        elif path.suffix == ".toml":
            tomllib.loads(text)
        elif path.suffix == ".json":
            assert json.loads(text) is not None, name
    for args in (("check",), ("format", "--check")):
        done = ruff(project, *args)
        assert done.returncode == 0, f"ruff {' '.join(args)}:\n{done.stdout}\n{done.stderr}"


# --- the post-generation hook makes a git repository -----------------------------------------


def git_out(project, *args) -> str:
    return subprocess.run(
        ["git", *args], cwd=project, capture_output=True, text=True, check=True
    ).stdout


def test_a_bake_is_a_git_repository_with_one_clean_commit(tmp_path, capfd):
    project = bake(tmp_path, project_name="Git Bake", author_name="Ada Example")
    assert "Made a git repository with a first commit" in capfd.readouterr().out
    assert (project / ".git").is_dir()
    assert git_out(project, "log", "--format=%s").splitlines() == ["Baked from bench-template"]
    assert git_out(project, "status", "--porcelain") == "", "the bake left files uncommitted"
    tracked = set(git_out(project, "ls-files").splitlines())
    assert tracked == baked_files(project), "the first commit holds every baked file"


def test_a_bake_inside_a_git_work_tree_makes_no_repository(tmp_path, capfd):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    project = bake(tmp_path, project_name="Nested Bake")
    assert "Already inside a git work tree: no git init." in capfd.readouterr().out
    assert not (project / ".git").exists()


def test_without_git_the_bake_says_so_in_one_line(tmp_path, capfd, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))  # the hook finds no git
    project = bake(tmp_path, project_name="Offline Bake")
    lines = [line for line in capfd.readouterr().out.splitlines() if "git" in line.lower()]
    assert lines == [
        "git not found: experiment runs will record no commit. Install git, then: "
        "git init && git add -A && git commit -m 'Baked from bench-template'"
    ]
    assert not (project / ".git").exists()
