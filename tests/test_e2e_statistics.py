"""End-to-end tier: compare's decision on real runs of the llm kind (issue 15).

The injected regression: the offline stand-in answers arithmetic wrongly at 0.20 instead of 0.08
(PREDICT_VERSION bumped). The README's CI gate (``compare --gate primary --fail-on-regression``)
must exit 1 on it, and 0 on the same code computed again (other latencies, same answers).
Baked under two project names: no mark may depend on the name.
"""

import json
import re

import pytest

from helpers import bake, install_into, pip_install, run

pytestmark = pytest.mark.e2e
GATE = ("--gate", "primary", "--fail-on-regression", "--no-plot")


def experiment(project, python, module, name):
    done = run(
        [str(python), "-m", module, "run", "--db", "bench.db", "--no-progress", "--allow-dirty"]
        + ["--experiment", name],
        cwd=project,
    )
    return re.search(r"^run (\S+) \(experiment\)", done.stdout, re.M).group(1)


def compare(project, python, module, *args):
    done = run(
        [str(python), "-m", module, "compare", "--db", "bench.db", *args], cwd=project, check=False
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


@pytest.mark.parametrize("name", ["Gate LLM", "Another Gate"])
def test_the_readme_gate_catches_the_llm_regression_and_passes_a_recomputation(
    tmp_path, shared_python, name
):
    project = bake(tmp_path, benchmark_kind="llm", project_name=name)
    module = name.lower().replace(" ", "_")
    install_into(shared_python, project)
    base = experiment(project, shared_python, module, "base")
    # the same code computed again: no cache, so new latencies, the same answers
    run([str(shared_python), "-m", module, "cache-clear", "bench.db"], cwd=project)
    same = experiment(project, shared_python, module, "same")
    done = compare(project, shared_python, module, base, same, "--fail-on-regression", "--no-plot")
    assert done.returncode == 0, done.stdout + done.stderr  # the default gate
    done = compare(project, shared_python, module, base, same, "--json", *GATE)
    assert done.returncode == 0, done.stdout + done.stderr  # the README's gate
    result = json.loads(done.stdout)
    for config in result["configurations"]:
        for metric in config["metrics"]:
            if "latency" in metric["metric"]:
                continue  # the machine's load: a real change, not gated by default
            assert metric["a"] == metric["b"] and metric["mark"] == "unchanged", metric

    offline = project / "src" / module / "offline.py"
    offline.write_text(offline.read_text().replace('"arithmetic": 0.08', '"arithmetic": 0.20'))
    predict = project / "src" / module / "predict.py"
    text = predict.read_text()
    version = re.search(r'^PREDICT_VERSION = "([^"]*)"', text, re.M).group(1)
    predict.write_text(text.replace(f'"{version}"', f'"{version}-harder"', 1))
    worse = experiment(project, shared_python, module, "worse")
    done = compare(project, shared_python, module, same, worse, *GATE)
    assert done.returncode == 1, done.stdout + done.stderr
    assert re.search(r"Regressions .*\baccuracy\b", done.stdout)
    assert max(len(line) for line in done.stdout.splitlines()) <= 120
    done = compare(project, shared_python, module, same, worse, "--json", *GATE)
    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)
    accuracy = [
        m for c in result["configurations"] for m in c["metrics"] if m["metric"] == "accuracy"
    ]
    assert all(m["b"] <= m["a"] for m in accuracy)  # answers only turn wrong
    assert all(m["mark"] in ("worse", "inconclusive", "unchanged") for m in accuracy)
    assert any(m["mark"] == "worse" and m["b"] - m["a"] < -0.04 for m in accuracy)
    assert {r["metric"] for r in result["regressions"]} == {"accuracy"}


@pytest.mark.parametrize("kind", ["classification", "sklearn", "llm", "throughput"])
def test_every_kinds_own_tests_pass_under_another_project_name(tmp_path, shared_python, kind):
    """The kind e2e tests bake under one name each; here each kind under another one: no
    resampling seed or p-value of the baked tests may depend on the name."""
    project = bake(tmp_path, benchmark_kind=kind, project_name=f"Quite Other {kind} Name")
    if kind == "sklearn":
        pip_install(shared_python, "-e", str(project))  # with scikit-learn and joblib
    else:
        install_into(shared_python, project)
    done = run(
        [str(shared_python), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert re.search(r"\d+ passed", done.stdout) and "failed" not in done.stdout
