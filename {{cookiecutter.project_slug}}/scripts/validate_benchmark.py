"""python scripts/validate_benchmark.py benchmark.db [table] [--engine sqlite|duckdb] [--json]"""

from {{ cookiecutter.module_name }}.cli import app

if __name__ == "__main__":
    app(["validate", *__import__("sys").argv[1:]], prog_name="validate_benchmark.py")
