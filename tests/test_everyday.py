"""Everyday use: the chosen Python and the lock file, the license, dependabot, failures made
loud, readable help. Fast tier: bake and inspect. End-to-end (``-m e2e``): make install without
the chosen Python, make lock and ``uv lock --check``, numpy 2, help defaults, a run stopped by
the circuit breaker (against a local server answering 401), hooks from a bare shell."""

import os
import re
import shutil
import subprocess
import sys
import threading
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from helpers import (
    COOKIECUTTER_JSON,
    TEMPLATE_DIR,
    bake,
    full_context,
    git,
    install_into,
    make,
    option_matrix,
    pip_install,
    run,
    tools_env,
)
from results import db_rows


def install_commands(project: Path) -> list[str]:
    workflow = yaml.safe_load((project / ".github/workflows/benchmark-ci.yml").read_text())
    return [
        step["run"]
        for job in workflow["jobs"].values()
        for step in job["steps"]
        if step.get("name", "").startswith("Install")
    ]


# --- fast tier --------------------------------------------------------------------------------


@pytest.mark.parametrize("answers", list(option_matrix("python_version", "parallelism")))
def test_python_and_lock_are_consistent_per_bake(baked, answers):
    """make install and CI install the locked versions with the chosen Python; numpy 2 is
    locked for every offered Python (xetrack's numpy<2 has no 3.13 wheels); dask has bokeh."""
    project, context = baked(answers), full_context(**answers)
    version = context["python_version"]
    makefile = (project / "Makefile").read_text()
    assert re.search(rf"^PYTHON \?= {re.escape(version)}$", makefile, re.M)
    assert "uv python find '$(PYTHON)'" in makefile and "exit 2" in makefile
    assert "uv sync --locked --python '$(PYTHON)'" in makefile
    assert "pip install --no-deps -r requirements.lock" in makefile  # pip: the same pins
    assert re.search(r"^lock: ##.*\n\tuv lock --upgrade\n\tuv export --frozen", makefile, re.M)
    for command in install_commands(project):
        assert 'uv sync --locked --python "$PYTHON_VERSION"' in command
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"] == f">={version}"
    assert pyproject["tool"]["uv"]["override-dependencies"] == ["numpy>=2"]
    numpy = [d for d in pyproject["project"]["dependencies"] if d.startswith("numpy")]
    assert numpy and "<2" not in numpy[0]
    assert "dev" not in pyproject["project"].get("optional-dependencies", {})
    assert {"pytest", "ruff", "pre-commit"} <= {
        re.match(r"[\w-]+", d).group(0) for d in pyproject["dependency-groups"]["dev"]
    }
    deps = {re.match(r"[\w-]+", d).group(0) for d in pyproject["project"]["dependencies"]}
    assert ("bokeh" in deps) == (context["parallelism"] == "dask")
    ignore = (project / ".gitignore").read_text().splitlines()
    assert {"!uv.lock", "!requirements.lock"} <= set(ignore)  # both are committed


