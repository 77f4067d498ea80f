"""The seed's checklist for the single-execution function, and the train/test split."""

import dataclasses
import json
import sqlite3

import pytest

from {{ cookiecutter.module_name }}.data import SPLIT_SEED, TEST_FRACTION, load_items, split
from {{ cookiecutter.module_name }}.harness import runner
from {{ cookiecutter.module_name }}.harness.errors import DataError
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
    assert row.keys() >= REQUIRED | {"model_key", "model_file", "fit_seconds"}
    assert row["input_id"] == items[0].input_id
    assert row["ground_truth"] == items[0].label
    assert row["error"] == "" and row["fit_seconds"] > 0 and row["latency"] > 0


def test_keeps_the_class_probabilities_as_raw_output(items):
    for item in items:
        row = predict(item, Params(model="random_forest", n_estimators=10))
        probabilities = json.loads(row["raw_response"])
        assert set(probabilities) == set(split(item.dataset, SPLIT_SEED, TEST_FRACTION).y_train)
        assert sum(probabilities.values()) == pytest.approx(1.0)
        assert row["prediction"] == max(probabilities, key=probabilities.get)


def test_is_deterministic(items):
    params = Params()
    first = [without_latency(predict(item, params)) for item in items]
    second = [without_latency(predict(item, params)) for item in items]
    assert first == second


def test_is_stateless(items):
    params = Params()
    alone = without_latency(predict(items[0], params))
    for item in items[1:]:
        predict(item, Params(model="knn", n_neighbors=1))
    assert without_latency(predict(items[0], params)) == alone


def test_returns_no_model_object(items):
    row = predict(items[0], Params())
    assert all(value is None or isinstance(value, (str, int, float)) for value in row.values())


def test_failures_are_captured_as_data(items):
    short = dataclasses.replace(items[0], features=(1.0, 2.0))
    row = predict(short, Params())
    assert row["error_type"] == "ValueError" and "features" in row["error"]
    assert row["prediction"] is None
    row = predict(items[0], Params(model="svm"))
    assert row["error_type"] == "ValueError" and "unknown model" in row["error"]
    changed = dataclasses.replace(items[0], train_digest="0" * 64)
    assert "training rows" in predict(changed, Params())["error"]


def test_the_split_is_fixed_by_its_seed_and_recorded_on_every_item():
    items = load_items()
    data = split(items[0].dataset, SPLIT_SEED, TEST_FRACTION)
    assert len(items) == len(data.y_test) and len({i.input_id for i in items}) == len(items)
    assert load_items() == items  # same seed, same split
    assert {(i.dataset, i.split_seed, i.test_fraction, i.train_digest) for i in items} == {
        (items[0].dataset, SPLIT_SEED, TEST_FRACTION, data.digest)
    }
    train = {tuple(row) for row in data.X_train}
    assert not any(item.features in train for item in items)  # nothing leaks into training
    other = split(items[0].dataset, SPLIT_SEED + 1, TEST_FRACTION)
    assert other.digest != data.digest
    assert load_items(limit=5) == items[:5]


def test_a_csv_file_replaces_the_bundled_dataset(tmp_path):
    data = tmp_path / "points.csv"
    lines = ["x,y,label"] + [f"{i},{i % 3},{'big' if i >= 10 else 'small'}" for i in range(20)]
    data.write_text("\n".join(lines) + "\n")
    items = load_items(data)
    assert len(items) == 6 and {i.label for i in items} <= {"big", "small"}
    row = predict(items[0], Params())
    assert row["error"] == "" and row["prediction"] in {"big", "small"}


def test_a_csv_file_with_a_bom_bad_bytes_or_no_rows(tmp_path):
    lines = ["x,y,label"] + [f"{i},{i % 3},{'big' if i >= 10 else 'small'}" for i in range(20)]
    plain, bom = tmp_path / "plain.csv", tmp_path / "bom.csv"
    plain.write_text("\n".join(lines) + "\n")
    bom.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    assert [i.features for i in load_items(bom)] == [i.features for i in load_items(plain)]
    bad = tmp_path / "bad.csv"
    bad.write_bytes(plain.read_bytes().replace(b"5,2,small", b"5,2,sm\xe9ll"))
    with pytest.raises(DataError, match=r"bad.csv, line 7: not UTF-8"):
        load_items(bad)
    empty = tmp_path / "empty.csv"
    empty.write_text("x,y,label\n")
    with pytest.raises(DataError, match=r"empty.csv: no rows"):
        load_items(empty)


METADATA = run_metadata("test", "experiment", "1", ("", False))


def query(db, sql):
    with sqlite3.connect(db) as connection:
        return connection.execute(sql).fetchall()


def test_a_bad_datapoint_is_an_error_row_and_the_run_goes_on(tmp_path, items, configurations):
    broken = dataclasses.replace(items[1], input_id="broken", features=(1.0,))
    db = tmp_path / "bench.db"
    options = runner.RunOptions(db=db, metadata=METADATA, progress=False)
    summary = runner.run([items[0], broken], configurations, options)
    assert summary.computed == 2 * len(configurations)
    assert summary.failed == len(configurations)
    errors = query(db, "SELECT DISTINCT input_id, error_type FROM predictions WHERE error != ''")
    assert errors == [("broken", "ValueError")]
    # Errors are not cached: the next run retries them, and only them.
    again = runner.run([items[0], broken], configurations, options)
    assert (again.computed, again.reused) == (len(configurations), len(configurations))
