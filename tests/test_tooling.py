"""The baked project's tooling (CI workflow, pre-commit, answers file, uv) and template updates.

Fast tier: bake and inspect. End-to-end tier (marker ``e2e``): run the pre-commit hooks offline,
update a project baked from an older template revision with cruft and run it, ``uv sync``.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cookiecutter.main import cookiecutter

from conftest import (
    COOKIECUTTER_JSON,
    TEMPLATE_DIR,
    bake,
    baked_files,
    full_context,
    install_into,
    run,
)

WORKFLOW = ".github/workflows/benchmark-ci.yml"
PRE_COMMIT = ".pre-commit-config.yaml"
ANSWERS = ".cookiecutter.json"
PUBLIC_KEYS = [key for key in COOKIECUTTER_JSON if not key.startswith("_")]
# A custom bake next to the default one: quotes in free text, another Python, another module.
CUSTOM = {
    "project_name": 'It\'s a "Quoted" Bench',
    "author_name": "Ada O'Brien",
    "python_version": "3.13",
    "parallelism": "threads",
}
VARIANTS = [
    pytest.param({}, id="default"),
    pytest.param(CUSTOM, id="custom"),
    pytest.param({"engine": "duckdb"}, id="duckdb"),
]

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
    """Names of the requirements in the baked pyproject.toml's ``dev`` extra."""
    text = (project / "pyproject.toml").read_text()
    block = re.search(r"^dev = \[\n(.*?)^\]", text, re.M | re.S)
    assert block, "pyproject.toml has no `dev = [...]` extra"
    return {
        re.match(r"[A-Za-z0-9._-]+", req).group(0).lower()
        for req in re.findall(r'^\s*"([^"]+)"', block.group(1), re.M)
    }


def snapshot(project: Path) -> dict[str, bytes]:
    """Every file of ``project`` (outside .git/) with its content."""
    files = (path for path in baked_files(project) if path.split("/")[0] != ".git")
    return {path: (project / path).read_bytes() for path in files}


def git(project: Path, *args: str):
    identity = ["-c", "user.name=Template Tests", "-c", "user.email=tests@example.invalid"]
    return run(["git", *identity, *args], cwd=project)


# --- fast tier: the CI workflow -------------------------------------------------------------


@pytest.mark.parametrize("answers", VARIANTS)
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
        assert "python -m pip install -e '.[dev]'" in run_lines(job), name
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


@pytest.mark.parametrize("answers", VARIANTS)
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


@pytest.mark.parametrize("answers", VARIANTS)
def test_workflow_actions_are_pinned_to_commits(baked, answers):
    text = (baked(answers) / WORKFLOW).read_text()
    uses = [line for line in text.splitlines() if re.match(r"^\s*(- )?uses:", line)]
    assert uses
    unpinned = [line.strip() for line in uses if not PINNED.match(line)]
    assert not unpinned, "actions must be pinned as `owner/repo@<sha> # vX.Y.Z`"


# --- fast tier: pre-commit ------------------------------------------------------------------


def test_pre_commit_config_is_local_and_uses_dev_extra_tools(baked):
    project = baked({})
    config = yaml.safe_load((project / PRE_COMMIT).read_text())
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
        tool = hook["entry"].split()[0]
        assert HOOK_TOOLS.get(tool) in extra, f"{hook['id']}: {tool} is not in the dev extra"
    ruff_entries = [h["entry"] for h in hooks if h["entry"].startswith("ruff")]
    assert ruff_entries[0].startswith("ruff check") and ruff_entries[1].startswith("ruff format")


# --- fast tier: answers file and re-bakes ---------------------------------------------------


@pytest.mark.parametrize("answers", VARIANTS)
def test_answers_file_records_every_answer_without_local_paths(baked, answers):
    project, context = baked(answers), full_context(**answers)
    text = (project / ANSWERS).read_text()
    recorded = json.loads(text)
    assert list(recorded) == PUBLIC_KEYS
    assert recorded == {key: context[key] for key in PUBLIC_KEYS}
    for key, value in recorded.items():
        assert not key.startswith("_")
        assert not os.path.isabs(value) and not re.match(r"^[A-Za-z]:[\\/]|^~", value), key
    for local in (TEMPLATE_DIR, project.parent, Path.home()):
        assert str(local) not in text and local.as_posix() not in text


