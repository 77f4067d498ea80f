"""One run's uncertainty: intervals per configuration, the ranking, sample-size planning, and
the report's sections built on them. Kind-agnostic (the kind's metrics interface only)."""

import dataclasses
import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from {{ cookiecutter.module_name }} import metrics as kind
from {{ cookiecutter.module_name }} import predict as predict_module
from {{ cookiecutter.module_name }}.cli import app
from {{ cookiecutter.module_name }}.harness import runner
from {{ cookiecutter.module_name }}.harness.compare import intervals, planning, ranking, stats
from {{ cookiecutter.module_name }}.harness.report import write_report
from {{ cookiecutter.module_name }}.harness.tracking import run_metadata


@pytest.fixture
def db(tmp_path, items, configurations):
    """A db with two runs of the same code: computed, then replayed from the cache."""
    path = tmp_path / "bench.db"
    for experiment in ("first", "replay"):
        metadata = run_metadata(experiment, "experiment", predict_module.PREDICT_VERSION, ("", 0))
        options = runner.RunOptions(db=path, metadata=metadata, parallelism="none", progress=False)
        runner.run(items, configurations, options)
    return path


def test_the_ranking_puts_the_best_first_with_intervals(db, configurations):
    result = ranking.rank(db)
    found = result["configurations"]
    assert len(found) == len(configurations) and found[0]["status"] == "best"
    higher = kind.HIGHER_IS_BETTER[kind.PRIMARY]
    values = [c["value"] for c in found if c["value"] is not None]
    assert values == sorted(values, reverse=higher)
    for config in found:
        assert set(config["ci"]) == set(kind.HIGHER_IS_BETTER)
        low_high = config["ci"][kind.PRIMARY]
        if config["value"] is not None and low_high[0] is not None:
            assert low_high[0] <= config["value"] <= low_high[1]
        assert config["status"] in (ranking.BEST, ranking.WITHIN, ranking.WORSE_THAN_BEST)


def test_proportions_get_wilson_intervals(db):
    proportions = [m for m in getattr(kind, "PROPORTIONS", ()) if m in kind.HIGHER_IS_BETTER]
    if not proportions:
        pytest.skip("this kind declares no per-configuration proportion")
    config = ranking.rank(db)["configurations"][0]
    name = proportions[0]
    expected = stats.wilson(round(config["values"][name] * config["n"]), config["n"])
    assert config["ci"][name] == pytest.approx(list(expected))


def test_the_rank_and_plan_commands_answer(db):
    cli = CliRunner()
    done = cli.invoke(app, ["rank", "--db", str(db)])
    assert done.exit_code == 0, done.output
    assert "best" in done.stdout and max(len(line) for line in done.stdout.splitlines()) <= 120
    data = json.loads(cli.invoke(app, ["rank", "--db", str(db), "--json"]).stdout)
    assert data["primary"] == kind.PRIMARY
    done = cli.invoke(app, ["plan", "--delta", "0.05", "--db", str(db), "--json"])
    assert done.exit_code == 0, done.output
    plan = json.loads(done.stdout)
    if plan["needed"] is not None:
        assert plan["needed"] == planning.needed(plan["sd"], 0.05, 0.05, 0.8)
    text = cli.invoke(app, ["plan", "--delta", "0.05", "--db", str(db)]).stdout
    assert "datapoints" in text
    assert cli.invoke(app, ["plan", "--delta", "0", "--db", str(db)]).exit_code == 2
    assert cli.invoke(app, ["rank", "--db", str(db.parent / "none.db")]).exit_code == 2


def test_the_sample_size_formula():
    assert stats.z_of(0.975) == pytest.approx(1.959964, abs=1e-6)
    assert stats.z_of(0.8) == pytest.approx(0.841621, abs=1e-6)
    # ((1.959964 + 0.841621) * 0.5 / 0.1) ** 2 = 196.2: 197 datapoints
    assert planning.needed(0.5, 0.1, 0.05, 0.8) == 197
    assert planning.needed(0.5, 0.05, 0.05, 0.8) == math.ceil(196.2 * 4)


