"""A load level is one unit (harness/levels.py), against a server started here on 127.0.0.1
that fails every 100th request it receives (1%, deterministic): a level's errors are cached
with it, a rerun sends nothing and reports the same error rates, a level interrupted midway
is measured again whole, each request records its worker, and a level can send
concurrency x N requests."""

import os
import shutil
import signal
import sqlite3
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from {{ cookiecutter.module_name }} import data
from {{ cookiecutter.module_name }}.harness import report_data, runner, sql, validation
from {{ cookiecutter.module_name }}.harness.cache import ResultCache
from {{ cookiecutter.module_name }}.harness.compare.load import Rows
from {{ cookiecutter.module_name }}.harness.compare.runs import select
from {{ cookiecutter.module_name }}.harness.pools import Interrupted
from {{ cookiecutter.module_name }}.harness.tracking import run_metadata
from {{ cookiecutter.module_name }}.params import Params

PER_WORKER = 25  # requests per worker: levels 1, 4, 8 send 25, 100 and 200 requests


class Service(BaseHTTPRequestHandler):
    """Answers 200, or 503 to every 100th request; calls ``server.on_request(n)`` if set."""

    def do_POST(self):  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers["Content-Length"]))
        with self.server.lock:
            self.server.count += 1
            n = self.server.count
        if self.server.on_request:
            self.server.on_request(n)
        body = b'{"ok": true}'
        self.send_response(503 if n % 100 == 0 else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    request_queue_size = 64  # the default 5 drops connections of 8 workers (resent 1 s later)


@pytest.fixture
def server():
    httpd = Server(("127.0.0.1", 0), Service)
    httpd.daemon_threads = True
    httpd.lock, httpd.count, httpd.on_request = threading.Lock(), 0, None
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def levels(server, concurrency=(1, 4, 8)):
    url = f"http://127.0.0.1:{server.server_port}/work"
    return [
        Params(target="http", url=url, concurrency=c, requests_per_worker=PER_WORKER)
        for c in concurrency
    ]


def options(db):
    metadata = run_metadata("test", "experiment", "1", ("", False))
    return runner.RunOptions(db=db, metadata=metadata, parallelism="threads", progress=False)


def rows(db, where="1"):
    with sqlite3.connect(db) as connection:
        connection.row_factory = sqlite3.Row
        query = f"SELECT * FROM predictions WHERE {where} ORDER BY rowid"
        return [dict(r) for r in connection.execute(query)]


def settled(server) -> None:
    """Wait until the server has received nothing for 0.3 s."""
    count = -1
    while server.count != count:
        count = server.count
        time.sleep(0.3)


def error_rates(summary) -> dict:
    return {m["params_concurrency"]: (m["n"], m["n_failed"]) for m in summary.metrics}


def test_a_level_sends_concurrency_times_n_requests_cycling_the_dataset(items):
    sent = data.level_items(items, Params(concurrency=3, requests_per_worker=10))
    assert len(sent) == 30 and len({item.input_id for item in sent}) == 30
    assert [item.payload for item in sent] == [items[n % 12].payload for n in range(30)]
    assert sent[12].input_id == f"{items[0].input_id}#1"
    assert data.level_items(items, Params(concurrency=3)) == items  # 0: every request once
    assert Params(concurrency=3).config_id == Params(concurrency=3, requests_per_worker=0).config_id


def test_errors_are_measurements_of_their_level_and_a_rerun_sends_nothing(tmp_path, items, server):
    db = tmp_path / "bench.db"
    first = runner.run(items, levels(server), options(db))
    assert (first.computed, server.count) == (325, 325)
    assert error_rates(first) == {1: (25, 0), 4: (100, 1), 8: (200, 2)}
    measured = rows(db)
    assert {r["level_complete"] for r in measured} == {1}
    for c in (1, 4, 8):  # every worker of the level sent requests, and no other
        workers = {r["worker"] for r in measured if r["params_concurrency"] == c}
        assert workers == {f"thread-{n}" for n in range(c)}, c

    again = runner.run(items, levels(server), options(db))
    assert (again.computed, again.reused, server.count) == (0, 325, 325)  # nothing sent
    assert error_rates(again) == error_rates(first)
    for before, after in zip(first.metrics, again.metrics, strict=True):
        assert after["error_rate"] == before["error_rate"]
        assert after["requests_per_second"] == pytest.approx(before["requests_per_second"])
    served = rows(db, f"track_id = '{again.track_id}'")
    worker = {r["cache_key"]: r["worker"] for r in measured}
    assert {r["cache_key"]: r["worker"] for r in served} == worker  # recorded, not re-sent

    findings = {f.check: f for f in validation.validate(db)}
    assert findings["leaks"].status == "ok"
    assert "concurrency=4: 1/100 failed (1.00%)" in findings["levels"].message
    assert "concurrency=8: 2/200 failed (1.00%)" in findings["levels"].message


@pytest.mark.parametrize("cache", ["kept", "deleted", "killed"])
def test_a_level_interrupted_midway_is_measured_again_whole(tmp_path, items, server, cache):
    db = tmp_path / "bench.db"

    def ctrl_c(n):  # the 60th request of the level of 8 (the 185th overall)
        if n == 185:
            os.kill(os.getpid(), signal.SIGINT)

    server.on_request = ctrl_c
    with pytest.raises(Interrupted):
        runner.run(items, levels(server), options(db))
    server.on_request = None
    settled(server)  # requests the interrupted run had in flight
    partial = rows(db, "params_concurrency = 8")
    assert 0 < len(partial) < 200 and {r["level_complete"] for r in partial} == {0}
    assert {r["level_complete"] for r in rows(db, "params_concurrency < 8")} == {1}
    if cache == "deleted":  # rebuilt from the db: with the levels measured whole only
        shutil.rmtree(runner.cache_dir_for(db))
    if cache == "killed":  # as if killed before it cached anything: healed, whole levels only
        store = ResultCache(runner.cache_dir_for(db))
        store.store.clear()
        store.mark_running(partial[0]["track_id"])
        store.close()

    sent_before = server.count
    again = runner.run(items, levels(server), options(db))
    assert (again.computed, again.reused) == (200, 125)  # the level of 8, whole
    assert again.healed == (125 if cache == "killed" else 0)
    assert server.count - sent_before == 200
    level = rows(db, f"track_id = '{again.track_id}' AND params_concurrency = 8")
    assert len(level) == 200 and {r["level_complete"] for r in level} == {1}
    assert {r["cache"] for r in level} == {""} and len({r["level_run"] for r in level}) == 1
    # Any 200 requests in a row hold two 100th ones: the error rate of the new measurement.
    assert error_rates(again)[8] == (200, 2)
    assert sum(1 for r in level if r["error"]) == 2

    findings = {f.check: f for f in validation.validate(db)}
    assert findings["leaks"].status == "ok", findings["leaks"]
    assert findings["incomplete_levels"].status == "ok"
    assert f"{len(partial)} rows of 1 interrupted" in findings["incomplete_levels"].message
    # compare and the report read the interrupted run without its partial level
    (rows_a, _), (rows_b, _) = select(db, partial[0]["track_id"], again.track_id)
    assert sorted(set(rows_a["params_concurrency"])) == [1, 4] and len(rows_b) == 325
    connection = sql.connect(db)  # the report's and compare's SQL reads leave it out too
    run = report_data.run_frame(connection, partial[0]["track_id"])
    connection.close()
    assert sorted(set(run["params_concurrency"])) == [1, 4]
    assert len(list(Rows(db, partial[0]["track_id"]).stream())) == 2
    rerun = runner.run(items, levels(server), options(db))
    assert (rerun.computed, error_rates(rerun)) == (0, error_rates(again))


def test_a_level_topped_up_before_levels_were_units_is_measured_again_whole(
    tmp_path, items, server, capsys
):
    db = tmp_path / "bench.db"
    first = runner.run(items, levels(server, (4,)), options(db))
    assert error_rates(first) == {4: (100, 1)}
    # As an older version left it: rows without the mark, the failed request not cached.
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE predictions SET level_complete = NULL")
    failed = rows(db, "error != ''")[0]["cache_key"]
    store = ResultCache(runner.cache_dir_for(db))
    store.store.delete(failed)
    store.close()

    again = runner.run(items, levels(server, (4,)), options(db))
    assert (again.computed, again.reused) == (100, 0)  # not 1 request sent on its own
    assert "the cache held 99 of its 100 results" in capsys.readouterr().err
    assert {r["level_complete"] for r in rows(db, f"track_id = '{first.track_id}'")} == {0}
    assert error_rates(again) == {4: (100, 1)}  # requests 101..200: the 200th fails
    assert {f.check: f.status for f in validation.validate(db)}["leaks"] == "ok"
