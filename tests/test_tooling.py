"""The baked project's tooling (CI workflow, pre-commit, uv) and the template's own CI.

Fast tier: bake and inspect. End-to-end tier (marker ``e2e``): run the pre-commit hooks offline,
``uv sync``. The answers file and template updates (cruft): test_template_updates.py.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import (
    ANSWER_VARIANTS,
    COOKIECUTTER_JSON,
    PRE_COMMIT_CONFIG,
    TEMPLATE_DIR,
    bake,
    full_context,
    git,
    run,
)

WORKFLOW = ".github/workflows/benchmark-ci.yml"

# GitHub Actions expression syntax: contexts and functions a workflow may use.
CONTEXTS = {"github", "env", "vars", "job", "jobs", "steps", "runner", "secrets", "strategy"}
CONTEXTS |= {"matrix", "needs", "inputs"}
FUNCTIONS = {"success", "failure", "always", "cancelled", "hashFiles", "contains", "format"}
FUNCTIONS |= {"startsWith", "endsWith", "join", "toJSON", "fromJSON"}
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}")
PINNED = re.compile(r"^\s*(?:- )?uses: [\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")
# The executable of each local pre-commit hook and the dev-extra package that provides it.
HOOK_TOOLS = {
    "ruff": "ruff",
    "trailing-whitespace-fixer": "pre-commit-hooks",
    "end-of-file-fixer": "pre-commit-hooks",
    "mixed-line-ending": "pre-commit-hooks",
    "check-yaml": "pre-commit-hooks",
    "check-toml": "pre-commit-hooks",
    "check-json": "pre-commit-hooks",
    "check-merge-conflict": "pre-commit-hooks",
    "check-added-large-files": "pre-commit-hooks",
}


def load_workflow_file(path: Path) -> dict:
    workflow = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as the boolean True.
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def load_workflow(project: Path) -> dict:
    return load_workflow_file(project / WORKFLOW)


def run_lines(job: dict) -> list[str]:
    return [step["run"].strip() for step in job["steps"] if "run" in step]


def dev_extra(project: Path) -> set[str]:
    """Names of the requirements in the baked pyproject.toml's ``dev`` dependency group."""
    text = (project / "pyproject.toml").read_text()
    block = re.search(r"^dev = \[\n(.*?)^\]", text, re.M | re.S)
    assert block, "pyproject.toml has no `dev = [...]` dependency group"
    return {
        re.match(r"[A-Za-z0-9._-]+", req).group(0).lower()
        for req in re.findall(r'^\s*"([^"]+)"', block.group(1), re.M)
    }


# --- fast tier: the CI workflow ---------------------------------------------------------------