def test_the_report_shows_intervals_a_ranking_and_a_replay_in_one_line(db, tmp_path):
    path = write_report(db, tmp_path / "reports")
    text = path.read_text()
    assert "## Ranking" in text and "## Metrics with 95% intervals" in text
    assert "best" in text.split("## Ranking")[1]
    assert (path.parent / f"{kind.PRIMARY}_ci.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if getattr(kind, "PER_CLASS", False):  # a classifier: each class's precision and recall
        per_class = text.split("## Per class (best configuration)")[1].split("## ")[0]
        assert "| class" in per_class and "precision" in per_class and "recall" in per_class
    else:
        assert "## Per class" not in text
    section = text.split("## Compared with the previous run")[1]
    assert "Same results as run" in section and "| cfg" not in section


def test_the_report_names_configurations_by_the_params_that_vary(db, tmp_path, configurations):
    text = write_report(db, tmp_path / "reports").read_text()
    tables = text.split("## Configurations")[1].split("## Per class")[0].split("## Ranking")[0]
    names = [f.name for f in dataclasses.fields(configurations[0])]
    varying = [n for n in names if len({repr(getattr(c, n)) for c in configurations}) > 1]
    header = next(line for line in tables.splitlines() if line.startswith("|"))
    assert [h.strip() for h in header.strip("|").split("|")] == (varying or names)
    for config in configurations:  # no config_id hash, booleans as true/false
        assert config.config_id not in tables and config.config_id[:12] not in tables
    booleans = [n for n in varying if isinstance(getattr(configurations[0], n), bool)]
    rows = [line for line in tables.split("## Metrics")[0].splitlines() if line.startswith("| ")]
    for name in booleans:
        column = (varying or names).index(name)
        cells = {row.strip("|").split("|")[column].strip() for row in rows[1:]}
        assert cells <= {"true", "false"}, cells
    metrics = tables.split("## Metrics")[1]
    assert "config_id" not in metrics and "p50 (ms)" in metrics and "latency_p50" not in metrics


def cycled(db, size: int) -> list[dict]:
    """The first configuration's results of ``db``, cycled to ``size`` datapoints (new ids)."""
    _, found = ranking.run_results(db)
    results = list(next(iter(found))[2].values())
    return [{**results[i % len(results)], "input_id": f"x{i:05d}"} for i in range(size)]


@pytest.mark.parametrize("size", [60, 500])  # 500: shares are first tried on a sample
def test_the_vectorised_intervals_are_the_summarize_bootstrap_on_the_same_draws(db, size):
    results = cycled(db, size)
    point = stats.summary(results)
    names = [m for m in kind.HIGHER_IS_BETTER if point.get(m) is not None]
    seed, total = [0, size], ranking.INTERVAL_RESAMPLES
    found = intervals.bootstrap(results, names, point, seed, None, total)
    expected = np.full((total, len(names)), np.nan)
    draws = stats.cluster_draws(np.random.default_rng(seed), size, None, total)
    for r, picked in enumerate(draws):
        values = stats.summary([results[i] for i in picked])
        expected[r] = [np.nan if values.get(m) is None else values[m] for m in names]
    np.testing.assert_allclose(found, expected, rtol=1e-9, atol=1e-12)  # NaN where NaN
    # the vectorised paths serve every latency statistic and each kind's proportions
    served = intervals.latency_names(results, names, point)[1]
    served += [
        m for _, forms, _ in intervals.share_forms(results, names, point, seed) for m in forms
    ]
    assert {m for m in names if m.startswith("latency_")} <= set(served)
    assert {m for m in names if m in kind.PROPORTIONS} <= set(served)
    fast, slow = (ranking.intervals(results, vectorised=v) for v in (True, False))
    assert fast.keys() == slow.keys()
    for name, interval in slow.items():
        assert (fast[name] is None) == (interval is None), name
        if interval is not None:
            assert fast[name] == pytest.approx(interval, rel=1e-9, nan_ok=True), name
{%- if cookiecutter.benchmark_kind != "throughput" %}


# (not for throughput: its primary, requests/s, goes through summarize on both paths)
@pytest.mark.parametrize("case", ["clear", "null"])
def test_the_ranking_decides_as_a_summarize_resampling_test_would(db, case):
    """The test against the best (compare's path: fast.py, means.py, then summarize) and
    stats.resample_summaries alone, on failures added to a copy of a configuration: every other
    datapoint (clearly worse) or a single one (within noise); no p-value near 0.05."""
    best = cycled(db, 240)
    primary = stats.summary(best)[kind.PRIMARY]
    step = 2 if case == "clear" else len(best)
    for first in range(len(best)):
        worse = [
            {**r, "error": "failed"} if i >= first and (i - first) % step == 0 else r
            for i, r in enumerate(best)
        ]
        if stats.summary(worse)[kind.PRIMARY] != primary:
            break
    else:
        raise AssertionError(f"failed datapoints do not change {kind.PRIMARY}")
    options = stats.Options(summary_resamples=50)  # summarize calls: fewer, no p near 0.05
    found = ranking.rank_results(  # the test against the best: intervals.paired
        [("a", {}, {r["input_id"]: r for r in best}), ("b", {}, {r["input_id"]: r for r in worse})],
        options=options,
    )["configurations"]
    slow = stats.resample_summaries(best, worse, [kind.PRIMARY], options, options.seed)
    p_values = [found[1]["p_value"], slow[kind.PRIMARY].p_value]
    if case == "clear":
        assert max(p_values) < 0.001, p_values
    else:
        assert min(p_values) > 0.2, p_values
    expected = ranking.WORSE_THAN_BEST if case == "clear" else ranking.WITHIN
    assert [c["status"] for c in found] == [ranking.BEST, expected]
    assert found[1]["n_shared"] == len(best)
{%- endif %}
