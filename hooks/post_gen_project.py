"""Place the chosen kind's files, prune what the options do not need, say what to do next.

Each benchmark kind lives in its own folder of the template, ``_kinds/<kind>/`` with ``src/``
(modules of the package), ``tests/`` and ``data/``: ordinary Python the template's tools can
read. This hook moves the chosen kind's files into place and removes ``_kinds/``. Small
add-ons (one optional module) use conditional file names instead; the folders they leave
empty are pruned here. A bake by cookiecutter also becomes a git repository with a first
commit (so the first experiment run records one); cruft's own bakes (create, update, check:
no ``_output_dir`` in their context) and a folder already inside git are left alone. Running
this hook twice changes nothing the second time. Values arrive through ``|tojson`` so quotes
and backslashes cannot break this file.
"""

import os
import shutil
import subprocess
from pathlib import Path

MODULE = {{ cookiecutter.module_name | tojson }}
SLUG = {{ cookiecutter.project_slug | tojson }}
KIND = {{ cookiecutter.benchmark_kind | tojson }}
AUTHOR = {{ cookiecutter.author_name | tojson }}
# Set by cookiecutter's own bakes only; cruft generates without it (and diffs what it bakes).
OUTPUT_DIR = {{ cookiecutter._output_dir | default("") | tojson }}
KINDS_FOLDER = "_kinds"


def place_kind(project: Path, kind: str, module: str) -> list[Path]:
    """Move ``_kinds/<kind>/{src,tests,data}`` into the package, tests/ and data/; drop the
    other kinds. Returns the placed files, relative to ``project`` (none when already placed)."""
    kinds = project / KINDS_FOLDER
    if not kinds.is_dir():
        return []
    targets = {"src": Path("src", module), "tests": Path("tests"), "data": Path("data")}
    placed = []
    for part, target in targets.items():
        source = kinds / kind / part
        if not source.is_dir():
            continue
        (project / target).mkdir(parents=True, exist_ok=True)
        for path in sorted(source.iterdir()):
            if path.name == "__pycache__":
                continue
            path.replace(project / target / path.name)
            placed.append(target / path.name)
    shutil.rmtree(kinds)
    return placed


def remove_empty_folders(root: Path) -> list[Path]:
    removed = []
    for folder, _, _ in sorted(os.walk(root), key=lambda entry: -len(entry[0])):
        path = Path(folder)
        if path != root and not any(path.iterdir()):
            path.rmdir()
            removed.append(path.relative_to(root))
    return removed


def git(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=project, capture_output=True, text=True)


def make_git_repository(project: Path) -> str:
    """``git init`` and a first commit of the baked files; says what it did (one line)."""
    if shutil.which("git") is None:
        return (
            "git not found: experiment runs will record no commit. Install git, then: "
            "git init && git add -A && git commit -m 'Baked from bench-template'"
        )
    if git(project, "rev-parse", "--is-inside-work-tree").returncode == 0:
        return "Already inside a git work tree: no git init."
    identity = ["-c", "commit.gpgsign=false"]  # the first commit never waits for a key
    if git(project, "config", "user.name").returncode:
        identity += ["-c", f"user.name={AUTHOR}"]
    if git(project, "config", "user.email").returncode:
        identity += ["-c", "user.email=bench@localhost"]
    steps = {
        "init": ["init", "-q"],
        "add": ["add", "-A"],
        "commit": [*identity, "commit", "-q", "--no-verify", "-m", "Baked from bench-template"],
    }
    for step, args in steps.items():
        done = git(project, *args)
        if done.returncode:
            reason = ((done.stderr or done.stdout).strip().splitlines() or ["?"])[0]
            return f"git {step} failed ({reason}): make the first commit yourself."
    return "Made a git repository with a first commit: experiment runs record their commit."


def main():
    project = Path.cwd()
    place_kind(project, KIND, MODULE)
    remove_empty_folders(project)
    if OUTPUT_DIR:
        print(make_git_repository(project))
    print(
        f"\nBaked {SLUG}/. Next:\n"
        f"  cd {SLUG}\n"
        "  make install   # .venv with the chosen Python; writes and commits uv.lock\n"
        "  make test && make dev && make run && make validate && make report\n"
        f"Edit src/{MODULE}/predict.py and params.py; plan in EXPERIMENT.md.\n"
    )


if __name__ == "__main__":
    main()
