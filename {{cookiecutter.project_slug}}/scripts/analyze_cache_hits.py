"""python scripts/analyze_cache_hits.py benchmark.db [table] [--engine sqlite|duckdb]"""

from {{ cookiecutter.module_name }}.cli import app

if __name__ == "__main__":
    app(["cache", *__import__("sys").argv[1:]], prog_name="analyze_cache_hits.py")
