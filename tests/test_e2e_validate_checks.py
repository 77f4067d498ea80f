"""validate finds each fault injected into a copy of a real db, naming the check and the rows.

The db: two experiment runs over the same datapoints (the second all cache hits, reusing the
first). Each fault is one SQL statement (or one extra run) on a copy; validate must exit 1 with
the named check failed, and pass on the untouched db.
"""

import json
import shutil
import sqlite3

import pytest

from helpers import bake, install_into, run

pytestmark = pytest.mark.e2e
MODULE = "validate_checks"
NEW_CHECKS = (
    "lineage",
    "edited_rows",
    "phases",
    "completeness",
    "metrics_agree",
    "config_ids",
)


@pytest.fixture(scope="module")
def project(tmp_path_factory, shared_python):
    project = bake(tmp_path_factory.mktemp("checks"), project_name="Validate Checks")
    install_into(shared_python, project)
    return project


def cli(python, project, *args, check=True):
    return run([str(python), "-m", MODULE, *map(str, args)], cwd=project, check=check)


@pytest.fixture(scope="module")
def base_db(tmp_path_factory, shared_python, project):
    db = tmp_path_factory.mktemp("base") / "bench.db"
    for _ in range(2):
        cli(shared_python, project, "run", "--db", db, "--limit", "12", "--no-progress")
    return db


def sql(db, statement):
    with sqlite3.connect(db) as connection:
        return connection.execute(statement).fetchall()


def run_ids(db) -> list[str]:
    found = sql(db, "SELECT track_id FROM predictions GROUP BY track_id ORDER BY MIN(timestamp)")
    return [row[0] for row in found]


def validate(python, project, db, *args) -> tuple[int, dict]:
    done = cli(python, project, "validate", db, "--json", *args, check=False)
    return done.returncode, {f["check"]: f for f in json.loads(done.stdout)["findings"]}


def test_the_untouched_db_passes_every_check(shared_python, project, base_db):
    code, findings = validate(shared_python, project, base_db, "--all-runs")
    assert code == 0, findings
    for check in (*NEW_CHECKS, "failures_history"):
        assert findings[check]["status"] == "ok", findings[check]
    assert findings["config_ids"]["message"] == "8 configurations match their config_id"
    assert findings["lineage"]["message"].startswith("96 cache-hit rows")


# fault: SQL on the copy ({first}/{latest}: the runs' track ids), the check that must fail
FAULTS = {
    "hit differs from its source": (
        "UPDATE predictions SET prediction = 'tampered' WHERE rowid = "
        "(SELECT MIN(rowid) FROM predictions WHERE track_id = '{first}')",
        "lineage",
    ),
    "hit names a run not in the db": (
        "UPDATE predictions SET cache = 'no-such-run' WHERE rowid = "
        "(SELECT MIN(rowid) FROM predictions WHERE track_id = '{latest}')",
        "hit_source",
    ),
    "row edited after insert": (
        "UPDATE predictions SET latency = latency + 1 WHERE rowid = "
        "(SELECT MAX(rowid) FROM predictions WHERE track_id = '{latest}')",
        "edited_rows",
    ),
    "datapoints of the grid missing": (
        "DELETE FROM predictions WHERE rowid IN "
        "(SELECT rowid FROM predictions WHERE track_id = '{latest}' LIMIT 5)",
        "completeness",
    ),
    "metrics row disagrees": (
        "UPDATE metrics SET accuracy = accuracy + 0.25 WHERE rowid = (SELECT MAX(rowid) FROM "
        "metrics)",
        "metrics_agree",
    ),
    "params columns disagree with config_id": (
        "UPDATE predictions SET params_threshold = 3.0 WHERE track_id = '{latest}' "
        "AND params_threshold = 1.0",
        "config_ids",
    ),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_each_injected_fault_fails_its_check(shared_python, project, base_db, tmp_path, fault):
    db = tmp_path / "bench.db"
    shutil.copy(base_db, db)
    first, latest = run_ids(db)
    statement, check = FAULTS[fault]
    sql(db, statement.format(first=first, latest=latest))
    code, findings = validate(shared_python, project, db)
    assert code == 1
    assert findings[check]["status"] == "fail", findings[check]
    assert findings[check]["advice"], "a failed check says how to fix it"
    if check not in ("metrics_agree", "completeness"):
        assert f"run {latest} input " in findings[check]["message"]  # the rows involved
    else:
        assert f"run {latest} config " in findings[check]["message"]


def test_dev_rows_in_the_results_db_fail(shared_python, project, base_db, tmp_path):
    db = tmp_path / "bench.db"
    shutil.copy(base_db, db)
    cli(shared_python, project, "run", "--dev", "--db", db, "--limit", "2", "--no-progress")
    code, findings = validate(shared_python, project, db)
    assert code == 1 and findings["phases"]["status"] == "fail"
    assert "16 rows of non-experiment runs ({'dev': 16})" in findings["phases"]["message"]


def test_failures_of_an_older_run_fail_with_all_runs(shared_python, project, tmp_path):
    half_broken = tmp_path / "half-broken.jsonl"
    lines = [json.dumps({"id": f"ok{i}", "text": "great", "label": "positive"}) for i in range(3)]
    half_broken.write_text("\n".join([*lines, "{not json", '{"id": "x1"}', '{"id": "x2"}']) + "\n")
    db = tmp_path / "bench.db"
    cli(shared_python, project, "run", "--db", db, "--data", half_broken, "--no-progress")
    cli(shared_python, project, "run", "--db", db, "--limit", "3", "--no-progress")
    latest_only, findings = validate(shared_python, project, db)
    assert latest_only == 0 and "failures_history" not in findings
    code, findings = validate(shared_python, project, db, "--all-runs")
    assert code == 1 and findings["failures_history"]["status"] == "fail"
    first = run_ids(db)[0]
    assert f"run {first}: 50% failed" in findings["failures_history"]["message"]
