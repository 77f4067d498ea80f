"""The answers file, re-bakes and template updates: what `cruft update` relies on.

Fast tier: the baked .cookiecutter.json records every answer and nothing local, and re-bakes
the same project. End-to-end tier (marker ``e2e``): update a project baked from an older
template revision with cruft (or linked with `cruft link`) and run it.
"""

import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter

from helpers import (
    ANSWER_VARIANTS,
    ANSWERS_FILE,
    COOKIECUTTER_JSON,
    CUSTOM_ANSWERS,
    PRE_COMMIT_CONFIG,
    TEMPLATE_DIR,
    bake,
    baked_files,
    full_context,
    git,
    install_into,
    run,
)

PUBLIC_KEYS = [key for key in COOKIECUTTER_JSON if not key.startswith("_")]


def snapshot(project: Path) -> dict[str, bytes]:
    """Every file of ``project`` (outside .git/) with its content."""
    files = (path for path in baked_files(project) if path.split("/")[0] != ".git")
    return {path: (project / path).read_bytes() for path in files}


# --- fast tier: answers file and re-bakes -----------------------------------------------------


@pytest.mark.parametrize("answers", ANSWER_VARIANTS)
def test_answers_file_records_every_answer_without_local_paths(baked, answers):
    project, context = baked(answers), full_context(**answers)
    text = (project / ANSWERS_FILE).read_text()
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
    project = baked(CUSTOM_ANSWERS)
    answers = json.loads((project / ANSWERS_FILE).read_text())
    again = Path(
        cookiecutter(str(TEMPLATE_DIR), no_input=True, extra_context=answers, output_dir=tmp_path)
    )
    assert again.name == project.name
    assert snapshot(again) == snapshot(project)


def test_baking_twice_over_the_same_project_is_safe(tmp_path):
    """The hooks run again on a re-bake (cruft update bakes twice): same result, no error."""
    first = snapshot(bake(tmp_path, **CUSTOM_ANSWERS))
    again = Path(
        cookiecutter(
            str(TEMPLATE_DIR),
            no_input=True,
            extra_context=CUSTOM_ANSWERS,
            output_dir=str(tmp_path),
            overwrite_if_exists=True,
        )
    )
    assert snapshot(again) == first


# --- end-to-end tier: cruft -------------------------------------------------------------------


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
    (baked_dir / PRE_COMMIT_CONFIG).unlink()
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
    assert not (project / PRE_COMMIT_CONFIG).exists() and (project / "OLD_NOTES.md").exists()
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
    assert (project / PRE_COMMIT_CONFIG).read_text() == (fresh / PRE_COMMIT_CONFIG).read_text()
    assert not (project / "OLD_NOTES.md").exists()
    text = makefile.read_text()
    assert "older template revision" not in text and "mine: ## A target of my own" in text
    assert not list(project.rglob("*.rej")) and not list(project.rglob("*.orig"))
    assert json.loads((project / ANSWERS_FILE).read_text()) == json.loads(
        (fresh / ANSWERS_FILE).read_text()
    )
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
    assert not (project / PRE_COMMIT_CONFIG).exists()
    # cookiecutter's bake made the repository and its first commit (the post-generation hook)
    assert git(project, "log", "--format=%s").stdout.splitlines() == ["Baked from bench-template"]
    assert git(project, "status", "--porcelain").stdout == ""
    cruft = [sys.executable, "-m", "cruft"]
    answers = (project / ANSWERS_FILE).read_text()
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
