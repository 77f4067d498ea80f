"""End-to-end tier, llm kind: a baked prompt benchmark passes its own tests, runs exactly once,
validates and reports offline; its real adapter works against an OpenAI-compatible server
started here, on 127.0.0.1 (retries, timeouts, error rows retried by the next run, the key
never stored); the README's "Looking at the results" commands work for this kind."""

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from helpers import bake, install_into, make, run
from results import (
    assert_rerun_reused_everything,
    db_rows,
    readme_mentions,
    report_images,
    run_counts,
    run_results_commands,
)

pytestmark = pytest.mark.e2e
MODULE = "llm_e2e"  # distinct: every e2e bake shares one environment
KEY = "sk-e2e-NEVER-STORED-4f1c9a"


@pytest.fixture(scope="module")
def project(tmp_path_factory, shared_python):
    project = bake(tmp_path_factory.mktemp("llm"), project_name="LLM E2E", benchmark_kind="llm")
    install_into(shared_python, project)
    return project


@pytest.fixture(scope="module")
def runs(project, venv):
    """`make run` twice on the offline default; the outputs."""
    return make(project, "run", venv), make(project, "run", venv)


def test_the_baked_project_passes_its_own_tests(project, venv):
    done = make(project, "test", venv)
    assert re.search(r"\b\d+ passed\b", done.stdout) and "failed" not in done.stdout


def test_run_then_rerun_computes_nothing_validates_and_reports(project, venv, runs):
    first, second = runs
    computed, reused = run_counts(first.stdout)
    assert computed == 240 * 8 and reused == 0
    assert run_counts(second.stdout) == (0, computed)
    db = project / "benchmark.db"
    assert_rerun_reused_everything(db)
    rows = db_rows(db, "predictions")
    assert all(r["error"] == "" and r["finish_reason"] in ("stop", "length") for r in rows)
    assert all(r["prompt"] and r["raw_response"] and r["total_tokens"] > 0 for r in rows)
    assert {r["finish_reason"] for r in rows} == {"stop", "length"}  # max_tokens cuts some
    assert any(r["retries"] for r in rows), "the stand-in's simulated 429s were not retried"
    assert "passed" in make(project, "validate", venv).stdout

    make(project, "report", venv)
    folder = project / "reports" / "baseline"
    text = (folder / "README.md").read_text()
    linked = report_images(folder)
    assert linked >= {"accuracy.png", "latency.png", "cost_vs_accuracy.png", "tokens.png"}
    for column in ("cost_per_correct", "tokens_mean", "error_rate_timeout", "exact_match"):
        assert column in text


def test_the_readme_results_commands_work(project, shared_python, runs):
    others = ("lexicon", "sentiment", "classification", "sklearn", "scikit", "load test")
    assert not readme_mentions(project, others), "the llm README mentions another kind"
    _, out = run_results_commands(project, shared_python)
    assert "cot-v1" in out and "accuracy" in out and "capitals" in out, out


