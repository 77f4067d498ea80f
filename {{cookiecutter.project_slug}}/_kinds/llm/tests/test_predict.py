"""The seed's checklist for the single-execution function, with the offline stand-in."""

import json
import sqlite3

from {{ cookiecutter.module_name }}.data import Item, load_items
from {{ cookiecutter.module_name }}.harness import runner
from {{ cookiecutter.module_name }}.harness.tracking import run_metadata
from {{ cookiecutter.module_name }}.params import Params
from {{ cookiecutter.module_name }}.predict import predict
from {{ cookiecutter.module_name }}.prompts import TEMPLATES

REQUIRED = {
    "input_id",
    "prediction",
    "raw_response",
    "ground_truth",
    "latency",
    "error",
    "error_type",
    "prompt",
    "finish_reason",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cost",
    "retries",
}


def without_latency(row: dict) -> dict:
    return {k: v for k, v in row.items() if k != "latency"}


def test_returns_everything_needed(items):
    row = predict(items[0], Params())
    assert row.keys() >= REQUIRED
    assert row["input_id"] == items[0].input_id
    assert row["ground_truth"] == items[0].answer
    assert row["error"] == ""
    assert items[0].question in row["prompt"]
    assert row["finish_reason"] == "stop"
    assert row["total_tokens"] == row["prompt_tokens"] + row["completion_tokens"] > 0
    assert row["cost"] > 0


def test_the_raw_response_is_kept_as_received(items):
    row = predict(items[0], Params())
    body = json.loads(row["raw_response"])
    assert body["choices"][0]["message"]["content"] == row["prediction"]
    assert body["usage"]["completion_tokens"] == row["completion_tokens"]


def test_is_deterministic(items):
    params = Params(temperature=0.7)
    first = [without_latency(predict(item, params)) for item in items]
    second = [without_latency(predict(item, params)) for item in items]
    assert first == second


def test_is_stateless(items):
    params = Params()
    alone = without_latency(predict(items[0], params))
    for item in items[1:]:
        predict(item, Params(model="offline-large", prompt="cot-v1"))
    assert without_latency(predict(items[0], params)) == alone


def test_replies_depend_on_template_model_and_temperature():
    items = load_items(limit=60)

    def replies(params):
        return [predict(item, params)["prediction"] for item in items]

    base = replies(Params())
    assert replies(Params(prompt="cot-v1")) != base
    assert replies(Params(temperature=0.7)) != base
    assert replies(Params(model="offline-large")) != base
    assert set(TEMPLATES) >= {"direct-v1", "cot-v1"}


def test_max_tokens_cuts_long_replies():
    item = load_items(limit=1)[0]
    row = predict(item, Params(prompt="cot-v1", max_tokens=5))
    assert row["finish_reason"] == "length"
    assert row["completion_tokens"] == 5
    assert "Answer:" not in row["prediction"]


def test_failures_are_captured_as_data():
    row = predict(Item("broken", None, None), Params())
    assert row["error_type"] == "ValueError"
    assert "broken" in row["error"]
    assert row["prediction"] is None
    row = predict(Item("x", "What is 1 plus 1?", "2"), Params(prompt="missing-v1"))
    assert row["error_type"] == "KeyError"
    row = predict(Item("x", "What is 1 plus 1?", "2"), Params(model="no-such-model"))
    assert row["error_type"] == "APIError"
    assert "404" in row["error"] and row["raw_response"]
    assert row["cost"] == 0.0 and row["total_tokens"] == 0


def test_a_model_without_a_price_has_an_unknown_cost(monkeypatch):
    from {{ cookiecutter.module_name }} import predict as predict_module

    monkeypatch.delitem(predict_module.PRICES, "offline-small")
    row = predict(Item("x", "What is 1 plus 1?", "2"), Params())
    assert row["cost"] is None


def test_malformed_lines_become_items_without_a_question(tmp_path):
    data = tmp_path / "data.jsonl"
    data.write_text(
        '{"id": "a", "question": "What is 1 plus 1?", "answer": 2}\nnot json\n{"id": "c"}\n'
    )
    items = load_items(data)
    assert [i.input_id for i in items] == ["a", "line-2", "c"]
    assert [i.question for i in items] == ["What is 1 plus 1?", None, None]
    assert items[0].answer == "2"


METADATA = run_metadata("test", "experiment", "1", ("", False))


def query(db, sql):
    with sqlite3.connect(db) as connection:
        return connection.execute(sql).fetchall()


def test_a_bad_datapoint_is_an_error_row_and_the_run_goes_on(tmp_path, configurations):
    data = tmp_path / "data.jsonl"
    data.write_text('{"id": "a", "question": "What is 2 plus 2?", "answer": "4"}\n{"id": "b"}\n')
    db = tmp_path / "bench.db"
    options = runner.RunOptions(db=db, metadata=METADATA, progress=False)
    summary = runner.run(load_items(data), configurations, options)
    assert summary.computed == 2 * len(configurations)
    assert summary.failed == len(configurations)
    errors = query(db, "SELECT DISTINCT input_id, error_type FROM predictions WHERE error != ''")
    assert errors == [("b", "ValueError")]
    # Errors are not cached: the next run retries them, and only them.
    again = runner.run(load_items(data), configurations, options)
    assert (again.computed, again.reused) == (len(configurations), len(configurations))
