"""Fitted models: one fit per configuration, kept as a file, reused in every process."""

import os
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from {{ cookiecutter.module_name }} import models
from {{ cookiecutter.module_name }}.data import SPLIT_SEED, TEST_FRACTION, split
from {{ cookiecutter.module_name }}.harness import runner
from {{ cookiecutter.module_name }}.harness.tracking import run_metadata
from {{ cookiecutter.module_name }}.params import Params, grid
from {{ cookiecutter.module_name }}.predict import predict


@pytest.fixture
def fits(monkeypatch):
    """The params of every fit, in order (build() is called once per fit)."""
    calls = []
    build = models.build

    def counting_build(params):
        calls.append(params)
        return build(params)

    monkeypatch.setattr(models, "build", counting_build)
    return calls


def file_stats(folder):
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.glob("*.joblib")}


def test_each_configuration_is_fit_once_and_kept_as_a_file(items, models_dir, fits):
    configurations = grid()[:3]
    rows = [predict(item, params) for params in configurations for item in items]
    assert fits == configurations
    assert len(file_stats(models_dir)) == len(configurations)
    assert not list(models_dir.glob("*.tmp"))  # written atomically: no leftovers
    for row in rows:
        assert row["error"] == ""
        assert os.path.dirname(row["model_file"]) == str(models_dir)
        assert os.path.basename(row["model_file"]) == f"{row['model_key'][:16]}.joblib"
    assert len({(r["model_key"], r["fit_seconds"]) for r in rows}) == len(configurations)


def test_the_file_is_reused_not_refit(items, models_dir, fits):
    first = predict(items[0], Params())
    before = file_stats(models_dir)
    models._loaded.clear()  # as in a new process: only the file remains
    again = predict(items[0], Params())
    assert len(fits) == 1 and file_stats(models_dir) == before
    assert again == {**first, "latency": again["latency"]}


def test_a_new_process_loads_the_model_instead_of_fitting(items, models_dir):
    predict(items[0], Params())
    before = file_stats(models_dir)
    code = (
        "from {{ cookiecutter.module_name }} import data, models, predict\n"
        "from {{ cookiecutter.module_name }}.params import Params\n"
        "fits = []\n"
        "build = models.build\n"
        "models.build = lambda params: fits.append(params) or build(params)\n"
        "row = predict.predict(data.load_items(limit=1)[0], Params())\n"
        "print(len(fits), row['error'] or row['model_file'])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    )
    assert done.stdout.split() == ["0", str(next(models_dir.glob("*.joblib")))]
    assert file_stats(models_dir) == before


def test_parallel_workers_fit_a_configuration_once(items, models_dir, fits):
    params = Params(model="random_forest", n_estimators=10)
    with ThreadPoolExecutor(max_workers=4) as pool:
        rows = list(pool.map(lambda item: predict(item, params), items))
    assert fits == [params]
    assert {row["model_key"] for row in rows} == {models.fit_key(params, items[0].train_digest)}


def test_the_key_covers_the_fit_version_params_and_training_rows(items):
    digest = split(items[0].dataset, SPLIT_SEED, TEST_FRACTION).digest
    other_split = split(items[0].dataset, SPLIT_SEED + 1, TEST_FRACTION).digest
    key = models.fit_key(Params(), digest)
    assert key == models.fit_key(Params(), digest)
    assert key != models.fit_key(Params(C=2.0), digest)
    assert key != models.fit_key(Params(), other_split)


def test_a_rerun_fits_nothing_and_rows_hold_no_model(tmp_path, items, models_dir, fits):
    metadata = run_metadata("test", "experiment", "1", ("", False))
    options = runner.RunOptions(
        db=tmp_path / "bench.db", metadata=metadata, parallelism="none", progress=False
    )  # in this process, where fits are counted
    configurations = grid()
    first = runner.run(items, configurations, options)
    assert len(fits) == len(configurations) and first.failed == 0
    before = file_stats(models_dir)
    models._loaded.clear()
    second = runner.run(items, configurations, options)
    assert (second.computed, len(fits), file_stats(models_dir)) == (0, len(configurations), before)
    assert all(m["fit_seconds"] > 0 for m in first.metrics)
    with sqlite3.connect(options.db) as connection:
        columns = [row[1] for row in connection.execute("PRAGMA table_info(predictions)")]
        types = {
            kind
            for column in columns
            for (kind,) in connection.execute(f"SELECT DISTINCT typeof({column}) FROM predictions")
        }
        files = connection.execute("SELECT DISTINCT model_file FROM predictions").fetchall()
    assert types <= {"text", "integer", "real", "null"}  # no pickled objects in rows
    assert sorted(os.path.basename(f) for (f,) in files) == sorted(before)