@pytest.mark.parametrize("engine", COOKIECUTTER_JSON["engine"])
def test_make_install_compiles_bytecode(baked, engine):
    """Bytecode is written at install, not at the first start-up: uv compiles the dependencies
    (UV_COMPILE_BYTECODE=1; pip does by default), compileall the project's editable src, after
    either path and before DuckDB's setup imports the package."""
    makefile = (baked({"engine": engine}) / "Makefile").read_text()
    recipe = re.search(r"^install:.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert "UV_PROJECT_ENVIRONMENT=$(VENV) UV_COMPILE_BYTECODE=1 uv sync --locked" in recipe
    assert "--no-compile" not in recipe  # pip's own default compiles the pinned packages
    steps = recipe.splitlines()
    compile_step = steps.index(
        "\t$(BIN)/python -m compileall -q src  # bytecode now, not at each first start-up"
    )
    assert steps[compile_step - 1] == "\tfi"  # after the uv/pip if-else, whichever ran
    assert all("compileall" not in step for step in steps[:compile_step])
    if engine == "duckdb":
        assert "duckdb_setup" in steps[compile_step + 1]


@pytest.mark.parametrize("license", COOKIECUTTER_JSON["license"])
def test_every_license_bakes_its_text_and_pyproject_field(tmp_path, license):
    project = bake(tmp_path, license=license, author_name="Ann Author")
    text = (project / "LICENSE").read_text()
    first = {
        "MIT": "MIT License",
        "Apache-2.0": "Apache License",
        "BSD-3-Clause": "BSD 3-Clause License",
        "Proprietary": "Copyright (c)",
    }[license]
    assert text.lstrip().startswith(first) and text.endswith("\n") and not text.endswith("\n\n")
    if license != "Apache-2.0":  # Apache's text names no holder (its appendix is a template)
        assert "Ann Author" in text
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    expected = "LicenseRef-Proprietary" if license == "Proprietary" else license
    assert pyproject["project"]["license"] == expected
    assert pyproject["project"]["license-files"] == ["LICENSE"]
    assert f"`{license}`" in (TEMPLATE_DIR / "README.md").read_text()  # the options table


def test_dependabot_keeps_actions_current_in_template_and_bake(baked):
    for root in (TEMPLATE_DIR, baked({})):
        config = yaml.safe_load((root / ".github" / "dependabot.yml").read_text())
        ecosystems = {update["package-ecosystem"] for update in config["updates"]}
        assert "github-actions" in ecosystems, root
    assert "uv" in ecosystems  # the bake's: uv.lock too


def test_requirements_test_pins_only_what_the_tests_use():
    pins = (TEMPLATE_DIR / "requirements-test.txt").read_text()
    assert "pytest-cookies" not in pins  # the tests bake with cookiecutter's API (helpers.bake)


def test_ci_writes_validation_and_comparison_to_the_job_summary(baked):
    workflow = yaml.safe_load((baked({}) / ".github/workflows/benchmark-ci.yml").read_text())
    steps = workflow["jobs"]["benchmark-dev"]["steps"]
    summary = next(s for s in steps if "GITHUB_STEP_SUMMARY" in s.get("run", ""))
    assert summary["if"].startswith("always()")
    assert "validate_benchmark.py dev.db predictions" in summary["run"]
    assert "compare --baseline-db baseline.db --db dev.db" in summary["run"]
    assert "--markdown" in summary["run"]


# --- end-to-end tier --------------------------------------------------------------------------


def bare_path() -> str:
    """PATH with make, git and sh only: no uv, no Python tools, no activated environment."""
    return os.pathsep.join(sorted({str(Path(shutil.which(t)).parent) for t in ("make", "git")}))


@pytest.mark.e2e
@pytest.mark.parametrize("with_uv", [True, False], ids=["uv", "pip"])
def test_make_install_without_the_chosen_python_says_how_to_get_it(tmp_path, with_uv):
    project = bake(tmp_path, project_name="No Such Python")
    env = tools_env() if with_uv else {**tools_env(), "PATH": bare_path()}
    done = subprocess.run(
        ["make", "install", "PYTHON=3.99"], cwd=project, env=env, capture_output=True, text=True
    )
    assert done.returncode != 0
    first = done.stderr.splitlines()[0]
    assert first.startswith("Python 3.99 not found: install it (uv python install 3.99"), (
        done.stderr
    )
    assert "make install PYTHON=/path/to/python3.99" in first
    assert not (project / ".venv").exists() and not (project / "uv.lock").exists()


@pytest.mark.e2e
def test_make_lock_pins_numpy_2_and_the_lock_matches_the_pyproject(tmp_path):
    project = bake(tmp_path, project_name="Lock Check", engine="duckdb", parallelism="dask")
    make(project, "lock", timeout=300)  # uv resolves against PyPI
    pins = (project / "requirements.lock").read_text()
    assert re.search(r"^numpy==2\.", pins, re.M), "numpy 2 for every Python (the uv override)"
    assert re.search(r"^xetrack==0\.7\.0", pins, re.M) and re.search(r"^bokeh==", pins, re.M)
    assert re.search(r"^ruff==", pins, re.M), "the dev group is pinned for pip too"
    uv = [str(Path(sys.executable).parent / "uv")]
    run([*uv, "lock", "--check"], cwd=project, env={"UV_PYTHON_DOWNLOADS": "never"})
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"tabulate>=0.9",', '"tabulate>=0.8",'))
    stale = run([*uv, "lock", "--check"], cwd=project, check=False)
    assert stale.returncode != 0, "a changed pyproject must fail the lock check"


HELP_COMMANDS = ("run", "validate", "cache", "cache-ls", "cache-clear", "report", "compare")


def option_entries(help_text: str) -> dict[str, str]:
    """Each option or argument of a plain (click-style) help text -> its whole entry."""
    entries, name = {}, None
    for line in help_text.splitlines():
        match = re.match(r"^  (--[\w-]+(?: / --[\w-]+)?|[a-z_]+)(?=\s|$)", line)
        if match:
            name = match.group(1)
            entries[name] = line
        elif name and line.startswith("    "):
            entries[name] += " " + line.strip()
        else:
            name = None
    return entries


@pytest.mark.e2e
def test_help_shows_every_default_and_the_version(default_project, shared_python):
    module = [str(shared_python), "-m", "my_benchmark"]
    env = {"COLUMNS": "100", "TERM": "xterm-256color", "FORCE_COLOR": "1"}
    for command in HELP_COMMANDS:
        text = run([*module, command, "--help"], cwd=default_project, env=env).stdout
        entries = option_entries(text)
        assert "--help" in entries, text
        for name, entry in entries.items():
            takes_value = "<" in entry or " / --" in name or not name.startswith("--")
            if takes_value and name not in ("--help",):
                assert "default" in entry, f"{command} {name}: no default shown\n{entry}"
    compare = option_entries(run([*module, "compare", "--help"], cwd=default_project).stdout)
    assert "[default: see B]" in compare["a"] and "[default: the last two" in compare["b"]
    run_help = option_entries(run([*module, "run", "--help"], cwd=default_project).stdout)
    assert "<none|threads|processes|dask>" in run_help["--parallelism"]
    version = run([*module, "--version"], cwd=default_project).stdout
    assert re.fullmatch(r"my_benchmark 0\.1\.0 \(xetrack 0\.7\.0\)\n", version)


class Unauthorized(BaseHTTPRequestHandler):
    """An OpenAI-compatible endpoint that refuses every request: a wrong API key."""

    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests += 1
        data = b'{"error": {"message": "Incorrect API key provided"}}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.mark.e2e
def test_a_run_against_a_server_answering_401_stops_early_with_the_reason(tmp_path, shared_python):
    project = bake(tmp_path, project_name="Breaker Bench", benchmark_kind="llm")
    install_into(shared_python, project)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Unauthorized)
    server.daemon_threads, server.requests = True, 0
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    env = {
        "LLM_PROVIDER": "openai",
        "LLM_BASE_URL": f"http://127.0.0.1:{server.server_port}/v1",
        "LLM_API_KEY": "sk-wrong-key-0123456789",
    }
    command = [str(shared_python), "-m", "breaker_bench", "run", "--dev", "--no-progress"]
    try:
        done = run(command, cwd=project, env=env, check=False, timeout=120)
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 2, done.stdout + done.stderr
    reason = done.stderr.strip().splitlines()[-1]
    assert reason.startswith("stopped: the last 20 datapoints all failed with APIError: HTTP 401")
    assert "--no-breaker" in reason and "Traceback" not in done.stderr
    rows = db_rows(project / "dev.db", "predictions")
    assert len(rows) == 20 and {r["error_type"] for r in rows} == {"APIError"}  # rows kept
    assert server.requests == 20  # a 401 is not retried, and nothing ran after the stop


