"""End-to-end tier: `compare` on a baked project's real runs.

One db, five experiment runs of the first 120 datapoints, each made by a driver script that wraps
the baked ``predict`` (functools.wraps keeps its identity; PREDICT_VERSION is set per run):

- ``base``: latency replaced by seeded jitter (1 ms x lognormal, sigma 0.2), predictions as is;
- ``degraded``: other jitter, half of the correct predictions made wrong, 1 in 20
  datapoints failing;
- ``noise``: other jitter only (another PREDICT_VERSION, so it computes everything again);
- ``rerun``: base again, same version: every row is a cache hit of base;
- ``subset``: base's version, without the first configuration and with one more.

Then the baked CI workflow's optional baseline step runs as CI would, on fresh dev runs.
"""

import json
import random
import re
import shutil
import sqlite3

import pytest
import yaml

from helpers import bake, git, install_into, make, run

pytestmark = pytest.mark.e2e
MODULE = "compare_e2e"
LIMIT, FAIL, FLIP = 120, 0.05, 0.5
LATENCY = ("latency_mean", "latency_p50", "latency_p95", "latency_p99", "latency")
FEWER = ("--resamples", "300")  # a real change settles at 300 rounds anyway: same marks, faster

DRIVER = '''"""drive.py VERSION SEED FLIP FAIL GRID ARGS...: the CLI with predict wrapped."""
import functools
import random
import sys

from {module} import params as params_module
from {module} import predict as predict_module

version, seed, flip, fail, which = sys.argv[1:6]
inner = predict_module.predict


@functools.wraps(inner)
def predict(item, params):
    row = inner(item, params)
    jitter = random.Random(f"{{seed}}/{{item.input_id}}/{{params.config_id}}")
    row["latency"] = 1e-3 * jitter.lognormvariate(0, 0.2)
    pick = random.Random(f"pick/{{item.input_id}}").random()
    if pick < float(fail):
        row.update(prediction=None, error="injected failure", error_type="Injected")
    elif pick < float(fail) + float(flip) and row["prediction"] == row["ground_truth"]:
        row["prediction"] = "wrong"
    return row


predict_module.predict = predict
predict_module.PREDICT_VERSION = version
if which == "subset":
    full = params_module.grid()
    params_module.grid = lambda: [*full[1:], params_module.Params(threshold=2.0)]

from {module}.cli import app  # noqa: E402  (after the patches: cli imports grid)

app(sys.argv[6:], prog_name="{module}")
'''
RUNS = {  # name: (PREDICT_VERSION, jitter seed, flip, fail, grid)
    "base": ("jitter-1", "1", 0, 0, "all"),
    "degraded": ("degraded", "2", FLIP, FAIL, "all"),
    "noise": ("jitter-2", "3", 0, 0, "all"),
    "rerun": ("jitter-1", "1", 0, 0, "all"),
    "subset": ("jitter-1", "1", 0, 0, "subset"),
}


@pytest.fixture(scope="module")
def project(tmp_path_factory, shared_python):
    project = bake(tmp_path_factory.mktemp("compare"), project_name="Compare E2E")
    install_into(shared_python, project)
    (project / "drive.py").write_text(DRIVER.format(module=MODULE))
    # the bake is a git repository: experiment runs refuse uncommitted files, as for any user
    git(project, "add", "drive.py")
    git(project, "commit", "-qm", "compare driver")
    return project


@pytest.fixture(scope="module")
def runs(project, shared_python):
    """Run the five experiments into bench.db; their track_ids."""
    ids = {}
    for name, (version, seed, flip, fail, which) in RUNS.items():
        done = run(
            [str(shared_python), "drive.py", version, seed, str(flip), str(fail), which, "run"]
            + ["--db", "bench.db", "--limit", str(LIMIT), "--no-progress", "--experiment", name],
            cwd=project,
        )
        ids[name] = re.search(r"^run (\S+) \(experiment\)", done.stdout, re.M).group(1)
    return ids


def compare(project, python, *args, check_rc=None):
    done = run(
        [str(python), "-m", MODULE, "compare", "--db", "bench.db", *args], cwd=project, check=False
    )
    assert "Traceback" not in done.stderr, done.stderr
    if check_rc is not None:
        assert done.returncode == check_rc, f"{done.stdout}\n{done.stderr}"
    return done


def as_json(project, python, *args, check_rc=0) -> dict:
    done = compare(project, python, *args, "--json", "--no-plot", check_rc=check_rc)
    return json.loads(done.stdout)


def marks(config: dict) -> dict[str, str]:
    return {
        m["metric"] + ("" if m["per"] == "config" else "/row"): m["mark"] for m in config["metrics"]
    }


