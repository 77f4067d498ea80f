"""predict sends one request: the local stand-in, and the HTTP adapter against a server on
127.0.0.1 started here (bounded, stopped by the test or after 60 s at the latest)."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from {{ cookiecutter.module_name }}.data import Item, load_items
from {{ cookiecutter.module_name }}.params import Params
from {{ cookiecutter.module_name }}.predict import predict

FIELDS = {"input_id", "prediction", "raw_response", "ground_truth", "latency", "error"}
FIELDS |= {"error_type", "status", "started_at", "finished_at", "endpoint", "response_bytes"}


def test_the_local_target_answers_deterministically():
    item = load_items(limit=1)[0]
    params = Params(sleep_ms=5)
    before = time.time()
    row = predict(item, params)
    assert set(row) >= FIELDS
    assert (row["error"], row["status"], row["endpoint"]) == ("", 200, "local")
    assert json.loads(row["raw_response"])["payload_bytes"] == len(item.payload)
    assert row["response_bytes"] == len(row["raw_response"])
    assert row["latency"] >= 0.005
    assert before <= row["started_at"] < row["finished_at"] <= time.time()
    assert row["finished_at"] - row["started_at"] == pytest.approx(row["latency"], abs=1e-5)
    assert predict(item, params)["prediction"] == row["prediction"]
    other = predict(item, Params(sleep_ms=0, cpu_rounds=7))["prediction"]
    assert other != row["prediction"]  # the CPU work shows in the answer


def test_a_request_without_payload_is_an_error_row_not_a_crash():
    row = predict(Item(input_id="bad", payload=None), Params(sleep_ms=0))
    assert row["error_type"] == "ValueError" and "no payload" in row["error"]
    assert row["status"] is None and row["started_at"] <= row["finished_at"]


class Service(BaseHTTPRequestHandler):
    """/ok echoes the body's length; /busy answers 503; /slow answers after 0.5 s."""

    protocol_version = "HTTP/1.1"  # keep-alive, as real services answer

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.seen.append((self.path, body, self.headers["Content-Type"]))
        self.server.connections.add(self.client_address[1])  # one client port per connection
        if self.path.startswith("/slow"):
            time.sleep(0.5)
        status = 503 if self.path.startswith("/busy") else 200
        data = json.dumps({"received": len(body)}).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client gave up (timeout) and closed the connection

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Service)
    httpd.daemon_threads = True
    httpd.seen, httpd.connections = [], set()
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    stop = threading.Timer(60, httpd.shutdown)  # never outlives a stuck test
    stop.start()
    yield f"http://127.0.0.1:{httpd.server_port}", httpd
    stop.cancel()
    httpd.shutdown()
    httpd.server_close()


def test_the_http_adapter_posts_the_payload(server, monkeypatch):
    # A proxy in between would be measured too: environment proxies are not used.
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    base, httpd = server
    item = Item(input_id="r1", payload='{"q": "stock"}')
    row = predict(item, Params(target="http", url=f"{base}/ok?token=secret"))
    assert (row["error"], row["status"]) == ("", 200)
    assert json.loads(row["raw_response"]) == {"received": len(item.payload)}
    assert row["endpoint"] == f"{base}/ok"  # no query string: it may hold a secret
    assert httpd.seen == [("/ok?token=secret", item.payload.encode(), "application/json")]


def test_http_failures_are_error_rows_with_their_status(server):
    base, _ = server
    item = Item(input_id="r1", payload="{}")
    busy = predict(item, Params(target="http", url=f"{base}/busy"))
    assert (busy["error_type"], busy["status"]) == ("HTTPStatusError", 503)
    assert "503" in busy["error"] and json.loads(busy["raw_response"]) == {"received": 2}
    slow = predict(item, Params(target="http", url=f"{base}/slow", timeout=0.1))
    assert (slow["error_type"], slow["status"]) == ("Timeout", None)
    assert 0.1 <= slow["latency"] < 0.45
    closed = predict(item, Params(target="http", url="http://127.0.0.1:9/", timeout=1.0))
    assert closed["error_type"] == "ConnectionFailed" and closed["status"] is None


def test_requests_of_a_thread_share_one_connection(server):
    base, httpd = server
    item = Item(input_id="r1", payload="{}")
    rows = [predict(item, Params(target="http", url=f"{base}/ok")) for _ in range(5)]
    assert {row["status"] for row in rows} == {200} and len(httpd.seen) == 5
    assert len(httpd.connections) == 1  # keep-alive: no handshake per request
