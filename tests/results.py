"""Helpers that read what a baked project's run left behind: its db rows, its run summary,
its report's images and its README's result commands (the end-to-end tier's checks)."""

import re
import sqlite3
import struct
import subprocess
from collections import Counter
from pathlib import Path

from helpers import run


def db_rows(db: Path, table: str) -> list[dict]:
    """All rows of ``table`` in the SQLite file ``db``, as dicts."""
    connection = sqlite3.connect(db)
    connection.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in connection.execute(f'SELECT * FROM "{table}"')]
    finally:
        connection.close()


RUN_SUMMARY = re.compile(r"\b(?P<computed>\d+) computed, (?P<reused>\d+) reused\b")


def run_counts(output: str) -> tuple[int, int]:
    """(computed, reused) from the summary line a baked project's ``run`` prints."""
    found = RUN_SUMMARY.findall(output)
    assert len(found) == 1, f"expected one 'N computed, M reused' summary line in:\n{output}"
    computed, reused = found[0]
    return int(computed), int(reused)


def runs_in_order(db: Path, table: str = "predictions") -> list[list[dict]]:
    """The rows of ``table``, one list per run (track_id), oldest run first."""
    runs = {}
    for row in sorted(db_rows(db, table), key=lambda r: r["timestamp"]):
        runs.setdefault(row["track_id"], []).append(row)
    return list(runs.values())


def assert_rerun_reused_everything(db: Path) -> None:
    """``db`` holds exactly two runs of the same grid: the first computed every row, the second
    computed nothing and logged complete rows that point at the first run's computations."""
    runs = runs_in_order(db)
    assert len(runs) == 2, f"expected 2 runs in {db}, found {len(runs)}"
    first, second = runs
    first_id = first[0]["track_id"]
    params = sorted(c for c in first[0] if c.startswith("params_"))
    assert params, "no params_* columns"
    assert first and len(second) == len(first), (len(first), len(second))
    assert all(r["cache"] == "" and r["reused"] == 0 for r in first), "first run: all computed"
    wrong = [r for r in second if r["cache"] != first_id or r["reused"] != 1]
    assert not wrong, f"{len(wrong)} second-run rows not reused from {first_id}: {wrong[:2]}"
    nulls = [(c, r["track_id"]) for r in first + second for c in params if r[c] is None]
    assert not nulls, f"NULL params columns: {nulls[:5]}"

    def key(row):
        return (row["input_id"], *(row[c] for c in params))

    computed = {key(r): r for r in first}
    assert len(computed) == len(first), "a computation appears twice in the first run"
    assert {key(r) for r in second} == set(computed), "second run covers other datapoints"
    for row in second:
        original = computed[key(row)]
        for column in ("prediction", "raw_response", "ground_truth", "error"):
            assert row[column] == original[column], (column, row, original)


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def report_images(folder: Path, min_size=(200, 100), min_bytes=5000) -> set[str]:
    """The PNGs the report in ``folder`` links, each checked to be a real, non-empty image."""
    linked = set(re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", (folder / "README.md").read_text()))
    assert linked, "the report shows no plot"
    for name in linked:
        data = (folder / name).read_bytes()
        assert data[:8] == PNG_MAGIC, f"{name} is not a PNG"
        assert len(data) > min_bytes, f"{name} is {len(data)} bytes: an empty plot?"
        width, height = struct.unpack(">II", data[16:24])
        assert width >= min_size[0] and height >= min_size[1], f"{name} is {width}x{height}"
    return linked


def readme_mentions(project: Path, words) -> list[str]:
    """Which of ``words`` the baked README mentions (a kind's README names no other kind)."""
    text = (project / "README.md").read_text().lower()
    return [word for word in words if word.lower() in text]


def run_results_commands(project: Path, python: Path, cwd: Path | None = None):
    """Run, as a user would, every command the README's "Looking at the results" shows.

    Each `xt` line must succeed and print a table; returns ({line: output}, the output of the
    Python example).
    """
    text = (project / "README.md").read_text()
    section = text.split("## Looking at the results", 1)[1].split("\n## ", 1)[0]
    shell = re.search(r"```bash\n(.*?)```", section, re.S).group(1).strip().splitlines()
    example = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(shell) >= 4 and all(line.startswith("xt ") for line in shell), shell
    outputs = {}
    for line in shell:
        done = subprocess.run(
            f"{python.parent}/{line}",
            shell=True,
            cwd=cwd or project,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr, f"{line}\n{done.stderr}"
        assert done.stdout.count("\n") >= 3, f"{line} printed almost nothing:\n{done.stdout}"
        outputs[line] = done.stdout
    return outputs, run([str(python), "-c", example], cwd=cwd or project).stdout


def executions(workdir: Path) -> Counter:
    """Executions a crash test's predict wrapper logged ("input_id|config_id" per line)."""
    log = workdir / "executions.log"
    return Counter(log.read_text().splitlines()) if log.exists() else Counter()


def query(workdir: Path, sql: str):
    """Rows of ``sql`` on ``workdir``/bench.db, the db of the crash tests."""
    with sqlite3.connect(workdir / "bench.db") as connection:
        return connection.execute(sql).fetchall()
