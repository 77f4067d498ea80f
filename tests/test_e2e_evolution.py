"""Projects change: Params gain and rename fields, predict gets edited. What survives.

A user's path, in the baked project's own git repository (the bake made it): edit, commit, run.
- a field added with ``neutral(default)``: nothing is recomputed, earlier rows get the column at
  its neutral value, validate passes, compare pairs every configuration;
- a field renamed with ``renamed("old")``: the same;
- predict edited without a PREDICT_VERSION bump: the experiment run stops before computing.
"""

import sqlite3

import pytest

from helpers import bake, git, install_into, run

pytestmark = pytest.mark.e2e
MODULE = "evolve_params"
LIMIT = "15"
CONFIGS = 8  # the classification grid


@pytest.fixture(scope="module")
def project(tmp_path_factory, shared_python):
    project = bake(tmp_path_factory.mktemp("evolution"), project_name="Evolve Params")
    install_into(shared_python, project)
    return project


@pytest.fixture
def cli(shared_python, project):
    def call(*args, check=True):
        return run([str(shared_python), "-m", MODULE, *map(str, args)], cwd=project, check=check)

    return call


@pytest.fixture
def edit(project):
    """edit(path, old, new): change a file of the package and commit it; undone after the test."""
    base = git(project, "rev-parse", "HEAD").stdout.strip()

    def change(name: str, old: str, new: str) -> None:
        path = project / "src" / MODULE / name
        text = path.read_text()
        assert old in text, f"{old!r} not in {name}"
        path.write_text(text.replace(old, new))
        git(project, "commit", "-qam", f"edit {name}")

    yield change
    git(project, "reset", "-q", "--hard", base)


def validate(shared_python, project, db):
    return run([str(shared_python), "-m", MODULE, "validate", str(db)], cwd=project, check=False)


def compare(cli, db) -> str:
    return cli("compare", "--db", db, "--no-plot", "--resamples", "50").stdout


def rows(db, sql):
    with sqlite3.connect(db) as connection:
        return connection.execute(sql).fetchall()


PAIRED = f"configurations: {CONFIGS} in both, 0 only in A, 0 only in B"


def test_the_first_experiment_records_the_commit_of_the_bake(project, cli, tmp_path):
    db = tmp_path / "bench.db"
    cli("run", "--db", db, "--limit", "2", "--no-progress")
    head = git(project, "rev-parse", "HEAD").stdout.strip()
    assert git(project, "log", "--format=%s").stdout.split("\n")[0] == "Baked from bench-template"
    assert rows(db, "SELECT DISTINCT git_commit, git_dirty FROM predictions") == [(head, 0)]


def test_a_neutral_field_recomputes_nothing(shared_python, project, cli, edit, tmp_path):
    db = tmp_path / "bench.db"
    first = cli("run", "--db", db, "--limit", LIMIT, "--no-progress")
    assert f"{int(LIMIT) * CONFIGS} computed" in first.stdout
    before = rows(db, "SELECT DISTINCT config_id FROM predictions ORDER BY 1")
    edit("params.py", "import Configuration", "import Configuration, neutral")
    edit(
        "params.py",
        '    negation: bool = True  # "not good" counts as negative\n',
        '    negation: bool = True  # "not good" counts as negative\n'
        "    window: int = neutral(0)  # added later: 0 is how it always ran\n"
        "    max_words: int | None = neutral(None)  # optional, None: as before\n",
    )
    again = cli("run", "--db", db, "--limit", LIMIT, "--no-progress")
    assert "0 computed" in again.stdout and f"{int(LIMIT) * CONFIGS} reused" in again.stdout
    assert "added column params_window = 0 on earlier rows" in again.stdout
    assert "schema drift" not in again.stderr
    # earlier rows read back with the new schema; config ids unchanged
    assert rows(db, "SELECT DISTINCT params_window, params_max_words FROM predictions") == [
        (0, None)
    ]
    assert rows(db, "SELECT DISTINCT params_window FROM metrics") == [(0,)]
    assert rows(db, "SELECT DISTINCT config_id FROM predictions ORDER BY 1") == before
    done = validate(shared_python, project, db)
    assert done.returncode == 0, done.stdout
    assert "[ok]   null_params" in done.stdout and "params_max_words" in done.stdout
    assert PAIRED in compare(cli, db)
    # another value of the field is another configuration: computed, the others still reused
    edit("params.py", "    return [\n", "    return [Params(window=3)] + [\n")
    third = cli("run", "--db", db, "--limit", LIMIT, "--no-progress")
    assert f"{LIMIT} computed" in third.stdout
    assert f"{int(LIMIT) * CONFIGS} reused" in third.stdout