@pytest.mark.e2e
def test_hooks_run_from_a_bare_shell_after_pre_commit_install(tmp_path, shared_python):
    project = bake(tmp_path, project_name="Bare Hooks")
    (project / ".venv").symlink_to(shared_python.parent.parent)  # as make install leaves it
    pre_commit_home = {"PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}
    run([".venv/bin/pre-commit", "install"], cwd=project, env=pre_commit_home)
    # something new to commit (the bake's own first commit exists) for the hooks to check
    (project / "src" / "bare_hooks" / "notes.py").write_text('"""Notes."""\n')
    git(project, "add", "-A")
    dead = "http://127.0.0.1:9"  # offline: any download fails
    env = {**pre_commit_home, "PATH": bare_path(), "HTTPS_PROXY": dead, "HTTP_PROXY": dead}
    env = {**{k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}, **env}
    identity = ["-c", "user.name=Template Tests", "-c", "user.email=tests@example.invalid"]
    done = subprocess.run(
        ["git", *identity, "commit", "-q", "-m", "baked"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    output = done.stdout + done.stderr  # git shows the hooks' report on stderr
    assert re.search(r"^ruff check \(lint, with fixes\)\.+Passed$", output, re.M), output
    assert re.search(r"^ruff format\.+Passed$", output, re.M) and "Executable" not in output


DASHBOARD = """
import urllib.request
from contextlib import ExitStack

from dash_board.harness.cluster import connect

if __name__ == "__main__":  # dask's worker processes import this file again
    with ExitStack() as stack:
        client = connect(1, "", stack)  # the LocalCluster a run starts
        with urllib.request.urlopen(client.dashboard_link, timeout=30) as page:
            print(page.status, b"Bokeh" in page.read())
"""


@pytest.mark.e2e
def test_a_dask_bake_installs_bokeh_and_the_dashboard_serves_its_pages(tmp_path, shared_python):
    project = bake(tmp_path, project_name="Dash Board", parallelism="dask")
    pip_install(shared_python, "-e", str(project))  # with its dependencies: dask, bokeh
    env = {"NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
    script = tmp_path / "dashboard.py"
    script.write_text(DASHBOARD)
    done = run([str(shared_python), str(script)], cwd=project, env=env, timeout=120)
    assert done.stdout.split() == ["200", "True"], done.stdout + done.stderr