@pytest.mark.parametrize("answers", ANSWER_VARIANTS)
def test_workflow_runs_lint_tests_dev_run_and_validate_gate(baked, answers):
    project, context = baked(answers), full_context(**answers)
    workflow = load_workflow(project)
    assert {"push", "pull_request"} <= set(workflow["on"])
    assert workflow["env"]["PYTHON_VERSION"] == context["python_version"]
    jobs = workflow["jobs"]
    assert {"lint", "test", "benchmark-dev"} <= set(jobs)
    for name, job in jobs.items():
        setup = [s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python@")]
        assert len(setup) == 1, f"job {name} sets up Python once"
        assert setup[0]["with"]["python-version"] == "${{ env.PYTHON_VERSION }}"
        assert any("uv sync --locked" in line for line in run_lines(job)), name
    assert {"ruff check .", "ruff format --check ."} <= set(run_lines(jobs["lint"]))
    assert "python -m pytest" in run_lines(jobs["test"])

    bench = jobs["benchmark-dev"]
    assert set(bench["needs"]) == {"lint", "test"}
    lines = run_lines(bench)
    dev_run = f"python -m {context['module_name']} run --dev --no-progress"
    gate = "python scripts/validate_benchmark.py dev.db predictions"
    assert dev_run in lines and gate in lines
    assert lines.index(dev_run) < lines.index(gate)
    setup = f"python -m {context['module_name']}.harness.duckdb_setup"
    if context["engine"] == "duckdb":  # the sqlite extension from its package, as make install
        assert setup in lines and lines.index(setup) < lines.index(dev_run)
        assert (project / "src" / context["module_name"] / "harness" / "duckdb_setup.py").is_file()
    else:
        assert setup not in lines
    gate_step = next(s for s in bench["steps"] if s.get("run", "").strip() == gate)
    assert "if" not in gate_step and not gate_step.get("continue-on-error"), "validate must gate"
    # the commands the workflow runs exist in the baked project
    assert (project / "scripts" / "validate_benchmark.py").is_file()
    assert (project / "src" / context["module_name"] / "__main__.py").is_file()


@pytest.mark.parametrize("answers", ANSWER_VARIANTS)
def test_workflow_expressions_survive_baking(baked, answers):
    project = baked(answers)
    text = (project / WORKFLOW).read_text()
    expressions = EXPRESSION.findall(text)
    assert len(expressions) >= 5
    assert text.count("${{") == text.count("}}") == len(expressions), "unbalanced ${{ }}"
    for inner in expressions:
        expression = inner.strip()
        assert inner.startswith(" ") and inner.endswith(" ") and expression, repr(inner)
        assert expression.count("(") == expression.count(")"), expression
        assert expression.count("'") % 2 == 0 and '"' not in expression, expression
        head = re.match(r"([A-Za-z_][A-Za-z0-9_-]*)(\(|\.)", expression)
        assert head, f"not a context property or function call: {expression}"
        name, kind = head.groups()
        known = FUNCTIONS if kind == "(" else CONTEXTS
        assert name in known, f"unknown {'function' if kind == '(' else 'context'}: {expression}"
    # every expression of the template's source is baked verbatim
    source = (TEMPLATE_DIR / "{{cookiecutter.project_slug}}" / WORKFLOW).read_text()
    assert EXPRESSION.findall(source) == expressions
    assert "{% raw %}" in source  # how they are kept away from Jinja


@pytest.mark.parametrize("answers", ANSWER_VARIANTS)
def test_workflow_actions_are_pinned_to_commits(baked, answers):
    text = (baked(answers) / WORKFLOW).read_text()
    uses = [line for line in text.splitlines() if re.match(r"^\s*(- )?uses:", line)]
    assert uses
    unpinned = [line.strip() for line in uses if not PINNED.match(line)]
    assert not unpinned, "actions must be pinned as `owner/repo@<sha> # vX.Y.Z`"


# --- fast tier: pre-commit --------------------------------------------------------------------


def test_pre_commit_config_is_local_and_uses_dev_extra_tools(baked):
    project = baked({})
    config = yaml.safe_load((project / PRE_COMMIT_CONFIG).read_text())
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    assert all(repo["repo"] == "local" for repo in config["repos"]), "hooks must run offline"
    ids = {hook["id"] for hook in hooks}
    assert {"ruff-check", "ruff-format", "trailing-whitespace", "end-of-file-fixer"} <= ids
    assert {"check-yaml", "check-toml", "check-merge-conflict"} <= ids
    extra = dev_extra(project)
    assert {"pre-commit", "pre-commit-hooks", "ruff"} <= extra
    for hook in hooks:
        assert {"id", "name", "entry", "language"} <= set(hook), hook
        assert hook["language"] == "system", hook["id"]
        # the venv's tools by path: the hooks run from a shell without an activated environment
        path = hook["entry"].split()[0]
        assert path.startswith(".venv/bin/"), hook["entry"]
        tool = path.removeprefix(".venv/bin/")
        assert HOOK_TOOLS.get(tool) in extra, f"{hook['id']}: {tool} is not in the dev group"
    ruff_entries = [h["entry"] for h in hooks if h["entry"].startswith(".venv/bin/ruff")]
    assert ruff_entries[0].startswith(".venv/bin/ruff check")
    assert ruff_entries[1].startswith(".venv/bin/ruff format")


# --- fast tier: the template's own CI ---------------------------------------------------------


def template_ci() -> dict:
    return load_workflow_file(TEMPLATE_DIR / ".github" / "workflows" / "ci.yml")


def test_template_ci_runs_both_tiers_weekly_on_three_oses():
    workflow = template_ci()
    assert {"push", "pull_request", "schedule"} <= set(workflow["on"])
    assert workflow["on"]["schedule"][0]["cron"].split()[2:] == ["*", "*", "1"], "weekly"
    jobs = workflow["jobs"]
    matrix = jobs["fast"]["strategy"]["matrix"]
    assert set(matrix["os"]) == {"ubuntu-latest", "macos-latest", "windows-latest"}
    assert len(matrix["python"]) == 2
    assert set(matrix["python"]) <= set(COOKIECUTTER_JSON["python_version"])
    assert 'python -m pytest -m "not e2e"' in run_lines(jobs["fast"])
    assert jobs["e2e"]["runs-on"] == "ubuntu-latest"
    assert "python -m pytest -m e2e" in run_lines(jobs["e2e"])
    for job in jobs.values():
        assert "python -m pip install -r requirements-test.txt" in run_lines(job)
    text = (TEMPLATE_DIR / ".github" / "workflows" / "ci.yml").read_text()
    uses = [line for line in text.splitlines() if re.match(r"^\s*(- )?uses:", line)]
    assert uses and all(PINNED.match(line) for line in uses), "pin actions to commit SHAs"


def test_template_lint_job_passes():
    """The lint job's commands, run here: what GitHub's lint job checks holds locally too."""
    commands = [
        line
        for step in template_ci()["jobs"]["lint"]["steps"]
        for line in step.get("run", "").splitlines()
        if line.startswith("ruff ")
    ]
    assert len(commands) >= 3
    for command in commands:
        run([sys.executable, "-m", *shlex.split(command), "--no-cache"], cwd=TEMPLATE_DIR)


# --- end-to-end tier --------------------------------------------------------------------------


def offline_env(shared_python: Path, tmp_path: Path) -> dict:
    """The shared environment's tools on PATH; any network use fails (a dead proxy)."""
    dead = "http://127.0.0.1:9"
    return {
        "PATH": os.pathsep.join([str(shared_python.parent), os.environ.get("PATH", "")]),
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "HTTP_PROXY": dead,
        "HTTPS_PROXY": dead,
        "http_proxy": dead,
        "https_proxy": dead,
        "NO_PROXY": "",
    }


@pytest.mark.e2e
def test_pre_commit_hooks_pass_offline_and_catch_problems(shared_python, tmp_path):
    project = bake(tmp_path, project_name="Hooks Check")
    (project / ".venv").symlink_to(shared_python.parent.parent)  # the hooks' tools: .venv/bin
    git(project, "init", "-q")
    git(project, "add", "-A")
    env = offline_env(shared_python, tmp_path)
    pre_commit = [str(shared_python.parent / "pre-commit"), "run", "--all-files", "--color=never"]

    # `make hooks` puts the environment's tools on PATH itself: PATH here has none of them
    bare_path = {str(Path(shutil.which(tool)).parent) for tool in ("make", "git", "sh")}
    make_env = {**env, "PATH": os.pathsep.join(sorted(bare_path)), "PRE_COMMIT_COLOR": "never"}
    venv = shared_python.parent.parent
    clean = run(["make", "hooks", f"VENV={venv}"], cwd=project, env=make_env)
    config = yaml.safe_load((project / PRE_COMMIT_CONFIG).read_text())
    for hook in (h for repo in config["repos"] for h in repo["hooks"]):
        assert re.search(rf"^{re.escape(hook['name'])}\.+Passed$", clean.stdout, re.M), (
            f"hook {hook['id']} did not pass\n{clean.stdout}"
        )

    # the hooks are live: they fail on a badly formatted file and a trailing space, and fix both
    scratch = project / "scripts" / "scratch.py"
    scratch.write_text("x=1   \nprint( x )")
    git(project, "add", "-A")
    dirty = run(pre_commit, cwd=project, env=env, check=False)
    assert dirty.returncode != 0
    assert re.search(r"^ruff format\.+Failed$", dirty.stdout, re.M), dirty.stdout
    assert scratch.read_text() == "x = 1\nprint(x)\n"


def uv_command() -> list[str]:
    """uv from the test environment (requirements-test.txt installs it), else from PATH."""
    check = subprocess.run([sys.executable, "-m", "uv", "--version"], capture_output=True)
    if check.returncode == 0:
        return [sys.executable, "-m", "uv"]
    found = shutil.which("uv")
    assert found, "uv is not installed: pip install -r requirements-test.txt"
    return [found]


@pytest.mark.e2e
def test_uv_sync_installs_the_project_with_its_dev_tools(tmp_path):
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert version in COOKIECUTTER_JSON["python_version"], f"tests run on Python {version}"
    project = bake(tmp_path, project_name="Uv Sync Bench", python_version=version)
    env = {"UV_PYTHON_DOWNLOADS": "never", "VIRTUAL_ENV": ""}
    run([*uv_command(), "sync", "--python", sys.executable], cwd=project, env=env)  # + dev group
    assert (project / "uv.lock").is_file()
    python = project / ".venv" / ("Scripts" if os.name == "nt" else "bin") / "python"
    for tool in ("ruff", "pre_commit", "pytest"):
        run([str(python), "-m", tool, "--version"], cwd=project)
    run([str(python), "-m", "uv_sync_bench", "run", "--dev", "--limit", "2"], cwd=project)
    # the lock file is meant to be committed: .gitignore must not hide it
    git(project, "init", "-q")
    ignored = run(["git", "check-ignore", "-q", "uv.lock"], cwd=project, check=False)
    assert ignored.returncode == 1, "uv.lock is ignored by the baked .gitignore"