def test_answers_file_recreates_the_same_project(baked, tmp_path):
    """What `cruft create --extra-context-file .cookiecutter.json` (or a re-bake) relies on."""
    project = baked(CUSTOM)
    answers = json.loads((project / ANSWERS).read_text())
    again = Path(
        cookiecutter(str(TEMPLATE_DIR), no_input=True, extra_context=answers, output_dir=tmp_path)
    )
    assert again.name == project.name
    assert snapshot(again) == snapshot(project)


def test_baking_twice_over_the_same_project_is_safe(tmp_path):
    """The hooks run again on a re-bake (cruft update bakes twice): same result, no error."""
    first = snapshot(bake(tmp_path, **CUSTOM))
    again = Path(
        cookiecutter(
            str(TEMPLATE_DIR),
            no_input=True,
            extra_context=CUSTOM,
            output_dir=str(tmp_path),
            overwrite_if_exists=True,
        )
    )
    assert snapshot(again) == first


# --- fast tier: the template's own CI --------------------------------------------------------


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


# --- end-to-end tier ------------------------------------------------------------------------


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
    git(project, "init", "-q")
    git(project, "add", "-A")
    env = offline_env(shared_python, tmp_path)
    pre_commit = [str(shared_python.parent / "pre-commit"), "run", "--all-files", "--color=never"]

    # `make hooks` puts the environment's tools on PATH itself: PATH here has none of them
    bare_path = {str(Path(shutil.which(tool)).parent) for tool in ("make", "git", "sh")}
    make_env = {**env, "PATH": os.pathsep.join(sorted(bare_path)), "PRE_COMMIT_COLOR": "never"}
    venv = shared_python.parent.parent
    clean = run(["make", "hooks", f"VENV={venv}"], cwd=project, env=make_env)
    config = yaml.safe_load((project / PRE_COMMIT).read_text())
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


def make_template_repo(root: Path) -> tuple[Path, str, str]:
    """A git repository of this template with two commits: an older revision, then today's.

    The older revision differs as an older template would: no pre-commit config, a Makefile line
    that was since removed, and a file that was since deleted.
    """
    repo = root / "template"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".ruff_cache", ".pytest_cache")

    def copy_current():
        for name in ("hooks", "{{cookiecutter.project_slug}}"):
            shutil.rmtree(repo / name, ignore_errors=True)
            shutil.copytree(TEMPLATE_DIR / name, repo / name, ignore=ignore)
        shutil.copy2(TEMPLATE_DIR / "cookiecutter.json", repo / "cookiecutter.json")

    repo.mkdir()
    copy_current()
    baked_dir = repo / "{{cookiecutter.project_slug}}"
    (baked_dir / PRE_COMMIT).unlink()
    makefile = baked_dir / "Makefile"
    makefile.write_text("# (older template revision)\n" + makefile.read_text())
    (baked_dir / "OLD_NOTES.md").write_text("Removed by a later template revision.\n")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "older revision")
    old = git(repo, "rev-parse", "HEAD").stdout.strip()
    (baked_dir / "OLD_NOTES.md").unlink()
    copy_current()
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "current revision")
    new = git(repo, "rev-parse", "HEAD").stdout.strip()
    return repo, old, new


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory) -> tuple[Path, str, str]:
    return make_template_repo(tmp_path_factory.mktemp("template-repo"))


