"""Damaged files and awkward inputs on a baked project, run as a user runs it (`python -m`).

Each operational error must be one line on stderr naming the file (and the fix) with exit
status 2, and must leave the db as it was; a lost or damaged cache is rebuilt from the db
without computing anything again.
"""

import contextlib
import http.server
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import threading
from pathlib import Path
from urllib.parse import quote

import pytest

from helpers import bake, git, install_into, run
from results import db_rows, run_counts

pytestmark = pytest.mark.e2e
MODULE = "failure_modes"


@pytest.fixture(scope="module")
def project(tmp_path_factory, shared_python):
    project = bake(tmp_path_factory.mktemp("failures"), project_name="Failure Modes")
    install_into(shared_python, project)
    return project


def cli(python, project, *args, env=None, check=False):
    return run([str(python), "-m", MODULE, *args], cwd=project, env=env, check=check)


def bench(python, project, db, *args, check=True):
    return cli(python, project, "run", "--no-progress", "--db", str(db), *args, check=check)


def assert_one_line_error(done, *words):
    """Exit status 2, one line on stderr holding ``words`` (the file, the fix), no traceback."""
    assert done.returncode == 2, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


def computed_keys(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        return connection.execute(
            "SELECT cache_key, COUNT(*) FROM predictions WHERE cache = '' AND error = '' "
            "GROUP BY cache_key"
        ).fetchall()


def sample_lines(project: Path, count: int) -> list[str]:
    return (project / "data" / "sample.jsonl").read_text().splitlines()[:count]


def test_sqlite_side_files_and_other_dbs_never_make_the_tree_dirty(shared_python, tmp_path):
    project = bake(tmp_path / "bake", project_name="Side Files")
    install_into(shared_python, project)
    # the bake is a git repository with a first commit (hooks/post_gen_project.py)
    assert git(project, "status", "--porcelain").stdout == ""
    run_it = [str(shared_python), "-m", "side_files", "run", "--no-progress", "--limit", "3"]
    run(run_it, cwd=project)  # writes benchmark.db, its lock and .cache/
    for name in ("benchmark.db-journal", "benchmark.db-wal", "baseline.db", "old/other.db-shm"):
        (project / name).parent.mkdir(exist_ok=True)
        (project / name).write_bytes(b"")  # what a SIGKILL (or a second db) leaves behind
    (project / "reports" / "x").mkdir(parents=True)
    (project / "reports" / "x" / "README.md").write_text("report")
    done = run(run_it, cwd=project)
    assert run_counts(done.stdout) == (0, 24)
    rows = db_rows(project / "benchmark.db", "predictions")
    assert len(rows) == 48 and {(r["git_dirty"], r["forced"]) for r in rows} == {(0, 0)}
    with open(project / "src" / "side_files" / "params.py", "a") as params:
        params.write("# edited\n")
    refused = run(run_it, cwd=project, check=False)  # a real change still counts
    assert refused.returncode == 2 and "uncommitted changes" in refused.stderr
    assert len(db_rows(project / "benchmark.db", "predictions")) == 48


def test_a_clone_with_the_db_and_no_cache_computes_nothing(shared_python, project, tmp_path):
    data = tmp_path / "data.jsonl"
    data.write_text("\n".join([*sample_lines(project, 9), "not json"]) + "\n")
    db = tmp_path / "origin" / "bench.db"
    db.parent.mkdir()
    first = bench(shared_python, project, db, "--data", str(data))
    assert run_counts(first.stdout) == (80, 0) and "8 failed" in first.stdout
    clone = tmp_path / "clone" / "bench.db"  # a teammate's clone: the committed db, no .cache
    clone.parent.mkdir()
    shutil.copy(db, clone)
    done = bench(shared_python, project, clone, "--data", str(data))
    # 72 results served from the db; the 8 error rows are not (errors are retried, as always)
    assert run_counts(done.stdout) == (8, 72), done.stdout
    assert "lacked 72 results" in done.stderr and str(clone) in done.stderr
    assert all(count == 1 for _, count in computed_keys(clone)) and len(computed_keys(clone)) == 72
    validate = cli(shared_python, project, "validate", str(clone))
    assert validate.returncode == 0, validate.stdout
    cache_db = clone.parent / ".cache" / "bench" / "cache.db"
    for damage in (b"", b"this is not sqlite " * 200):  # zero-length, then garbage
        cache_db.write_bytes(damage)
        done = bench(shared_python, project, clone, "--data", str(data))
        assert run_counts(done.stdout) == (8, 72) and "Traceback" not in done.stderr
        assert "lacked 72 results" in done.stderr
        assert bool(damage) == ("is damaged" in done.stderr), done.stderr
    assert all(count == 1 for _, count in computed_keys(clone))
    assert cli(shared_python, project, "validate", str(clone)).returncode == 0


def test_a_symlink_to_the_db_shares_its_lock_and_cache(shared_python, project, tmp_path):
    real, link = tmp_path / "real.db", tmp_path / "link.db"
    bench(shared_python, project, real, "--limit", "4")
    link.symlink_to(real)
    holder = subprocess.Popen(
        [
            str(shared_python),
            "-c",
            "import time; from filelock import FileLock; "
            f"lock = FileLock({str(real)!r} + '.lock'); lock.acquire(); print('held', flush=True); "
            "time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        refused = bench(shared_python, project, link, "--limit", "4", check=False)
        assert_one_line_error(refused, "link.db", "another run is writing it", "real.db.lock")
    finally:
        holder.kill()
        holder.wait()
    done = bench(shared_python, project, link, "--limit", "4")
    assert run_counts(done.stdout) == (0, 32)  # the real db's cache, not a new one
    assert not (tmp_path / ".cache" / "link").exists()
    assert len(db_rows(real, "predictions")) == 64 and len(computed_keys(real)) == 32


def test_operational_errors_are_one_line_exit_2_and_leave_the_db_alone(
    shared_python, project, tmp_path
):
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(b"definitely not a database " * 100)
    before = damaged.read_bytes()
    for command in (
        ["run", "--no-progress", "--db", str(damaged), "--limit", "2"],
        ["validate", str(damaged)],
        ["report", str(damaged), "--out", str(tmp_path / "reports")],
        ["cache", str(damaged)],
    ):
        done = cli(shared_python, project, *command)
        assert_one_line_error(done, f"results db {damaged} is damaged", "git checkout")
    assert damaged.read_bytes() == before and not (tmp_path / ".cache").exists()
    debug = cli(shared_python, project, "--debug", "validate", str(damaged))
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "locals" not in debug.stderr
    assert (
        "Traceback"
        in cli(shared_python, project, "validate", str(damaged), env={"BENCH_DEBUG": "1"}).stderr
    )
    good = tmp_path / "good.db"
    bench(shared_python, project, good, "--limit", "2")
    report = cli(shared_python, project, "report", str(good), "--experiment", "nope")
    assert_one_line_error(report, str(good), "'nope'", "use one of baseline")
    for option in (["--parallelism", "thread"], ["--engine", "duck"]):
        typo = bench(shared_python, project, good, "--limit", "2", *option, check=False)
        assert_one_line_error(typo, repr(option[1]), option[0], "is not one of")
    missing = bench(shared_python, project, tmp_path / "no" / "such" / "b.db", check=False)
    assert_one_line_error(missing, "b.db", "does not exist")
    assert len(db_rows(good, "predictions")) == 16


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs RLIMIT_FSIZE (POSIX)")
def test_a_full_disk_mid_run_is_one_line_and_the_rerun_completes(shared_python, project, tmp_path):
    import resource  # POSIX only

    db = tmp_path / "bench.db"
    bench(shared_python, project, db, "--limit", "2")
    room = db.stat().st_size + 300_000  # no file may grow past this: a disk that fills up

    def full_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, (room, room))

    command = [str(shared_python), "-m", MODULE, "run", "--no-progress", "--db", str(db)]
    done = subprocess.run(
        command, cwd=project, capture_output=True, text=True, preexec_fn=full_disk
    )
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode == 2 and len(lines) == 1 and "Traceback" not in done.stderr, done
    assert "written" in lines[0] and (str(db) in lines[0] or ".cache" in lines[0]), lines[0]
    saved = len(computed_keys(db))
    assert 16 <= saved < 2400 and all(count == 1 for _, count in computed_keys(db))
    rerun = bench(shared_python, project, db)
    assert run_counts(rerun.stdout)[0] == 2400 - saved  # what was committed is not redone
    assert all(count == 1 for _, count in computed_keys(db)) and len(computed_keys(db)) == 2400
    assert cli(shared_python, project, "validate", str(db)).returncode == 0


@contextlib.contextmanager
def read_only(path: Path):
    """``path`` cannot be written while inside. Root writes a 0o444 file anyway: it gets an
    immutable file instead (chattr +i, ext4 and most Linux file systems)."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(0o644)
        return
    if run(["chattr", "+i", str(path)], cwd=path.parent, check=False).returncode != 0:
        pytest.skip("root, and no chattr +i on this file system: no way to make a db read-only")
    try:
        yield
    finally:
        run(["chattr", "-i", str(path)], cwd=path.parent)


def test_a_read_only_db_is_refused_before_computing(shared_python, project, tmp_path):
    db = tmp_path / "bench.db"
    bench(shared_python, project, db, "--limit", "2")
    with read_only(db):
        done = bench(shared_python, project, db, "--limit", "4", check=False)
    assert_one_line_error(done, str(db), "read-only")
    assert len(db_rows(db, "predictions")) == 16


def test_datasets_bom_bad_bytes_two_contents_one_id_empty(shared_python, project, tmp_path):
    lines = sample_lines(project, 5)
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode() + b"\n")
    db = tmp_path / "bench.db"
    done = bench(shared_python, project, db, "--data", str(bom))
    assert run_counts(done.stdout) == (40, 0) and "0 failed" in done.stdout
    assert {r["error"] for r in db_rows(db, "predictions")} == {""}
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes("\n".join(lines[:3]).encode() + b'\n{"id": "x", "text": "caf\xe9"}\n')
    twice = tmp_path / "twice.jsonl"
    first = json.loads(lines[0])
    twice.write_text("\n".join([*lines[:2], json.dumps({**first, "text": "other"})]) + "\n")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    other = tmp_path / "other.db"
    for path, words in (
        (bad, ["bad.jsonl, line 4: not UTF-8", "save the file as UTF-8"]),
        (twice, ["twice.jsonl, lines 1 and 3", f"input_id {first['id']!r}"]),
        (empty, ["empty.jsonl: no records"]),
    ):
        assert_one_line_error(
            bench(shared_python, project, other, "--data", path, check=False), *words
        )
    assert not other.exists()  # refused before anything was written


def echo_server(key: str):
    """An OpenAI-compatible endpoint that echoes the key back: plain, JSON-escaped, URL-encoded."""
    escaped = "".join(f"\\u{ord(c):04x}" for c in key)

    class Echo(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            content = f"Answer: 4 ({key} ESCAPED {quote(key, safe='')})"
            body = {
                "choices": [{"message": {"content": content}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 2},
                "echo": {"authorization": self.headers["Authorization"]},
            }
            data = json.dumps(body).replace("ESCAPED", escaped).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True).start()
    return server


def test_the_llm_api_key_never_reaches_the_db_cache_or_report(shared_python, tmp_path):
    project = bake(tmp_path / "bake", project_name="Key Echo", benchmark_kind="llm")
    install_into(shared_python, project)
    key = "sk-e2e-0123456789abcdef"
    server = echo_server(key)
    env = {
        "LLM_PROVIDER": "openai",
        "LLM_MODELS": "gpt-4o-mini",
        "LLM_BASE_URL": f"http://127.0.0.1:{server.server_port}/v1",
        "LLM_API_KEY": key,
    }
    try:
        db = tmp_path / "bench.db"
        command = [str(shared_python), "-m", "key_echo", "run", "--no-progress", "--db", str(db)]
        done = run([*command, "--limit", "3"], cwd=project, env=env)
        report = run(
            [
                str(shared_python),
                "-m",
                "key_echo",
                "report",
                str(db),
                "--out",
                str(tmp_path / "reports"),
            ],
            cwd=project,
            env=env,
        )
    finally:
        server.shutdown()
        server.server_close()
    rows = db_rows(db, "predictions")
    assert len(rows) >= 3 and {r["error"] for r in rows} == {""}
    assert all(r["prediction"].count("[API key]") == 3 for r in rows)
    forms = [key, quote(key, safe=""), "\\u0073\\u006b", key.encode().hex()]
    stored = [p for p in tmp_path.rglob("*") if p.is_file() and "bake" not in p.parts]
    assert any(".cache" in p.parts for p in stored) and any(p.suffix == ".md" for p in stored)
    for path in stored:
        content = path.read_bytes()
        for form in forms:
            assert form.encode() not in content, (path, form)
    for text in (done.stdout, done.stderr, report.stdout, report.stderr):
        assert key not in text
