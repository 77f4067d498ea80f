"""Prune what the chosen options do not need, then say what to do next.

Files are chosen by conditional file names (a name that renders empty is not written);
what they leave behind is pruned here: folders left empty, such as data/ for a kind that
loads a dataset scikit-learn ships. Running this hook twice changes nothing the second time.
Values arrive through ``|tojson`` so quotes and backslashes cannot break this file.
"""

import os
from pathlib import Path

MODULE = {{ cookiecutter.module_name | tojson }}
SLUG = {{ cookiecutter.project_slug | tojson }}


def remove_empty_folders(root: Path) -> list[Path]:
    removed = []
    for folder, _, _ in sorted(os.walk(root), key=lambda entry: -len(entry[0])):
        path = Path(folder)
        if path != root and not any(path.iterdir()):
            path.rmdir()
            removed.append(path.relative_to(root))
    return removed


def main():
    remove_empty_folders(Path.cwd())
    print(
        f"\nBaked {SLUG}/. Next:\n"
        f"  cd {SLUG}\n"
        "  make install   # .venv with the project and its dev tools\n"
        "  make test && make dev && make run && make validate && make report\n"
        f"Edit src/{MODULE}/predict.py and params.py; plan in EXPERIMENT.md.\n"
    )


if __name__ == "__main__":
    main()
