"""The template README's commands and tables say what is true."""

import json
import re
import shlex
from pathlib import Path

import pytest

from helpers import TEMPLATE_DIR, run

README = (TEMPLATE_DIR / "README.md").read_text()


def quickstart_commands() -> list[str]:
    block = re.search(r"## Quickstart.*?```bash\n(.*?)```", README, re.S).group(1)
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def test_quickstart_has_the_two_commands_and_ci_runs_the_second():
    bake_and_run, run_tests = quickstart_commands()
    assert bake_and_run.startswith("cookiecutter --no-input . ")
    assert run_tests == "pip install -r requirements-test.txt && python -m pytest"
    ci = (TEMPLATE_DIR / ".ci" / "run").read_text()
    assert "requirements-test.txt" in ci
    assert re.search(r"^python -m pytest \|\| status=\$\?$", ci, re.M), "CI runs another command"


def test_options_table_lists_every_question_and_choice():
    questions = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text())
    table = README.split("## Options", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in [line for line in table.splitlines() if line.startswith("|")][2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        for name in re.findall(r"`(\w+)`", cells[0]):
            rows[name] = cells[1]
    public = [name for name in questions if not name.startswith("_")]
    assert sorted(rows) == sorted(public)
    for name in public:
        if isinstance(questions[name], list):
            for value in questions[name]:
                assert value in rows[name], f"{name}={value} missing from the options table"


@pytest.mark.e2e
def test_first_quickstart_command_bakes_and_runs_end_to_end(tmp_path):
    command = quickstart_commands()[0].replace("/tmp/bench-demo", shlex.quote(str(tmp_path)))
    done = run(command, cwd=TEMPLATE_DIR, timeout=900)
    project = Path(tmp_path) / "my-benchmark"
    first, second = re.findall(r"^run \S+ \(experiment\).*$", done.stdout, re.M)
    assert "2400 computed, 0 reused" in first
    assert "0 computed, 2400 reused" in second
    assert "validation passed" in done.stdout
    assert (project / "reports" / "baseline" / "README.md").exists()
    assert (project / ".venv" / "bin" / "python").exists()
