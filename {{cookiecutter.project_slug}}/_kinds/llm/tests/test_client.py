"""Retries with backoff, and the OpenAI-compatible adapter against a local stand-in server."""

import html
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

import pytest

from {{ cookiecutter.module_name }}.client import (
    APIError,
    OpenAIClient,
    RateLimited,
    RequestTimeout,
    RetryPolicy,
    ServerError,
    mask,
    with_retries,
)
from {{ cookiecutter.module_name }}.params import Params

KEY = "sk-test-0123456789-secret"
FAST = RetryPolicy(max_retries=2, backoff=0.001, max_backoff=0.01, timeout=0.2)


def failing(*errors):
    """A send() that raises ``errors`` in turn, then returns "ok"; ``calls`` counts calls."""
    calls = []

    def send():
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return "ok"

    return send, calls


def test_transient_errors_are_retried_with_growing_waits():
    waits = []
    send, calls = failing(RateLimited("429"), ServerError("503"))
    policy = RetryPolicy(max_retries=3, backoff=0.5, max_backoff=30, jitter=0)
    assert with_retries(send, policy, sleep=waits.append) == ("ok", 2)
    assert waits == [0.5, 1.0] and len(calls) == 3


def test_waits_are_jittered_within_their_bounds():
    policy = RetryPolicy(backoff=2, max_backoff=30, jitter=0.5)
    assert policy.wait(1, rand=lambda: 0.0) == 4  # no jitter drawn: the full backoff
    assert policy.wait(1, rand=lambda: 1.0) == 2  # the most jitter: half of it
    assert policy.wait(1, retry_after=7, rand=lambda: 1.0) == 7  # Retry-After is a floor
    waits = {policy.wait(3) for _ in range(50)}
    assert len(waits) > 1 and all(8 <= wait <= 16 for wait in waits)  # workers do not align


def test_retry_after_is_honoured_up_to_the_cap():
    waits = []
    send, _ = failing(RateLimited("429", retry_after=7), RateLimited("429", retry_after=99))
    policy = RetryPolicy(max_retries=3, backoff=0.5, max_backoff=30)
    with_retries(send, policy, sleep=waits.append)
    assert waits == [7, 30]


def test_giving_up_raises_the_last_error_with_its_retry_count():
    send, calls = failing(*[RequestTimeout("slow")] * 5)
    with pytest.raises(RequestTimeout) as caught:
        with_retries(send, FAST, sleep=lambda _: None)
    assert caught.value.retries == FAST.max_retries and len(calls) == FAST.max_retries + 1


def test_other_errors_are_not_retried():
    send, calls = failing(APIError("HTTP 401"))
    with pytest.raises(APIError) as caught:
        with_retries(send, FAST, sleep=lambda _: None)
    assert caught.value.retries == 0 and len(calls) == 1


class Server(BaseHTTPRequestHandler):
    """Answers per the model name: "ok", "flaky" (one 429 first), "down" (503), "slow",
    "denied" (401, echoing the key back)."""

    calls: dict = {}
    connections: set = set()  # client ports: one per TCP connection
    protocol_version = "HTTP/1.1"  # keep-alive, as real endpoints answer

    def do_POST(self):  # noqa: N802 (http.server's name)
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        model = request["model"]
        Server.calls[model] = Server.calls.get(model, 0) + 1
        Server.connections.add(self.client_address[1])
        choice = {"message": {"content": "Answer: 4"}, "finish_reason": "stop"}
        usage = {"prompt_tokens": 11, "completion_tokens": 3}
        status, body = 200, {"choices": [choice], "usage": usage}
        if model == "flaky" and Server.calls[model] == 1 or model == "down":
            status, body = (429 if model == "flaky" else 503), {"error": {"message": "busy"}}
        elif model == "slow":
            time.sleep(0.5)
        elif model == "echo":  # the key echoed back: as is, JSON-escaped, URL, HTML
            entities = "".join(f"&#{ord(c)};" for c in KEY)
            choice["message"]["content"] = f"key: {KEY} ESCAPED {quote(KEY, safe='')} {entities}"
        elif model == "denied":
            status, body = 401, {"error": {"message": f"bad key {self.headers['Authorization']}"}}
        escaped = "".join(f"\\u{ord(c):04x}" for c in KEY)  # decodes to the key itself
        data = json.dumps(body).replace("ESCAPED", escaped).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def client():
    Server.calls, Server.connections = {}, set()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Server)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield OpenAIClient(f"http://127.0.0.1:{server.server_port}/v1", api_key=KEY, policy=FAST)
    server.shutdown()
    server.server_close()