def test_a_worse_predict_is_marked_and_fails_the_gate(project, shared_python, runs):
    result = as_json(
        project, shared_python, "base", "degraded", "--fail-on-regression", *FEWER, check_rc=1
    )
    assert (result["a"]["track_id"], result["b"]["track_id"]) == (runs["base"], runs["degraded"])
    configurations = result["configurations"]
    assert len(configurations) == 8 and {c["status"] for c in configurations} == {"both"}
    with sqlite3.connect(project / "bench.db") as connection:
        input_ids = connection.execute(
            "SELECT DISTINCT input_id FROM predictions WHERE track_id = ?", (runs["base"],)
        ).fetchall()
    assert len(input_ids) == LIMIT
    # the driver's rule: these datapoints fail in the degraded run
    expected_failures = sorted(
        i for (i,) in input_ids if random.Random(f"pick/{i}").random() < FAIL
    )
    assert expected_failures, "no datapoint fails: pick another FAIL"
    for config in configurations:
        mark = marks(config)
        assert mark["accuracy"] == "worse", config["config_id"]  # gated: primary + error_rate
        # not gated: Holm over every other metric x configuration; a configuration with few
        # correct answers to flip can stay inconclusive
        assert mark["correct/row"] in ("worse", "inconclusive"), config["config_id"]
        latency = {mark[m] for m in ("latency_mean", "latency_p50", "latency/row")}
        assert latency <= {"unchanged", "inconclusive"}  # jitter alone: never worse or better
        # failed datapoints are reported with their ids, in B only, never dropped silently
        assert config["failed"]["a"] == [] and config["failed"]["b"] == expected_failures
        assert config["n_paired"] == LIMIT
        row = next(m for m in config["metrics"] if m["metric"] == "correct")
        assert row["n"] == LIMIT - len(expected_failures)  # pairs where neither failed
    regressed = {r["metric"] for r in result["regressions"]}
    assert {"accuracy"} <= regressed <= {"accuracy", "error_rate"}  # the default gate

    png = project / "degraded.png"
    done = compare(
        project, shared_python, "base", "degraded", "--markdown", "--png", str(png), *FEWER
    )
    assert done.returncode == 0, done.stderr
    assert "**worse**" in done.stdout
    assert "## Regressions" in done.stdout and "## Failed datapoints" in done.stdout
    assert expected_failures[0] in done.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_noise_only_is_unchanged_and_passes_the_gate(project, shared_python, runs):
    result = as_json(project, shared_python, "base", "noise", "--fail-on-regression", check_rc=0)
    assert result["regressions"] == []
    changed = 0
    for config in result["configurations"]:
        assert set(marks(config).values()) <= {"unchanged", "inconclusive"}, config
        for metric in config["metrics"]:
            if metric["metric"] in LATENCY:
                changed += metric["a"] != metric["b"]  # the noise is there ...
            else:
                assert metric["a"] == metric["b"], metric  # ... and only in the latency
                assert metric["mark"] == "unchanged", metric
    assert changed == 8 * len(LATENCY)
    counts = result["counts"]["metrics"]
    assert counts["worse"] == counts["better"] == 0


def test_a_rerun_of_cache_hits_compares_equal(project, shared_python, runs):
    result = as_json(project, shared_python, runs["base"], runs["rerun"], "--fail-on-regression")
    assert len(result["configurations"]) == 8
    for config in result["configurations"]:
        assert config["n_paired"] == LIMIT
        for metric in config["metrics"]:
            assert metric["a"] == metric["b"] and metric["reason"] == "equal", metric


def test_a_configuration_in_one_run_is_listed(project, shared_python, runs):
    result = as_json(project, shared_python, "base", "subset")
    status = [c["status"] for c in result["configurations"]]
    assert status.count("both") == 7 and status.count("only in A") == status.count("only in B") == 1
    only_b = next(c for c in result["configurations"] if c["status"] == "only in B")
    assert only_b["params"]["threshold"] == 2.0
    assert {m["mark"] for m in only_b["metrics"]} == {"only in B"}
    assert all(m["b"] is not None and m["a"] is None for m in only_b["metrics"])
    for config in result["configurations"]:
        if config["status"] == "both":  # cache hits of base
            assert all(m["reason"] == "equal" for m in config["metrics"])
    text = compare(project, shared_python, "base", "subset", "--no-plot", check_rc=0).stdout
    assert "Configurations in one run only:" in text
    assert "only in A" in text and "only in B" in text


def test_make_compare_takes_the_last_two_runs_or_a_and_b(project, venv, runs):
    done = make(
        project, "compare", venv, "DB=bench.db", "COMPARE_ARGS=--no-plot --fail-on-regression"
    )
    assert f"A: run {runs['rerun']} " in done.stdout and f"B: run {runs['subset']} " in done.stdout
    assert "1 only in A, 1 only in B" in done.stdout
    args = ("A=base", f"B={runs['rerun']}", "COMPARE_ARGS=--no-plot --fail-on-regression")
    done = make(project, "compare", venv, "DB=bench.db", *args)
    assert f"A: run {runs['base']} " in done.stdout and f"B: run {runs['rerun']} " in done.stdout


def test_the_ci_baseline_step_gates_a_dev_run(project, shared_python):
    """The baked workflow's optional step, as CI runs it: a fresh dev run against baseline.db."""
    workflow = yaml.safe_load((project / ".github/workflows/benchmark-ci.yml").read_text())
    steps = workflow["jobs"]["benchmark-dev"]["steps"]
    step = next(s for s in steps if "baseline.db" in s.get("run", ""))
    assert step["if"] == "hashFiles('baseline.db') != ''"  # skipped without a baseline
    command = step["run"].strip()
    assert command.startswith(f"python -m {MODULE} compare ") and "--fail-on-regression" in command
    command = [str(shared_python), *command.split()[1:]]
    python = [str(shared_python)]

    def fresh_dev_run(*driver, options=()):  # CI: a new checkout, no dev.db and no cache
        (project / "dev.db").unlink(missing_ok=True)
        shutil.rmtree(project / ".cache" / "dev", ignore_errors=True)
        start = [*driver] if driver else ["-m", MODULE]
        run([*python, *start, "run", "--dev", "--no-progress", *options], cwd=project)

    fresh_dev_run()
    (project / "dev.db").rename(project / "baseline.db")
    fresh_dev_run()  # the same code: computed again, equal predictions, other latencies
    same = run(command, cwd=project, check=False)
    assert same.returncode == 0, same.stdout + same.stderr
    # every datapoint fails, to the end (the circuit breaker would stop it after 20)
    fresh_dev_run("drive.py", "broken", "9", "0", "1.0", "all", options=["--no-breaker"])
    broken = run(command, cwd=project, check=False)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert re.search(r"Regressions .*\baccuracy\b", broken.stdout)