@pytest.mark.e2e
def test_cruft_update_from_an_older_template_revision(shared_python, template_repo, tmp_path):
    template, old, new = template_repo
    cruft = [sys.executable, "-m", "cruft"]
    answers = json.dumps({"project_name": "Cruft Update Bench"})
    out = tmp_path / "out"
    create = ["create", str(template), "--checkout", old, "--no-input", "--extra-context", answers]
    run([*cruft, *create, "--output-dir", str(out)], cwd=tmp_path)
    project = out / "cruft-update-bench"
    assert json.loads((project / ".cruft.json").read_text())["commit"] == old
    assert not (project / PRE_COMMIT).exists() and (project / "OLD_NOTES.md").exists()
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "baked from the older revision")
    # the user's own change, which the update must keep
    makefile = project / "Makefile"
    makefile.write_text(makefile.read_text() + "\nmine: ## A target of my own\n\t@echo mine\n")
    git(project, "commit", "-q", "-am", "my target")

    check = [*cruft, "check", "--project-dir", str(project)]
    assert run(check, cwd=project, check=False).returncode, "cruft check: an update is due"
    run([*cruft, "update", "--project-dir", str(project), "--skip-apply-ask"], cwd=project)
    run(check, cwd=project)

    assert json.loads((project / ".cruft.json").read_text())["commit"] == new
    fresh = bake(tmp_path / "fresh", project_name="Cruft Update Bench")
    assert (project / PRE_COMMIT).read_text() == (fresh / PRE_COMMIT).read_text()
    assert not (project / "OLD_NOTES.md").exists()
    text = makefile.read_text()
    assert "older template revision" not in text and "mine: ## A target of my own" in text
    assert not list(project.rglob("*.rej")) and not list(project.rglob("*.orig"))
    assert json.loads((project / ANSWERS).read_text()) == json.loads((fresh / ANSWERS).read_text())
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "template update")

    # the updated project runs: a dev run, validated
    install_into(shared_python, project)
    module = [str(shared_python), "-m", "cruft_update_bench"]
    run([*module, "run", "--dev", "--limit", "3", "--no-progress"], cwd=project)
    run([str(shared_python), "scripts/validate_benchmark.py", "dev.db", "predictions"], cwd=project)


@pytest.mark.e2e
def test_plain_cookiecutter_bake_links_with_its_answers_file_then_updates(template_repo, tmp_path):
    """The README's path for a project baked without cruft: `cruft link` with .cookiecutter.json."""
    template, old, new = template_repo
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", str(template), str(checkout))
    git(checkout, "checkout", "-q", old)
    chosen = {"project_name": "Linked Bench", "parallelism": "processes"}
    project = Path(
        cookiecutter(str(checkout), no_input=True, extra_context=chosen, output_dir=str(tmp_path))
    )
    assert not (project / PRE_COMMIT).exists()
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "baked with cookiecutter")
    cruft = [sys.executable, "-m", "cruft"]
    answers = (project / ANSWERS).read_text()
    link = ["link", str(template), "--no-input", "--checkout", old, "--extra-context", answers]
    run([*cruft, *link, "--project-dir", str(project)], cwd=project)
    state = json.loads((project / ".cruft.json").read_text())
    assert state["commit"] == old
    assert {k: state["context"]["cookiecutter"][k] for k in PUBLIC_KEYS} == json.loads(answers)
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "linked")
    run([*cruft, "update", "--project-dir", str(project), "--skip-apply-ask"], cwd=project)
    assert json.loads((project / ".cruft.json").read_text())["commit"] == new
    # the result is what the new revision bakes, plus cruft's own file
    git(checkout, "checkout", "-q", new)
    fresh = Path(
        cookiecutter(
            str(checkout), no_input=True, extra_context=chosen, output_dir=tmp_path / "new"
        )
    )
    assert snapshot(project) == {**snapshot(fresh), ".cruft.json": snapshot(project)[".cruft.json"]}


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
    run([*uv_command(), "sync", "--extra", "dev", "--python", sys.executable], cwd=project, env=env)
    assert (project / "uv.lock").is_file()
    python = project / ".venv" / ("Scripts" if os.name == "nt" else "bin") / "python"
    for tool in ("ruff", "pre_commit", "pytest"):
        run([str(python), "-m", tool, "--version"], cwd=project)
    run([str(python), "-m", "uv_sync_bench", "run", "--dev", "--limit", "2"], cwd=project)
    # the lock file is meant to be committed: .gitignore must not hide it
    git(project, "init", "-q")
    ignored = run(["git", "check-ignore", "-q", "uv.lock"], cwd=project, check=False)
    assert ignored.returncode == 1, "uv.lock is ignored by the baked .gitignore"
