"""validate, the cache analysis and the report compute their aggregates in SQL: each one equals
the same aggregate computed by pandas over the whole table (read_table), on one db with two runs,
cache hits, failures, a leaked computation and a NULL params value."""

import math
import sqlite3
from contextlib import closing

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.module_name }}.harness import (
    cache_report,
    integrity,
    report_data,
    row_pass,
    runner,
    sql,
)
from {{ cookiecutter.module_name }}.harness import validation as v
from {{ cookiecutter.module_name }}.harness.compare.runs import runs as pandas_runs
from {{ cookiecutter.module_name }}.harness.identity import result_digest
from {{ cookiecutter.module_name }}.harness.kind import summarize
from {{ cookiecutter.module_name }}.harness.lineage import check_lineage
from {{ cookiecutter.module_name }}.harness.report_stats import per_class_section
from {{ cookiecutter.module_name }}.harness.row_pass import check_edited, digests
from {{ cookiecutter.module_name }}.harness.tracking import (
    is_result_column,
    read_table,
    run_metadata,
)


@pytest.fixture
def db(tmp_path, items, configurations):
    """Two runs (the second served from the cache), then edits only SQL would make: failures,
    a hit turned into a second computation (a leak), a NULL params value."""
    path = tmp_path / "bench.db"
    metadata = run_metadata("test", "experiment", "1", ("", False))
    options = runner.RunOptions(db=path, metadata=metadata, parallelism="none", progress=False)
    runner.run(items, configurations, options)
    second = runner.run(items, configurations, options).track_id
    with sqlite3.connect(path) as connection:
        rowids = [
            r
            for (r,) in connection.execute(
                "SELECT rowid FROM predictions WHERE track_id = ? ORDER BY timestamp", (second,)
            )
        ]
        connection.execute(
            "UPDATE predictions SET error = 'boom', error_type = CASE WHEN rowid = ? "
            "THEN 'Other' ELSE 'Boom' END WHERE rowid IN (?, ?, ?)",
            (rowids[2], *rowids[:3]),
        )
        connection.execute("UPDATE predictions SET cache = '' WHERE rowid = ?", (rowids[5],))
        params = sql.params_columns(sql.columns(connection, "predictions"))[0]
        connection.execute(f"UPDATE predictions SET {params} = NULL WHERE rowid = ?", (rowids[7],))
    return path


@pytest.fixture
def frame(db):
    return read_table(db, "predictions")


def table(db):
    return v.Table(sql.connect(db), "predictions")


def blank(series):
    return series.fillna("") == ""


def test_validation_counts_equal_pandas(db, frame):
    found = table(db)
    latest = frame.sort_values("timestamp")["track_id"].iloc[-1]
    assert found.latest == latest
    computed = frame[blank(frame["cache"]) & blank(frame["error"])]
    sizes = computed.groupby("cache_key", dropna=False).size()
    leaks = v.check_leaks(found)
    assert leaks.status == v.FAIL  # the edited hit ran its computation a second time
    assert leaks.message.startswith(f"{int((sizes > 1).sum())} computations ran more than once")
    assert leaks.details["examples"] == [str(k) for k in sizes[sizes > 1].index[:5]]
    assert v.check_duplicates(found).status == v.OK
    nulls = v.check_null_params(found).details["nulls"]
    params = sorted(c for c in frame.columns if c.startswith("params_"))
    assert nulls == {c: int(n) for c, n in frame[params].isna().sum().items() if n}
    run = frame[frame["track_id"] == latest]
    errors = run[~blank(run["error"])]
    failures = v.check_failures(found, 0.2).details
    assert (failures["failed"], failures["rows"]) == (len(errors), len(run))
    assert failures["top_error_types"] == errors["error_type"].value_counts().head(5).to_dict()
    hits = int((~blank(frame["cache"])).sum())
    cache = v.check_cache(found).message
    assert cache.startswith(f"{hits}/{len(frame)} rows served from the cache")
    assert f"over {frame['track_id'].nunique()} runs" in cache
    assert v.check_metrics(found).status == v.OK


def test_row_checks_equal_pandas(db, frame):
    found = table(db)
    latest = frame.sort_values("timestamp")["track_id"].iloc[-1]
    run = frame[frame["track_id"] == latest]
    counts = integrity.row_counts(found, [latest])
    sizes = run.groupby(["track_id", "config_id"]).size()
    assert dict(counts) == {key: int(n) for key, n in sizes.items()}
    results = [c for c in frame.columns if is_result_column(c)]
    for config_id, rows in run.groupby("config_id"):
        records = rows[results].astype(object).to_dict("records")
        expected = [{k: x for k, x in r.items() if plain(x) is not None} for r in records]
        assert integrity.configuration_results(found, latest, config_id) == expected
    digest = digests(results)
    with closing(sqlite3.connect(db)) as connection:
        stored = connection.execute(f"SELECT {', '.join(results)} FROM predictions").fetchall()
    assert [digest(values) for values in stored] == [
        result_digest(dict(zip(results, values, strict=True))) for values in stored
    ]
    edited = check_edited(found, [latest])  # the three failures changed their rows
    assert edited.status == v.FAIL and edited.details["rows"] == 3
    hits = {f.check: f for f in check_lineage(found, [latest])}
    assert hits["lineage"].details["rows"] == 3  # the failed hits no longer equal their source


