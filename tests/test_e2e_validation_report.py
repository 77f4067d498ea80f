"""Validation gate, schema drift, dev vs experiment phases, report and the README's commands."""

import json
import shutil
import sqlite3

import pytest

from helpers import bake, install_into, run
from results import report_images, run_results_commands

pytestmark = pytest.mark.e2e
MODULE = "validation_gate"


@pytest.fixture(scope="module")
def project(tmp_path_factory, shared_python):
    project = bake(tmp_path_factory.mktemp("validation"), project_name="Validation Gate")
    # These tests edit files in place and run experiments: outside git, as before the bake made
    # a repository (git's refusal of a dirty tree has its own test on a copy, below).
    shutil.rmtree(project / ".git")
    install_into(shared_python, project)
    return project


@pytest.fixture
def cli(shared_python, project):
    def call(*args, check=True, cwd=None):
        return run(
            [str(shared_python), "-m", MODULE, *map(str, args)], cwd=cwd or project, check=check
        )

    return call


def validate(shared_python, project, db, *args):
    script = [str(shared_python), "scripts/validate_benchmark.py", str(db), "predictions", *args]
    return run(script, cwd=project, check=False)


def execute(db, sql):
    with sqlite3.connect(db) as connection:
        return connection.execute(sql).fetchall()


def finding(output: str, check: str) -> str:
    return next(line for line in output.splitlines() if f" {check}:" in line)


def test_clean_run_validates_and_json_is_machine_readable(shared_python, project, cli, tmp_path):
    db = tmp_path / "bench.db"
    cli("run", "--db", db, "--limit", "10", "--no-progress")
    done = validate(shared_python, project, db)
    assert done.returncode == 0, done.stdout
    assert "validation passed" in done.stdout
    report = json.loads(validate(shared_python, project, db, "--json").stdout)
    assert report["passed"] is True
    statuses = {f["check"]: f["status"] for f in report["findings"]}
    assert statuses == {
        "leaks": "ok",
        "duplicates": "ok",
        "null_params": "ok",
        "failures": "ok",
        "cache": "ok",
        "metrics": "ok",
        "schema_drift": "ok",
        "lineage": "ok",
        "edited_rows": "ok",
        "phases": "ok",
        "completeness": "ok",
        "metrics_agree": "ok",
        "config_ids": "ok",
    }


def test_an_injected_leak_fails(shared_python, project, cli, tmp_path):
    db = tmp_path / "bench.db"
    cli("run", "--db", db, "--limit", "5", "--no-progress")
    cli("run", "--db", db, "--limit", "5", "--no-progress")  # hits are not leaks
    assert validate(shared_python, project, db).returncode == 0
    # The same computation recorded as computed again, by another run: a leak.
    execute(
        db,
        "INSERT INTO predictions SELECT 'leaky-run-0001', timestamp || 'x', "
        + ", ".join(c for c in columns(db) if c not in ("track_id", "timestamp"))
        + " FROM predictions WHERE cache = '' LIMIT 3",
    )
    done = validate(shared_python, project, db)
    assert done.returncode == 1
    assert finding(done.stdout, "leaks").startswith(
        "[FAIL] leaks: 3 computations ran more than once"
    )


def columns(db):
    return [row[1] for row in execute(db, "PRAGMA table_info(predictions)")]


def test_null_params_fail(shared_python, project, cli, tmp_path):
    db = tmp_path / "bench.db"
    cli("run", "--db", db, "--limit", "5", "--no-progress")
    execute(db, "UPDATE predictions SET params_threshold = NULL WHERE rowid IN (1, 2)")
    done = validate(shared_python, project, db)
    assert done.returncode == 1
    assert "[FAIL] null_params" in done.stdout and "params_threshold': 2" in done.stdout


def test_error_rate_threshold(shared_python, project, cli, tmp_path):
    data = tmp_path / "half-broken.jsonl"
    lines = [json.dumps({"id": f"ok{i}", "text": "great", "label": "positive"}) for i in range(3)]
    lines += ["{not json", '{"id": "x1"}', '{"id": "x2", "text": 7}']
    data.write_text("\n".join(lines) + "\n")
    db = tmp_path / "bench.db"
    cli("run", "--db", db, "--data", data, "--no-progress")
    done = validate(shared_python, project, db)
    assert done.returncode == 1
    line = finding(done.stdout, "failures")
    assert line.startswith("[FAIL]") and "(50.0%)" in line and "ValueError" in line
    relaxed = validate(shared_python, project, db, "--max-error-rate", "0.6")
    assert relaxed.returncode == 0 and "[warn] failures" in relaxed.stdout