class FakeOpenAI(BaseHTTPRequestHandler):
    """Chat completions by model name: "good" answers; "flaky" sends one 429 per request
    body, then answers; "down" answers 503 (echoing the Authorization header back), "slow"
    answers too late, until ``server.healthy`` is set."""

    def do_POST(self):  # noqa: N802 (http.server's name)
        state = self.server.state
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = json.loads(body)
        with state["lock"]:
            state["requests"].append((request, self.headers.get("Authorization")))
            count = len(state["requests"])
            first_try = body not in state["seen"]
            state["seen"].add(body)
        model, healthy = request["model"], state["healthy"]
        status, headers = 200, {}
        prompt = request["messages"][0]["content"]
        reply = {
            "id": f"chatcmpl-fake-{count}",
            "choices": [{"message": {"content": "Answer: 4"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": len(prompt.split()), "completion_tokens": 2},
        }
        if count > state["max_requests"]:
            status, reply = 500, {"error": {"message": "fake server: request budget spent"}}
        elif model == "flaky" and first_try:
            status, headers = 429, {"Retry-After": "0"}
            reply = {"error": {"message": "slow down"}}
        elif model == "down" and not healthy:
            auth = self.headers.get("Authorization")
            status, reply = 503, {"error": {"message": f"overloaded (got {auth})"}}
        elif model == "slow" and not healthy:
            time.sleep(2.5)  # past LLM_TIMEOUT: the client has given up
        data = json.dumps(reply).encode()
        try:
            self.send_response(status)
            for name, value in {**headers, "Content-Type": "application/json"}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client timed out and closed the connection

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # the default 5 resets connections of 8 concurrent workers


@pytest.fixture
def server():
    httpd = Server(("127.0.0.1", 0), FakeOpenAI)
    httpd.state = {
        "lock": threading.Lock(),
        "requests": [],
        "seen": set(),
        "healthy": False,
        "max_requests": 200,
    }
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    stop = threading.Timer(120, httpd.shutdown)  # never outlives a stuck test
    stop.start()
    yield httpd
    stop.cancel()
    httpd.shutdown()
    httpd.server_close()


def test_the_real_adapter_against_a_local_openai_compatible_server(
    project, shared_python, server, tmp_path
):
    db = tmp_path / "real.db"
    env = {
        "LLM_PROVIDER": "openai",
        "LLM_MODELS": "good,flaky,down,slow",
        "LLM_BASE_URL": f"http://127.0.0.1:{server.server_port}/v1",
        "LLM_API_KEY": KEY,
        "LLM_TIMEOUT": "1",  # generous: a loaded machine must not time out "good"
        "LLM_MAX_RETRIES": "1",
        "LLM_BACKOFF": "0.01",
    }
    command = [str(shared_python), "-m", MODULE, "run", "--db", str(db), "--limit", "2"]
    command += ["--no-progress", "--parallelism", "threads", "--workers", "8"]
    first = run(command, cwd=project, env=env)
    assert KEY not in first.stdout + first.stderr
    configs = 4 * 2 * 2  # models x prompts x temperatures
    assert run_counts(first.stdout) == (configs * 2, 0)
    rows = db_rows(db, "predictions")
    requests = server.state["requests"]
    assert {auth for _, auth in requests} == {f"Bearer {KEY}"}  # the key was sent ...

    by_model = {}
    for row in rows:
        by_model.setdefault(row["params_model"], []).append(row)
    for row in by_model["good"] + by_model["flaky"]:
        assert row["error"] == "" and row["prediction"] == "Answer: 4", row
        assert row["finish_reason"] == "stop" and row["completion_tokens"] == 2
        body = json.loads(row["raw_response"])
        assert body["id"].startswith("chatcmpl-fake-")
        sent = [r for r, _ in requests if r["messages"][0]["content"] == row["prompt"]]
        assert sent, "the row's prompt is not what was sent"
        assert row["prompt_tokens"] == len(row["prompt"].split())
        assert {r["max_tokens"] for r in sent} == {row["params_max_tokens"]}
        assert row["endpoint"] == f"http://127.0.0.1:{server.server_port}/v1/chat/completions"
        assert row["cost"] is None  # no price for these model names: unknown, not free
    assert {r["retries"] for r in by_model["good"]} == {0}
    assert {r["retries"] for r in by_model["flaky"]} == {1}  # one 429, then an answer
    for row in by_model["down"]:
        assert (row["error_type"], row["retries"]) == ("ServerError", 1)
        assert "503" in row["error"] and "[API key]" in row["raw_response"]
    for row in by_model["slow"]:
        assert (row["error_type"], row["retries"]) == ("RequestTimeout", 1)
    # ... and is nowhere in what the run kept: the db file, the cache, the rows.
    for path in [db, *(tmp_path / ".cache").rglob("*")]:
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path

    # The failures were not cached: the next run asks again, and only them.
    server.state["healthy"] = True
    failed = len(by_model["down"]) + len(by_model["slow"])
    second = run(command, cwd=project, env=env)
    assert run_counts(second.stdout) == (failed, configs * 2 - failed)
    latest = [r for r in db_rows(db, "predictions") if r["track_id"] != rows[0]["track_id"]]
    assert len(latest) == configs * 2 and all(r["error"] == "" for r in latest)
    script = [str(shared_python), "scripts/validate_benchmark.py", str(db), "predictions"]
    done = run(script, cwd=project)
    assert "validation passed" in done.stdout
    assert KEY.encode() not in db.read_bytes()
    assert len(server.state["requests"]) < server.state["max_requests"]