def test_one_row_pass_equals_pandas(db, frame):
    """row_pass.read (validate's one read of the checked runs) gives what the per-check SQL and
    pandas give: rows per configuration, hits, first rows, kept results, summarize."""
    found = table(db)
    scopes = [[found.latest], integrity.runs_in_scope(found, all_runs=True)]
    results = [c for c in frame.columns if is_result_column(c)]
    for scope in scopes:
        run = frame[frame["track_id"].isin(scope)]
        rows = row_pass.read(found, scope, results)
        sizes = run.groupby(["track_id", "config_id"]).size()
        assert rows.counts == {key: int(n) for key, n in sizes.items()}
        assert rows.counts == dict(integrity.row_counts(found, scope))
        assert rows.hits == int((~blank(run["cache"])).sum())
        grouped = [
            {k: x for k, x in r.items() if k != "MIN(timestamp)"}
            for r in integrity.first_rows(found, scope)
        ]
        assert rows.first_rows() == grouped
        assert len(grouped) == len(run.drop_duplicates(["config_id", *sql.params_columns(run)]))
        for track_id, config_id in sizes.index:
            kept = rows.results((track_id, config_id))
            assert kept == integrity.configuration_results(found, track_id, config_id)
            assert summarize(kept) == summarize(
                integrity.configuration_results(found, track_id, config_id)
            )
        assert (rows.checked, rows.edited) == (
            int((~blank(run["row_digest"])).sum()),
            3 if found.latest in scope else 0,  # the three failures changed their rows
        )
    kept = row_pass.read(found, scopes[0], ["latency", "no_such_column"])
    assert kept.names == ["latency"] and set(kept.kept) == set(kept.counts)


def test_table_totals_equal_pandas(db, frame):
    """table_pass: the whole-table pass and the identity grouping equal pandas; a row logged
    twice in a run and a dev run's row are found (the checks' slower exact paths)."""
    found = table(db)
    totals = found.totals
    done = blank(frame["cache"]) & blank(frame["error"])
    latest = frame[frame["track_id"] == found.latest]
    assert (totals["rows"], totals["computed"], totals["hits"]) == (
        len(frame),
        int(done.sum()),
        int((~blank(frame["cache"])).sum()),
    )
    params = sql.params_columns(frame.columns)
    assert totals["nulls"] == {c: int(frame[c].isna().sum()) for c in params}
    assert (totals["latest_rows"], totals["latest_failed"]) == (
        len(latest),
        int((~blank(latest["error"])).sum()),
    )
    assert (totals["phase_min"], totals["phase_max"], totals["phased"]) == (
        "experiment",
        "experiment",
        len(frame),
    )
    sizes = frame[done].groupby("cache_key").size()
    leaked, extra, examples, twice = found.repeats
    assert (leaked, extra, examples) == (
        int((sizes > 1).sum()),
        int((sizes[sizes > 1] - 1).sum()),
        list(sizes[sizes > 1].index[:5]),
    )
    assert not twice
    with sqlite3.connect(db) as connection:  # one row logged twice, one row of a dev run
        names = sql.columns(connection, "predictions")
        copied = ", ".join(f'"{c}"' if c != "timestamp" else "timestamp || '9'" for c in names)
        connection.execute(
            f"INSERT INTO predictions SELECT {copied} FROM predictions WHERE track_id = ? "
            "ORDER BY timestamp LIMIT 1",
            (found.latest,),
        )
        connection.execute(
            "UPDATE predictions SET phase = 'dev' "
            "WHERE rowid = (SELECT MIN(rowid) FROM predictions)"
        )
    connection.close()
    frame = read_table(db, "predictions")
    found = table(db)
    twice = frame.groupby(["track_id", "cache_key"]).size()
    duplicates = v.check_duplicates(found)
    assert duplicates.status == v.FAIL and found.repeats[3]
    assert duplicates.message.startswith(f"{int((twice > 1).sum())} datapoints appear more than")
    phases = integrity.check_phases(found)
    assert phases.status == v.FAIL
    assert phases.details["phases"] == frame["phase"].value_counts().to_dict()