def test_renamed_params_field_is_caught_before_any_row_is_written(
    shared_python, project, cli, tmp_path
):
    db = tmp_path / "bench.db"
    cli("run", "--db", db, "--limit", "3", "--no-progress")
    rows_before = execute(db, "SELECT COUNT(*) FROM predictions")
    params_file = project / "src" / MODULE / "params.py"
    predict_file = project / "src" / MODULE / "predict.py"
    originals = {path: path.read_text() for path in (params_file, predict_file)}
    try:
        params_file.write_text(
            originals[params_file]
            .replace('    lexicon: str = "base"', '    word_list: str = "base"')
            .replace("Params(lexicon=lexicon,", "Params(word_list=lexicon,")
        )
        predict_file.write_text(
            originals[predict_file].replace("params.lexicon", "params.word_list")
        )
        stopped = cli("run", "--db", db, "--limit", "3", "--no-progress", check=False)
        assert stopped.returncode == 2
        assert "params_lexicon is in predictions but not in Params" in stopped.stderr
        assert "renamed to params_word_list?" in stopped.stderr
        assert (
            "ALTER TABLE predictions RENAME COLUMN params_lexicon TO params_word_list"
            in stopped.stderr
        )
        assert execute(db, "SELECT COUNT(*) FROM predictions") == rows_before
        copy = tmp_path / "forced.db"
        shutil.copy(db, copy)
        # predict.py changed too (params.word_list): a neutral change, declared as such
        neutral = "--code-change-neutral"
        forced = cli("run", "--db", copy, "--limit", "3", "--no-progress", "--allow-drift", neutral)
        assert "24 computed" in forced.stdout  # a renamed field is another configuration
        # The fix the README shows: rename the old columns; then runs and validation are clean.
        xt = shared_python.parent / "xt"
        for table in ("predictions", "metrics"):
            sql = f"ALTER TABLE {table} RENAME COLUMN params_lexicon TO params_word_list"
            run([str(xt), "sql", str(db), sql], cwd=project)
        clean = cli("run", "--db", db, "--limit", "3", "--no-progress", neutral)
        assert "schema drift" not in clean.stderr and "24 computed" in clean.stdout
        assert validate(shared_python, project, db).returncode == 0
    finally:
        for path, text in originals.items():
            path.write_text(text)


def test_added_params_field_is_reported_with_the_fix(project, cli, tmp_path):
    db = tmp_path / "bench.db"
    cli("run", "--db", db, "--limit", "2", "--no-progress")
    params_file = project / "src" / MODULE / "params.py"
    original = params_file.read_text()
    try:
        params_file.write_text(
            original.replace(
                "    negation: bool = True", "    negation: bool = True\n    window: int = 3"
            )
        )
        done = cli("run", "--db", db, "--limit", "2", "--no-progress")
        assert (
            "params_window is new" in done.stderr
            and "UPDATE predictions SET params_window" in done.stderr
        )
    finally:
        params_file.write_text(original)


def test_dev_rows_never_reach_experiment_reports(shared_python, project, cli, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(
        project, work, ignore=shutil.ignore_patterns(".venv", "*.db", ".cache", "reports")
    )
    cli("run", "--dev", "--no-progress", cwd=work)
    dev_run = execute(work / "dev.db", "SELECT DISTINCT track_id, phase FROM predictions")
    assert len(dev_run) == 1 and dev_run[0][1] == "dev"
    assert execute(work / "dev.db", "SELECT COUNT(*) FROM predictions") == [(10 * 8,)]
    assert not (work / "benchmark.db").exists()
    cli("run", "--limit", "20", "--no-progress", cwd=work)
    assert execute(work / "benchmark.db", "SELECT DISTINCT phase FROM predictions") == [
        ("experiment",)
    ]
    cli("report", cwd=work)
    report = (work / "reports" / "baseline" / "README.md").read_text()
    assert dev_run[0][0] not in report
    experiment_run = execute(work / "benchmark.db", "SELECT DISTINCT track_id FROM predictions")[0][
        0
    ]
    assert experiment_run in report
    for section in ("## Configurations", "## Metrics", "## Latency", "## Errors", "## Cache"):
        assert section in report
    linked = report_images(work / "reports" / "baseline", min_size=(600, 300), min_bytes=10_000)
    assert linked >= {"accuracy.png", "latency.png"}
    cli("clean-dev", cwd=work)
    assert not (work / "dev.db").exists() and not (work / ".cache" / "dev").exists()


def git(cwd, *args):
    identity = ["-c", "user.name=Test", "-c", "user.email=test@example.invalid"]
    return run(["git", *identity, *args], cwd=cwd)


def test_experiments_refuse_a_dirty_tree_and_report_code_changes(project, cli, tmp_path):
    work = tmp_path / "repo"
    shutil.copytree(
        project, work, ignore=shutil.ignore_patterns(".venv", "*.db", ".cache", "reports")
    )
    git(work, "init", "-q")
    git(work, "add", "-A")
    git(work, "commit", "-qm", "baseline")
    cli("run", "--limit", "2", "--no-progress", cwd=work)  # clean tree: runs
    commit = git(work, "rev-parse", "HEAD").stdout.strip()
    assert execute(
        work / "benchmark.db", "SELECT DISTINCT git_commit, git_dirty, forced FROM predictions"
    ) == [(commit, 0, 0)]
    (work / "EXPERIMENT.md").write_text("changed plan\n")
    refused = cli("run", "--limit", "2", "--no-progress", check=False, cwd=work)
    assert refused.returncode == 2 and "uncommitted changes" in refused.stderr
    cli("run", "--dev", "--limit", "2", "--no-progress", cwd=work)  # dev runs are not refused
    forced = cli("run", "--limit", "2", "--no-progress", "--allow-dirty", cwd=work)
    assert "0 computed" in forced.stdout
    assert (1, 1) in execute(
        work / "benchmark.db", "SELECT DISTINCT git_dirty, forced FROM predictions"
    )
    git(work, "commit", "-qam", "new plan")
    changed = cli("run", "--limit", "2", "--no-progress", cwd=work)
    # a notice, on stderr: stdout stays the summary (pure JSON with --json)
    assert "Code changed since the last experiment run" in changed.stderr
    assert "EXPERIMENT.md" in changed.stderr


def test_every_results_command_in_the_readme_works(shared_python, project, cli, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(
        project, work, ignore=shutil.ignore_patterns(".venv", "*.db", ".cache", "reports")
    )
    cli("run", "--limit", "10", "--no-progress", cwd=work)
    cli("run", "--limit", "10", "--no-progress", cwd=work)
    outputs, out = run_results_commands(work, shared_python)
    head = next(iter(outputs.values()))
    assert "params_lexicon" in head and "cache_key" in head
    assert "extended" in out and "accuracy" in out