def test_a_declared_rename_recomputes_nothing(shared_python, project, cli, edit, tmp_path):
    db = tmp_path / "bench.db"
    cli("run", "--db", db, "--limit", LIMIT, "--no-progress")
    edit("params.py", "import Configuration", "import Configuration, renamed")
    field = '    word_list: str = renamed("lexicon", "base")'
    edit("params.py", '    lexicon: str = "base"', field)
    edit("params.py", "Params(lexicon=lexicon,", "Params(word_list=lexicon,")
    edit("predict.py", "params.lexicon", "params.word_list")
    # predict.py changed too: the guard stops the run until the change is declared neutral
    stopped = cli("run", "--db", db, "--limit", LIMIT, "--no-progress", check=False)
    assert stopped.returncode == 2
    assert "predict's code (predict.py) changed" in stopped.stderr
    assert "bump PREDICT_VERSION" in stopped.stderr and "--code-change-neutral" in stopped.stderr
    assert rows(db, "SELECT COUNT(DISTINCT track_id) FROM predictions") == [(1,)]
    again = cli("run", "--db", db, "--limit", LIMIT, "--no-progress", "--code-change-neutral")
    assert "0 computed" in again.stdout
    assert "renamed column params_lexicon to params_word_list" in again.stdout
    columns = {row[1] for row in rows(db, "PRAGMA table_info(predictions)")}
    assert "params_word_list" in columns and "params_lexicon" not in columns
    assert rows(db, "SELECT DISTINCT params_word_list FROM metrics ORDER BY 1") == [
        ("base",),
        ("extended",),
    ]
    per_run = int(LIMIT) * CONFIGS
    assert rows(db, "SELECT neutral_change, COUNT(*) FROM predictions GROUP BY 1 ORDER BY 1") == [
        (0, per_run),
        (1, per_run),
    ]
    done = validate(shared_python, project, db)
    assert done.returncode == 0, done.stdout
    assert PAIRED in compare(cli, db)
    # the neutral change is recorded: the next run goes on without the flag
    assert "0 computed" in cli("run", "--db", db, "--limit", LIMIT, "--no-progress").stdout


def test_a_predict_change_without_a_version_bump_stops(project, cli, edit, tmp_path):
    db, dev_db = tmp_path / "bench.db", tmp_path / "dev.db"
    cli("run", "--db", db, "--limit", LIMIT, "--no-progress")
    cli("run", "--dev", "--db", dev_db, "--limit", "2", "--no-progress")
    computed = rows(db, "SELECT COUNT(*) FROM predictions")
    # comments, docstrings and formatting are not code
    edit("predict.py", "import time\n", "import time  # timing\n\n\n# a note\n")
    same = cli("run", "--db", db, "--limit", LIMIT, "--no-progress")
    assert "0 computed" in same.stdout
    edit("predict.py", "params.negation", "not params.negation")
    stopped = cli("run", "--db", db, "--limit", LIMIT, "--no-progress", check=False)
    assert stopped.returncode == 2
    assert len(stopped.stderr.strip().splitlines()) == 1, stopped.stderr
    assert "predict's code (predict.py) changed" in stopped.stderr
    assert rows(db, "SELECT COUNT(*) FROM predictions") == [(computed[0][0] * 2,)]
    # a dev run warns only
    dev = cli("run", "--dev", "--db", dev_db, "--limit", "2", "--no-progress")
    assert "predict's code (predict.py) changed" in dev.stderr
    edit("predict.py", 'PREDICT_VERSION = "1"', 'PREDICT_VERSION = "2"')
    bumped = cli("run", "--db", db, "--limit", LIMIT, "--no-progress")
    assert f"{int(LIMIT) * CONFIGS} computed" in bumped.stdout