def test_validate_equals_its_checks_one_by_one(db):
    """validate reads the whole table in a thread beside the row checks: the findings are those
    of each check run on its own, in the same order."""
    found = table(db)
    alone = [
        v.check_leaks(found),
        v.check_duplicates(found),
        v.check_null_params(found),
        v.check_failures(found, v.MAX_ERROR_RATE),
        v.check_cache(found),
        v.check_metrics(found),
        v.check_drift(db, found),
        *integrity.check_rows(found, False, v.MAX_ERROR_RATE),
    ]
    assert v.FAIL in {f.status for f in alone}  # the fixture's leak, failures and edits
    assert v.validate(db)[: len(alone)] == alone


@pytest.mark.parametrize(
    "value",
    [
        3.0,
        -0.0,
        1e-05,
        0.1 + 0.2,
        1e20,
        2.5e-300,
        float("inf"),
        -float("inf"),
        float("nan"),
        True,
        0,
        -7,
        2**62,
        "1e3",
        " 12 ",
        "nan",
        "caf\u00e9 \u2713",
        'a"b\\c\n',
        "",
        b"\x00\xff",
        None,
    ],
)
def test_digests_equal_result_digest(value):
    """row_pass.digests, validate's fast digest, gives result_digest's text for every kind of
    value SQLite hands back (and NaN/None are left out), column order and repeats aside."""
    digest = row_pass.digests(["z", "a", "m"])
    for values in [(value, 1.5, "x"), ("x", value, None), (value, value, value)] * 2:
        assert digest(values) == result_digest(dict(zip(["z", "a", "m"], values, strict=True)))


def test_cache_analysis_equals_pandas(db, frame):
    stats = cache_report.analyze(db)
    hit = ~blank(frame["cache"])
    assert (stats["total"], stats["hits"]) == (len(frame), int(hit.sum()))
    assert stats["runs"] == frame["track_id"].nunique()
    params = sorted(c for c in frame.columns if c.startswith("params_"))
    assert stats["null_params_rows"] == int(frame[params].isna().any(axis=1).sum())
    grouped = frame.assign(hit=hit).groupby(params, dropna=False)["hit"].agg(["size", "sum"])
    expected = [
        ([plain(x) for x in (k if isinstance(k, tuple) else (k,))], int(r["size"]), int(r["sum"]))
        for k, r in grouped.iterrows()
    ]
    found = [
        ([plain(c[p]) for p in params], c["executions"], c["hits"]) for c in stats["per_config"]
    ]
    assert found == expected


def plain(value):
    """A value to compare across pandas and sqlite3: NULL/NaN as None, numbers as floats."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value) if isinstance(value, (int, float)) else value


def test_report_reads_equal_pandas(db, frame):
    latest = frame.sort_values("timestamp")["track_id"].iloc[-1]
    run = frame[frame["track_id"] == latest]
    with closing(sql.connect(db)) as connection:
        lean = report_data.run_frame(connection, latest)
        columns = report_data.analysis_columns(list(frame.columns))
        pd.testing.assert_frame_equal(lean, run[columns].reset_index(drop=True), check_dtype=False)
        configs = sorted(run["config_id"].unique())
        for config_id, values in zip(
            configs, report_data.latencies(connection, latest, configs), strict=True
        ):
            want = run.loc[run["config_id"] == config_id, "latency"].dropna().to_numpy(float)
            np.testing.assert_array_equal(values, want)
        errors = run[~blank(run["error"])].groupby(["config_id", "error_type"]).size()
        assert report_data.error_counts(connection, latest) == [
            (c, t, int(n)) for (c, t), n in errors.items()
        ]
        reused = int((~blank(run["cache"])).sum())
        assert report_data.cache_counts(connection, latest) == (len(run), reused)
        assert report_data.runs(connection) == pandas_runs(frame)


def test_report_configurations_and_class_counts_equal_pandas(db, frame):
    """The run's configurations (first row of each, in order) and the per-class table of each
    configuration from SQL counts: what the run's whole rows give."""
    latest = frame.sort_values("timestamp")["track_id"].iloc[-1]
    run = frame[frame["track_id"] == latest].sort_values("timestamp")
    params = ["config_id", *(c for c in frame.columns if c.startswith("params_"))]
    with closing(sql.connect(db)) as connection:
        found = report_data.configurations(connection, latest)
        expected = run[params].drop_duplicates("config_id").reset_index(drop=True)
        pd.testing.assert_frame_equal(found, expected, check_dtype=False)
        if not {"ground_truth", "prediction"} <= set(run.columns):
            return  # no classes in this kind's results
        for config_id in expected["config_id"]:
            counts = report_data.class_counts(connection, latest, config_id)
            assert counts["count"].sum() == (run["config_id"] == config_id).sum()
            rows = run[run["config_id"] == config_id][["ground_truth", "prediction", "error"]]
            whole = per_class_section(rows.assign(count=1), "label")  # one count per row
            assert per_class_section(counts, "label") == whole
