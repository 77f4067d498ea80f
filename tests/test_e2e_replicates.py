"""End-to-end tier: replicates (issue 18) on the default kind, through the command line.

Two replicates of the same code are measured (``run --replicate 1`` computes every datapoint
again under new computation keys, same config_ids); a rerun of a replicate computes nothing;
compare never calls their latency worse (one run per side: inconclusive, with the command that
takes more) and the default gate passes. Baked under two project names.
"""

import json
import re
import sqlite3

import pytest

from helpers import bake, install_into, run

pytestmark = pytest.mark.e2e


def measure(project, python, module, *args) -> dict:
    done = run(
        [str(python), "-m", module, "run", "--db", "bench.db", "--no-progress", "--allow-dirty"]
        + ["--json", *args],
        cwd=project,
    )
    return json.loads(done.stdout)


@pytest.mark.parametrize("name", ["Replicate Bench", "Other Replicas"])
def test_two_replicates_of_the_same_code_never_compare_worse(tmp_path, shared_python, name):
    project = bake(tmp_path, project_name=name)
    module = name.lower().replace(" ", "_")
    install_into(shared_python, project)
    first = measure(project, shared_python, module)
    second = measure(project, shared_python, module, "--replicate", "1")
    again = measure(project, shared_python, module, "--replicate", "1")
    assert first["computed"] == second["computed"] > 0 and second["reused"] == 0
    assert (again["computed"], again["reused"]) == (0, second["computed"])
    with sqlite3.connect(project / "bench.db") as connection:
        rows = connection.execute(
            "SELECT replicate, COUNT(DISTINCT track_id), COUNT(DISTINCT config_id),"
            " COUNT(DISTINCT cache_key) FROM predictions GROUP BY replicate ORDER BY replicate"
        ).fetchall()
    n, computed = len(first["configurations"]), first["computed"]
    assert rows == [(0, 1, n, computed), (1, 2, n, computed)]  # config_ids: the same

    command = [str(shared_python), "-m", module, "compare", first["track_id"], second["track_id"]]
    command += ["--db", "bench.db", "--no-plot"]
    done = run([*command, "--json"], cwd=project, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    latency = [
        m for c in result["configurations"] for m in c["metrics"] if "latency" in m["metric"]
    ]
    assert latency and {m["mark"] for m in latency} <= {"unchanged", "inconclusive"}
    assert all(m["replicates"] == [1, 1] for m in latency)
    done = run([*command, "--fail-on-regression"], cwd=project, check=False)
    assert done.returncode == 0, done.stdout + done.stderr  # the default gate
    text = " ".join(done.stdout.split())
    assert re.search(r"take 3 per side, `python -m \w+ run --replicate 1`", text), done.stdout
    assert max(len(line) for line in done.stdout.splitlines()) <= 120
