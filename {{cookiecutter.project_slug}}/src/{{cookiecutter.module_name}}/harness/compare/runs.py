"""The runs of the predictions table, and which two to compare.

A and B are picked by run id (track_id), experiment name or git commit (a prefix will do); when
not named, the last two experiment runs of the db (or the latest run of each db).
"""

from pathlib import Path

from ..level_checks import measured  # rows of interrupted load levels are not measurements
from ..tracking import PREDICTIONS, read_table, table_exists
from . import between
from .load import run_list
from .stats import plain

RUN_COLUMNS = ("experiment", "phase", "git_commit", "git_dirty", "forced", "predict_version")
RUN_COLUMNS += ("predict_fingerprint", "replicate")  # between.py: which runs are replicates


def runs(predictions) -> list[dict]:
    """One dict per run of the predictions table (track_id, started, metadata), oldest first."""
    if predictions is None or predictions.empty:
        return []
    columns = [c for c in RUN_COLUMNS if c in predictions.columns]
    grouped = predictions.groupby("track_id", sort=False)
    first = grouped[columns].first() if columns else None
    started, sizes = grouped["timestamp"].min(), grouped.size()
    found = []
    for track_id in started.sort_values().index:
        run = {
            "track_id": track_id,
            "started": str(started[track_id]),
            "rows": int(sizes[track_id]),
        }
        for column in columns:
            run[column] = plain(first.loc[track_id, column])
        found.append(run)
    return found


def describe_run(run: dict) -> str:
    commit = (run.get("git_commit") or "")[:8] or "none"
    return (
        f"run {run['track_id']} ({run.get('phase') or '?'}, experiment {run.get('experiment')!r}, "
        f"commit {commit}, predict {run.get('predict_version')}, {run['started'][:19]})"
    )


def preferred(candidates: list[dict]) -> list[dict]:
    """Experiment-phase runs when there are any (dev runs are subsets), else all of them."""
    experiment = [r for r in candidates if r.get("phase") == "experiment"]
    return experiment or candidates


def resolve(all_runs: list[dict], selector: str) -> dict:
    """The run a selector names: a run id, else an experiment name (its latest run), else a git
    commit or a prefix of one (its latest run). LookupError when none or several match."""
    if not all_runs:
        raise LookupError("the db has no run")
    by_id = [r for r in all_runs if r["track_id"] == selector]
    if by_id:
        return by_id[0]
    named = [r for r in all_runs if r.get("experiment") == selector]
    if named:
        return preferred(named)[-1]
    commits = {r.get("git_commit") for r in all_runs if r.get("git_commit")}
    matching = sorted(c for c in commits if len(selector) >= 4 and c.startswith(selector))
    if len(matching) > 1:
        raise LookupError(f"{selector!r} is a prefix of several commits: {matching}")
    if matching:
        return preferred([r for r in all_runs if r.get("git_commit") == matching[0]])[-1]
    known = "\n".join(f"  {describe_run(r)}" for r in all_runs[-10:])
    raise LookupError(
        f"no run, experiment or git commit {selector!r} in the db; latest runs:\n{known}"
    )


def default_runs(runs_a: list[dict], runs_b: list[dict], same_db: bool) -> tuple[dict, dict]:
    """(A, B) when not named: the last two (experiment-phase) runs of one db, or the latest run
    of each db."""
    if same_db:
        candidates = preferred(runs_b)
        if len(candidates) < 2:
            raise LookupError(
                f"comparing needs two runs, the db has {len(candidates)}: run the benchmark again "
                "(with other code or params), or name A and B"
            )
        return between.default_pair(candidates)  # the last two, or the last two codes
    if not runs_a or not runs_b:
        raise LookupError("each db needs at least one run")
    return preferred(runs_a)[-1], preferred(runs_b)[-1]


def select(
    db: Path,
    a: str | None = None,
    b: str | None = None,
    baseline_db: Path | None = None,
    engine: str = "sqlite",
):
    """((rows A, run A), (rows B, run B)) read from the db(s) as DataFrames of the whole table
    (the report's way; ``pick`` finds the same runs in SQL); LookupError if a run is missing.

    B is looked up in ``db``, A in ``baseline_db`` if given (a stored baseline), else in ``db``.
    Unnamed runs default as in ``default_runs``; A alone compares A with the latest run.
    """
    predictions_b = read_table(db, PREDICTIONS, engine)
    if predictions_b is None:
        raise LookupError(f"{db} has no predictions table: run the benchmark first")
    if baseline_db is None:
        predictions_a = predictions_b
    else:
        predictions_a = read_table(baseline_db, PREDICTIONS, engine)
        if predictions_a is None:
            raise LookupError(f"{baseline_db} has no predictions table")
    run_a, run_b = choose(runs(predictions_a), runs(predictions_b), a, b, db, baseline_db)
    rows_a = measured(predictions_a[predictions_a["track_id"] == run_a["track_id"]])
    rows_b = measured(predictions_b[predictions_b["track_id"] == run_b["track_id"]])
    return (rows_a, run_a), (rows_b, run_b)


def pick(db: Path, a: str | None = None, b: str | None = None, baseline_db: Path | None = None):
    """(run A, run B) as ``select`` picks them, from one GROUP BY per db (no rows read)."""
    if not table_exists(db, PREDICTIONS):
        raise LookupError(f"{db} has no predictions table: run the benchmark first")
    if baseline_db is not None and not table_exists(baseline_db, PREDICTIONS):
        raise LookupError(f"{baseline_db} has no predictions table")
    runs_b = run_list(db, RUN_COLUMNS)
    runs_a = runs_b if baseline_db is None else run_list(baseline_db, RUN_COLUMNS)
    return choose(runs_a, runs_b, a, b, db, baseline_db)


def choose(runs_a: list[dict], runs_b: list[dict], a, b, db, baseline_db) -> tuple[dict, dict]:
    """The runs selectors ``a`` and ``b`` name (see ``select``), with where they were found."""
    default_a, default_b = (None, None)
    if a is None or b is None:
        if a is not None:
            default_b = preferred(runs_b)[-1] if runs_b else None
            if default_b is None:
                raise LookupError(f"{db} has no run")
        else:
            default_a, default_b = default_runs(runs_a, runs_b, same_db=baseline_db is None)
    run_a = resolve(runs_a, a) if a is not None else default_a
    run_b = resolve(runs_b, b) if b is not None else default_b
    run_a = {**run_a, "selector": a or "default", "db": str(baseline_db or db)}
    run_b = {**run_b, "selector": b or "default", "db": str(db)}
    return run_a, run_b
