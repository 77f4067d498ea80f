"""End-to-end tier, throughput kind: a load level is one unit. Against an HTTP service started
here that fails every 100th request it receives (1%, deterministic), levels 1, 4 and 8 of
concurrency x 25 requests: a rerun sends nothing and reports the same error rates (failed
requests are measurements, cached with their level); a level killed midway (SIGKILL) is
measured again whole by the next run, and validate reports each level's error rate."""

import os
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from helpers import bake, install_into, run
from results import db_rows, run_counts

pytestmark = pytest.mark.e2e
MODULE = "levels_e2e"  # distinct: every e2e bake shares one environment
LEVELS, PER_WORKER = (1, 4, 8), 25  # 25, 100 and 200 requests
TOTAL = sum(LEVELS) * PER_WORKER


class Service(BaseHTTPRequestHandler):
    """200, or 503 to every 100th request received; ``server.on_request(n)`` if set."""

    def do_POST(self):  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers["Content-Length"]))
        with self.server.lock:
            self.server.count += 1
            n = self.server.count
        if self.server.on_request:
            self.server.on_request(n)
        time.sleep(0.002)
        body = b'{"ok": true}'
        try:
            self.send_response(503 if n % 100 == 0 else 200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client was killed
            pass

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    request_queue_size = 64  # the default 5 drops connections of 8 workers (resent 1 s later)
    daemon_threads = True


@pytest.fixture
def server():
    httpd = Server(("127.0.0.1", 0), Service)
    httpd.lock, httpd.count, httpd.on_request = threading.Lock(), 0, None
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    stop = threading.Timer(120, httpd.shutdown)  # never outlives a stuck test
    stop.start()
    yield httpd
    stop.cancel()
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def project(tmp_path_factory, shared_python):
    project = bake(
        tmp_path_factory.mktemp("levels"), project_name="Levels E2E", benchmark_kind="throughput"
    )
    install_into(shared_python, project)
    return project


def command(python, db) -> list[str]:
    return [str(python), "-m", MODULE, "run", "--db", str(db), "--no-progress"]


def environment(server) -> dict:
    return {
        "LOAD_URL": f"http://127.0.0.1:{server.server_port}/work",
        "LOAD_CONCURRENCY": ",".join(map(str, LEVELS)),
        "LOAD_REQUESTS_PER_WORKER": str(PER_WORKER),
    }


def failures(db, track_id: str) -> dict:
    """concurrency -> (requests, failed) of the metrics row ``track_id`` wrote."""
    rows = [m for m in db_rows(db, "metrics") if m["track_id"] == track_id]
    return {m["params_concurrency"]: (m["n"], m["n_failed"]) for m in rows}


def validate(python, project, db) -> str:
    script = [str(python), "scripts/validate_benchmark.py", str(db), "predictions"]
    done = run(script, cwd=project)
    assert "validation passed" in done.stdout, done.stdout
    return done.stdout


def settled(server) -> None:
    """Wait until the server has received nothing for 0.3 s."""
    count = -1
    while server.count != count:
        count = server.count
        time.sleep(0.3)


def test_a_rerun_sends_nothing_and_keeps_the_measured_error_rates(
    project, shared_python, server, tmp_path
):
    db, env = tmp_path / "load.db", environment(server)
    first = run(command(shared_python, db), cwd=project, env=env)
    assert run_counts(first.stdout) == (TOTAL, 0) and server.count == TOTAL
    track_id = db_rows(db, "predictions")[0]["track_id"]
    assert failures(db, track_id) == {1: (25, 0), 4: (100, 1), 8: (200, 2)}
    rows = db_rows(db, "predictions")
    assert {r["level_complete"] for r in rows} == {1}
    for c in LEVELS:
        assert {r["worker"] for r in rows if r["params_concurrency"] == c} == {
            f"thread-{n}" for n in range(c)
        }

    second = run(command(shared_python, db), cwd=project, env=env)
    assert run_counts(second.stdout) == (0, TOTAL) and server.count == TOTAL
    latest = db_rows(db, "predictions")[-1]["track_id"]
    assert latest != track_id and failures(db, latest) == failures(db, track_id)
    out = validate(shared_python, project, db)
    assert "concurrency=4: 1/100 failed (1.00%)" in out and "2/200 failed (1.00%)" in out, out


def test_a_level_killed_midway_is_measured_again_whole(project, shared_python, server, tmp_path):
    db, env = tmp_path / "load.db", environment(server)
    killed = threading.Event()

    def kill_at(n):  # the 60th request of the level of 8
        if n == 185:
            process.kill()  # SIGKILL: no cleanup at all
            killed.set()

    server.on_request = kill_at
    process = subprocess.Popen(
        command(shared_python, db),
        cwd=project,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert process.wait(timeout=60) != 0 and killed.is_set()
    server.on_request = None
    settled(server)  # what the killed run had in flight
    partial = [r for r in db_rows(db, "predictions") if r["params_concurrency"] == 8]
    assert 0 < len(partial) < 200 and {r["level_complete"] for r in partial} == {0}

    server.count = 0  # the new measurement's requests: 1..200, the 100th and 200th fail
    again = run(command(shared_python, db), cwd=project, env=env)
    assert run_counts(again.stdout) == (200, 125) and server.count == 200
    track_id = db_rows(db, "predictions")[-1]["track_id"]
    level = [
        r
        for r in db_rows(db, "predictions")
        if r["track_id"] == track_id and r["params_concurrency"] == 8
    ]
    assert len(level) == 200 and {r["level_complete"] for r in level} == {1}
    assert {r["cache"] for r in level} == {""} and len({r["level_run"] for r in level}) == 1
    assert failures(db, track_id) == {1: (25, 0), 4: (100, 1), 8: (200, 2)}
    out = validate(shared_python, project, db)
    assert f"{len(partial)} rows of 1 interrupted level measurements" in out, out
    assert "measured again whole since" in out, out
