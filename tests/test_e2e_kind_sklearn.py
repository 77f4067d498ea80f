"""End-to-end tier, sklearn kind: a user's session with a baked model comparison.

One bake (parallelism=processes, so parallel workers race for the same model), installed with
its own dependencies (scikit-learn, joblib) into the shared environment. The steps run in a
user's order: the project's own tests, then ``make dev``, ``make run`` twice, ``validate``,
``report`` and the README's result commands. ``build()`` of the baked models.py is wrapped to
log every fit, so "fit once per configuration" is counted across processes and runs.
"""

import json
import re
import sqlite3

import pytest

from helpers import bake, git, make, pip_install, run
from results import (
    assert_rerun_reused_everything,
    readme_mentions,
    report_images,
    run_counts,
    run_results_commands,
)

pytestmark = pytest.mark.e2e
MODULE = "sklearn_kind_e2e"
CONFIGURATIONS, TEST_ROWS, DEV_ROWS = 7, 54, 10
FIT_LOG = "fits.log"


@pytest.fixture(scope="module")
def project(tmp_path_factory, shared_python):
    project = bake(
        tmp_path_factory.mktemp("sklearn"),
        project_name="Sklearn Kind E2E",
        benchmark_kind="sklearn",
        parallelism="processes",
    )
    with pytest.MonkeyPatch.context() as patch:
        # Every step imports scikit-learn: compile it once at install (pip does by default).
        patch.setenv("UV_COMPILE_BYTECODE", "1")
        pip_install(shared_python, "-e", str(project))  # with its dependencies this time
    return project


@pytest.fixture(scope="module")
def own_tests(project, shared_python):
    done = run([str(shared_python), "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project)
    return done.stdout, sorted(p.name for p in project.iterdir())


@pytest.fixture(scope="module")
def fits(project, own_tests):
    """Count fits from now on: build() appends the config_id of every fit to fits.log."""
    models = project / "src" / MODULE / "models.py"
    header = '    """The unfitted estimator of a configuration."""\n'
    text = models.read_text()
    assert text.count(header) == 1
    log = f'    with open("{FIT_LOG}", "a") as log:\n        log.write(params.config_id + "\\n")\n'
    models.write_text(text.replace(header, header + log))
    # the bake is a git repository and `make run` refuses uncommitted changes: commit the
    # instrumented models.py, keep the log out of git's view (a local exclude)
    (project / ".git" / "info" / "exclude").write_text(f"{FIT_LOG}\n")
    git(project, "commit", "-qam", "count fits")

    def count() -> list[str]:
        path = project / FIT_LOG
        return sorted(path.read_text().split()) if path.exists() else []

    return count


def model_files(project) -> dict:
    """Each model file with (inode, mtime): os.replace or a rewrite changes one of them."""
    folder = project / ".cache" / "models"
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.glob("*.joblib")}


@pytest.fixture(scope="module")
def steps(project, venv, fits):
    """make dev, then make run twice; what each saw."""
    seen = {}
    for step in ("dev", "run", "rerun"):
        done = make(project, "dev" if step == "dev" else "run", venv)
        seen[step] = (run_counts(done.stdout), fits(), model_files(project))
    return seen


def test_the_projects_own_tests_pass_and_leave_no_models_behind(own_tests):
    output, names = own_tests
    assert re.search(r"\d+ passed", output) and "failed" not in output, output
    assert ".cache" not in names  # the tests fit into temporary folders


def test_the_dev_run_fits_each_configuration_once_across_worker_processes(steps, project):
    counts, fitted, files = steps["dev"]
    assert counts == (DEV_ROWS * CONFIGURATIONS, 0)
    assert len(fitted) == len(set(fitted)) == CONFIGURATIONS, fitted
    assert len(files) == CONFIGURATIONS
    assert not list((project / ".cache" / "models").glob("*.tmp"))


def test_a_new_process_reuses_the_model_files(steps):
    (computed, reused), fitted, files = steps["run"]
    assert (computed, reused) == (TEST_ROWS * CONFIGURATIONS, 0)  # its own db: all computed
    assert fitted == steps["dev"][1] and files == steps["dev"][2]  # ... and nothing refit


def test_the_rerun_computes_nothing_and_fits_nothing(steps, project):
    counts, fitted, files = steps["rerun"]
    assert counts == (0, TEST_ROWS * CONFIGURATIONS)
    assert fitted == steps["dev"][1] and files == steps["dev"][2]
    assert_rerun_reused_everything(project / "benchmark.db")


def test_rows_reference_the_model_file_and_keep_the_split_and_probabilities(steps, project):
    with sqlite3.connect(project / "benchmark.db") as connection:
        connection.row_factory = sqlite3.Row
        rows = [dict(r) for r in connection.execute("SELECT * FROM predictions")]
        types = {
            kind
            for column in rows[0]
            for (kind,) in connection.execute(f"SELECT DISTINCT typeof({column}) FROM predictions")
        }
    assert types <= {"text", "integer", "real", "null"}  # no pickled model in any row
    assert {(r["item_dataset"], r["item_split_seed"], r["item_test_fraction"]) for r in rows} == {
        ("wine", 0, 0.3)
    }
    assert {r["model_file"].rsplit("/", 1)[-1] for r in rows} == set(steps["dev"][2])
    assert len({(r["config_id"], r["model_key"]) for r in rows}) == CONFIGURATIONS
    for row in rows:
        assert row["error"] == "" and row["fit_seconds"] > 0
        probabilities = json.loads(row["raw_response"])
        assert set(probabilities) == {"class_0", "class_1", "class_2"}
        assert sum(probabilities.values()) == pytest.approx(1.0)
        assert row["prediction"] == max(probabilities, key=probabilities.get)


def test_validate_passes(steps, project, venv):
    done = make(project, "validate", venv)
    assert "validation passed" in done.stdout


def test_report_writes_markdown_and_plots(steps, project, venv):
    make(project, "report", venv)
    folder = project / "reports" / "baseline"
    report = (folder / "README.md").read_text()
    for column in ("macro_f1", "accuracy", "fit_seconds", "p95 (ms)"):
        assert column in report
    linked = report_images(folder, min_size=(600, 300), min_bytes=10_000)
    assert linked >= {"macro_f1.png", "latency.png", "fit_time.png"}


def test_every_results_command_in_the_readme_works(steps, project, shared_python):
    others = ("lexicon", "sentiment", "sample.jsonl", "prompt", "throughput")
    assert not readme_mentions(project, others), "the sklearn README mentions another kind"
    outputs, out = run_results_commands(project, shared_python)
    assert any("macro_f1" in line for line in outputs)
    assert "random_forest" in out and "p_true" in out
