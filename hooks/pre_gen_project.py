"""Refuse answers that would bake a broken project, before any file is written.

Every value arrives through ``|tojson`` so quotes, apostrophes, backslashes and newlines in
free text cannot break this file. Exit status 1 makes cookiecutter stop and remove the
output directory it created for the hook.
"""

import keyword
import re
import sys

ANSWERS = {
    "project_name": {{ cookiecutter.project_name | tojson }},
    "project_slug": {{ cookiecutter.project_slug | tojson }},
    "module_name": {{ cookiecutter.module_name | tojson }},
    "python_version": {{ cookiecutter.python_version | tojson }},
    "benchmark_kind": {{ cookiecutter.benchmark_kind | tojson }},
    "engine": {{ cookiecutter.engine | tojson }},
    "parallelism": {{ cookiecutter.parallelism | tojson }},
    "license": {{ cookiecutter.license | tojson }},
}

SUPPORTED_PYTHONS = ("3.10", "3.11", "3.12", "3.13")  # xetrack 0.7.0 needs >= 3.10
CHOICES = {
    "benchmark_kind": ("classification", "sklearn", "llm", "throughput"),
    "engine": ("sqlite", "duckdb"),
    "parallelism": ("none", "threads", "processes", "dask"),
    "license": ("MIT", "Apache-2.0", "BSD-3-Clause", "Proprietary"),
}
# Names a baked package must not take: importing the project would shadow them.
TAKEN_NAMES = {
    "test", "tests", "src", "scripts", "data", "reports", "benchmarks", "setup",
    "xetrack", "typer", "click", "diskcache", "filelock", "tqdm", "tabulate", "rich",
    "numpy", "pandas", "matplotlib", "sklearn", "scipy", "duckdb", "pytest", "ruff",
    "cookiecutter", "psutil", "coolname", "loguru",
}
SLUG = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


def problems(answers):
    found = []
    if not answers["project_name"].strip():
        found.append(
            "project_name is empty: give the benchmark a name, e.g. 'Sentiment Benchmark'."
        )
    slug = answers["project_slug"]
    if not SLUG.match(slug):
        found.append(
            f"project_slug {slug!r} is not a folder name: use lowercase letters, digits and "
            "single dashes, starting with a letter, e.g. 'sentiment-benchmark'."
        )
    module = answers["module_name"]
    if not module.isidentifier() or not module.isascii():
        found.append(
            f"module_name {module!r} is not a valid Python identifier: use lowercase letters, "
            "digits and underscores, starting with a letter, e.g. 'sentiment_benchmark'."
        )
    elif keyword.iskeyword(module) or keyword.issoftkeyword(module):
        found.append(
            f"module_name {module!r} is a Python keyword: pick another name, "
            f"e.g. '{module}_bench'."
        )
    elif module in sys.stdlib_module_names or module.lower() in TAKEN_NAMES:
        found.append(
            f"module_name {module!r} would shadow the importable package {module!r}: "
            f"pick another name, e.g. '{module}_bench'."
        )
    elif module != module.lower():
        found.append(f"module_name {module!r} has capitals: use '{module.lower()}' (PEP 8).")
    if answers["python_version"] not in SUPPORTED_PYTHONS:
        found.append(
            f"python_version {answers['python_version']!r} is not supported: choose one of "
            f"{', '.join(SUPPORTED_PYTHONS)} (xetrack 0.7.0 needs Python 3.10 or newer)."
        )
    for name, allowed in CHOICES.items():
        value = answers[name]
        if value not in allowed:
            found.append(f"{name} {value!r} is not an option: choose one of {', '.join(allowed)}.")
    return found


def main():
    found = problems(ANSWERS)
    if found:
        print("bench-template cannot bake this project:", file=sys.stderr)
        for problem in found:
            print(f"  - {problem}", file=sys.stderr)
        print("Nothing was written. Run cookiecutter again with valid answers.", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
