"""The seed's checklist for the single-execution function."""

import json
import sqlite3

from {{ cookiecutter.module_name }}.data import Item, load_items
from {{ cookiecutter.module_name }}.harness import runner
from {{ cookiecutter.module_name }}.harness.tracking import run_metadata
from {{ cookiecutter.module_name }}.params import Params
from {{ cookiecutter.module_name }}.predict import predict

REQUIRED = {
    "input_id",
    "prediction",
    "raw_response",
    "ground_truth",
    "latency",
    "error",
    "error_type",
}


def without_latency(row: dict) -> dict:
    return {k: v for k, v in row.items() if k != "latency"}


def test_returns_everything_needed(items):
    row = predict(items[0], Params())
    assert row.keys() >= REQUIRED
    assert row["input_id"] == items[0].input_id
    assert row["ground_truth"] == items[0].label
    assert row["error"] == ""


def test_is_deterministic(items):
    params = Params()
    first = [without_latency(predict(item, params)) for item in items]
    second = [without_latency(predict(item, params)) for item in items]
    assert first == second


def test_is_stateless(items):
    params = Params()
    alone = without_latency(predict(items[0], params))
    for item in items[1:]:
        predict(item, Params(lexicon="extended", negation=False))
    assert without_latency(predict(items[0], params)) == alone


def test_saves_the_raw_output():
    row = predict(Item("x", "The film was not great.", "negative"), Params())
    raw = json.loads(row["raw_response"])
    assert raw == {"score": -1, "hits": ["not great"]}
    assert row["prediction"] == "negative"


def test_failures_are_captured_as_data():
    row = predict(Item("broken", None, None), Params())
    assert row["error_type"] == "ValueError"
    assert "broken" in row["error"]
    assert row["prediction"] is None
    row = predict(Item("x", "fine", None), Params(lexicon="missing"))
    assert row["error_type"] == "KeyError"


def test_malformed_lines_become_items_without_text(tmp_path):
    data = tmp_path / "data.jsonl"
    data.write_text(
        '{"id": "a", "text": "great", "label": "positive"}\nnot json\n{"id": "c", "text": 3}\n'
    )
    items = load_items(data)
    assert [i.input_id for i in items] == ["a", "line-2", "c"]
    assert [i.text for i in items] == ["great", None, None]


METADATA = run_metadata("test", "experiment", "1", ("", False))


def query(db, sql):
    with sqlite3.connect(db) as connection:
        return connection.execute(sql).fetchall()


def test_a_bad_datapoint_is_an_error_row_and_the_run_goes_on(tmp_path, configurations):
    data = tmp_path / "data.jsonl"
    data.write_text('{"id": "a", "text": "great", "label": "positive"}\n{"id": "b"}\n')
    db = tmp_path / "bench.db"
    summary = runner.run(
        load_items(data),
        configurations,
        runner.RunOptions(db=db, metadata=METADATA, progress=False),
    )
    assert summary.computed == 2 * len(configurations)
    assert summary.failed == len(configurations)
    errors = query(db, "SELECT DISTINCT input_id, error_type FROM predictions WHERE error != ''")
    assert errors == [("b", "ValueError")]
    # Errors are not cached: the next run retries them, and only them.
    again = runner.run(
        load_items(data),
        configurations,
        runner.RunOptions(db=db, metadata=METADATA, progress=False),
    )
    assert (again.computed, again.reused) == (len(configurations), len(configurations))
