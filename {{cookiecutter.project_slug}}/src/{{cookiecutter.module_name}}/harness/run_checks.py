"""The checks around a run, before it starts (engine, parallelism, uncommitted code, schema
drift, predict's code fingerprint, a dask scheduler) and after it (the summary, the error rate).
Each stops with its reason and the fix, or prints a notice."""

from pathlib import Path

import typer

from . import run_view, runner
from .errors import ParallelismUnavailable
from .fingerprint import recorded_fingerprint
from .kind import PRIMARY, predict_module
from .schema import declared, migrate, params_drift
from .tracking import (
    METRICS,
    PREDICTIONS,
    flatten,
    git_diff_stat,
    last_commit,
    require_engine,
)


def check_engine(engine: str) -> None:
    """Exit with the reason and the fix if ``engine`` cannot be used (before any work)."""
    require_engine(engine)  # an OperationalError: one line, exit status 2 (App)


def check_parallelism(parallelism: str, scheduler: str) -> None:
    """Exit with the reason and the fix if ``parallelism`` cannot be used (before any work)."""
    runner.require_parallelism(parallelism, scheduler)  # an OperationalError: exit status 2


def refuse_dirty_experiment(phase: str, git: tuple[str, bool], allow_dirty: bool) -> None:
    if phase == "experiment" and git[1] and not allow_dirty:
        typer.echo(
            "Refusing an experiment run on uncommitted changes: results could not be tied to "
            "code. Commit first, or pass --allow-dirty (recorded as forced=1 on every row).",
            err=True,
        )
        raise typer.Exit(2)


def check_schema_drift(db: Path, configurations: list, allow_drift: bool) -> None:
    """Report params fields renamed since the db's rows; stop unless --allow-drift."""
    changes = declared(type(configurations[0]))
    drift = params_drift(db, PREDICTIONS, set(flatten("params", configurations[0])), changes)
    for line in drift.describe(PREDICTIONS):
        typer.echo(f"schema drift: {line}", err=True)
    if drift.blocking and not allow_drift:
        typer.echo("Stopped before writing anything; pass --allow-drift to run anyway.", err=True)
        raise typer.Exit(2)


def notice_code_change(db: Path, phase: str, git: tuple[str, bool]) -> None:
    """Print what changed since the db's last experiment run (a notice on stderr, never a stop)."""
    previous = last_commit(db) if phase == "experiment" else ""
    if previous and git[0] and previous != git[0]:
        typer.echo(
            f"Code changed since the last experiment run ({previous[:8]} -> {git[0][:8]}):",
            err=True,
        )
        typer.echo(git_diff_stat(Path.cwd(), previous), err=True)


def check_code_change(db: Path, phase: str, code: tuple, neutral_change: bool) -> bool:
    """Stop an experiment run whose predict code changed without a PREDICT_VERSION bump
    (``code``: predict_fingerprint's digest and modules); a dev run only warns. True when the
    code changed and ``neutral_change`` declares it neutral (recorded on the rows)."""
    fingerprint, modules = code
    recorded = recorded_fingerprint(db, predict_module.PREDICT_VERSION)
    changed = bool(recorded) and recorded != fingerprint
    if not changed or neutral_change:
        return changed
    files = ", ".join(f"{name}.py" for name in modules)
    version = predict_module.PREDICT_VERSION
    typer.echo(
        f"predict's code ({files}) changed since {db}'s last run (fingerprint {recorded} -> "
        f"{fingerprint}) but PREDICT_VERSION is still {version!r}: bump PREDICT_VERSION "
        "in predict.py to recompute, or pass "
        "--code-change-neutral if results cannot change (recorded as neutral_change=1).",
        err=True,
    )
    if phase == "experiment":
        raise typer.Exit(2)
    return False


def apply_declared_changes(db: Path, configurations: list) -> None:
    """Bring earlier rows to the Params schema: declared renames and neutral fields."""
    changes = declared(type(configurations[0]))
    for table in (PREDICTIONS, METRICS):
        for line in migrate(db, table, changes):
            typer.echo(f"schema: {line}")


def check_scheduler(parallelism: str, scheduler: str) -> None:
    """dask: an unreachable scheduler stops the run before anything is written."""
    if parallelism != "dask":
        return
    try:
        runner.require_scheduler(scheduler)
    except ParallelismUnavailable as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None


def print_summary(summary: runner.RunSummary, phase: str, db: Path) -> None:
    typer.echo(
        f"run {summary.track_id} ({phase}) into {db}: {summary.computed} computed, "
        f"{summary.reused} reused from cache, {summary.failed} failed, {summary.seconds:.1f}s"
        + (f", {summary.healed} results of a killed run recovered" if summary.healed else "")
        + (f", {summary.duplicates} duplicate datapoints skipped" if summary.duplicates else "")
    )
    typer.echo(run_view.render(summary.metrics, summary.errors, PRIMARY))


def check_error_rate(summary: runner.RunSummary, max_error_rate: float | None) -> None:
    """--max-error-rate: exit 1 when the run's computed datapoints failed more often."""
    if max_error_rate is None or not summary.computed:
        return
    rate = summary.failed / summary.computed
    if rate > max_error_rate:
        typer.echo(
            f"error rate {rate:.1%} ({summary.failed} of {summary.computed} computed datapoints "
            f"failed) is above --max-error-rate {max_error_rate:g}",
            err=True,
        )
        raise typer.Exit(1)