def test_a_completion_carries_text_tokens_and_the_raw_body(client):
    reply = client.complete("What is 2 plus 2?", Params(provider="openai", model="ok"))
    assert (reply.text, reply.finish_reason, reply.retries) == ("Answer: 4", "stop", 0)
    assert (reply.prompt_tokens, reply.completion_tokens) == (11, 3)
    assert json.loads(reply.raw_response)["usage"]["prompt_tokens"] == 11
    assert reply.endpoint.endswith("/v1/chat/completions") and KEY not in repr(client)


def test_a_rate_limit_is_retried(client):
    reply = client.complete("q", Params(provider="openai", model="flaky"))
    assert reply.retries == 1 and Server.calls["flaky"] == 2


def test_persistent_failures_and_timeouts_give_up_after_the_retries(client):
    with pytest.raises(ServerError) as caught:
        client.complete("q", Params(provider="openai", model="down"))
    assert caught.value.retries == 2 and Server.calls["down"] == 3
    client.policy = RetryPolicy(max_retries=1, backoff=0.001, timeout=0.1)
    with pytest.raises(RequestTimeout) as caught:
        client.complete("q", Params(provider="openai", model="slow"))
    assert caught.value.retries == 1 and Server.calls["slow"] == 2


def test_the_key_is_masked_in_what_a_server_sends_back(client):
    with pytest.raises(APIError) as caught:
        client.complete("q", Params(provider="openai", model="denied"))
    assert caught.value.retries == 0
    assert KEY not in caught.value.raw_response + str(caught.value)
    assert "[API key]" in caught.value.raw_response


def test_the_key_is_masked_in_any_encoding_after_decoding(client):
    reply = client.complete("q", Params(provider="openai", model="echo"))
    decoded = json.loads(reply.raw_response)  # what a reader of the stored body would see
    for text in (reply.raw_response, reply.text, json.dumps(decoded, ensure_ascii=False)):
        assert KEY not in text and quote(KEY, safe="") not in text, text
        assert KEY not in html.unescape(text) and "\\u" not in text, text
    assert reply.text.count("[API key]") == 4


def test_mask_finds_the_key_mixed_across_encodings():
    mixed = "sk" + "".join(f"\\u{ord(c):04x}" for c in KEY[2:5]) + quote(KEY[5:], safe="")
    assert KEY.startswith("sk") and mask(f"[{mixed}]", (KEY,)) == "[[API key]]"
    assert mask("nothing secret", (KEY,)) == "nothing secret" and mask("x", ("",)) == "x"


def test_predict_masks_the_key_in_every_text_field_of_its_row(client, monkeypatch):
    from {{ cookiecutter.module_name }}.data import Item
    from {{ cookiecutter.module_name }}.predict import predict

    monkeypatch.setenv("LLM_BASE_URL", client.url.removesuffix("/chat/completions"))
    monkeypatch.setenv("LLM_API_KEY", KEY)
    item = Item(input_id="q1", question=f"Repeat {KEY}", answer="4")
    row = predict(item, Params(provider="openai", model="echo"))
    assert row["error"] == "" and row["prediction"].count("[API key]") == 4
    texts = [value for value in row.values() if isinstance(value, str)]
    assert "[API key]" in row["prompt"]
    assert not [text for text in texts if KEY in text or KEY in html.unescape(text)]


def test_requests_reuse_one_connection_and_its_setup_is_not_latency(client):
    replies = [client.complete("q", Params(provider="openai", model="ok")) for _ in range(5)]
    assert Server.calls["ok"] == 5 and len(Server.connections) == 1  # keep-alive
    assert replies[0].connect_seconds > 0  # the first request opened the connection ...
    assert {reply.connect_seconds for reply in replies[1:]} == {0.0}  # ... the others reused it
