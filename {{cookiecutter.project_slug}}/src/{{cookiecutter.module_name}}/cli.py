"""Command line: ``python -m {{ cookiecutter.module_name }} COMMAND`` (the Makefile calls these)."""

import json
import sys
from pathlib import Path

import typer
from tabulate import tabulate

from .data import load_items
from .harness import cache as result_cache
from .harness import run_view, runner
from .harness.app import (
    DEFAULT_ENGINE,
    DEFAULT_PARALLELISM,
    SCHEDULER_HELP,
    WORKERS_HELP,
    Engine,
    Journal,
    Parallelism,
    app,
)
from .harness.breaker import BREAKER_WINDOW, CircuitOpen
from .harness.dbfile import require_writable
from .harness.errors import DataError
from .harness.fingerprint import predict_fingerprint
from .harness.kind import TIMEOUT_SECONDS
from .harness.pools import Interrupted, leave
from .harness.run_checks import (
    apply_declared_changes,
    check_code_change,
    check_engine,
    check_error_rate,
    check_parallelism,
    check_scheduler,
    check_schema_drift,
    notice_code_change,
    print_summary,
    refuse_dirty_experiment,
)
from .harness.tracking import (
    ENGINE,
    PREDICTIONS,
    git_state,
    run_metadata,
)
from .metrics import PRIMARY
from .params import EXPERIMENT, grid
from .predict import PREDICT_VERSION

RESULTS_DB = Path("benchmark.db")
DEV_DB = Path("dev.db")  # dev runs never touch the results db or its cache
DEV_LIMIT = 10

# validation, cache_report and report import pandas and matplotlib (seconds): they are imported
# by their commands only, so `run` starts fast.


@app.command()
def run(
    dev: bool = typer.Option(False, help=f"Development run: first items only, into {DEV_DB}."),
    data: Path = typer.Option(
        None, exists=True, dir_okay=False, help="Dataset to run over (default: the bundled one)."
    ),
    limit: int = typer.Option(
        None, min=1, help=f"Use the first N items (dev default: {DEV_LIMIT})."
    ),
    experiment: str = typer.Option(EXPERIMENT, help="Experiment name recorded on every row."),
    db: Path = typer.Option(
        None, help=f"Results db (default {RESULTS_DB}, or {DEV_DB} with --dev)."
    ),
    parallelism: Parallelism = typer.Option(
        DEFAULT_PARALLELISM, help=f"How datapoints run (this project: {runner.CHOICES_TEXT})."
    ),
    workers: int = typer.Option(runner.WORKERS, help=WORKERS_HELP),
    scheduler: str = typer.Option("", help=SCHEDULER_HELP, show_default=False),
    engine: Engine = typer.Option(DEFAULT_ENGINE, help="xetrack engine for the metrics table."),
    cache_errors: bool = typer.Option(False, help="Cache failed datapoints too (default: retry)."),
    max_unsaved_seconds: float = typer.Option(
        runner.RunOptions.max_unsaved_seconds,
        help="Commit rows once they hold this much computation (0: commit every row).",
    ),
    journal: Journal = typer.Option(
        None,
        help="Results db journal: wal makes commits ~20x cheaper, safe against kill -9, not "
        "power loss [default: the db's own; a new db: delete, SQLite's rollback journal].",
        show_default=False,
    ),
    allow_dirty: bool = typer.Option(False, help="Run an experiment on uncommitted code."),
    allow_drift: bool = typer.Option(False, help="Run although params fields were renamed."),
    code_change_neutral: bool = typer.Option(
        False, help="predict's code changed but not its results: keep PREDICT_VERSION's cache."
    ),
    progress: bool = typer.Option(
        None, help="Show a progress bar [default: when stderr is a terminal]."
    ),
    timeout: float = typer.Option(
        TIMEOUT_SECONDS, help="Seconds per datapoint, then a Timeout error row (0: none)."
    ),
    breaker: int = typer.Option(
        BREAKER_WINDOW, help="Stop after N consecutive datapoints fail with the same error."
    ),
    no_breaker: bool = typer.Option(False, "--no-breaker", help="Never stop on failures."),
    max_error_rate: float = typer.Option(
        None, help="Exit 1 when more computed datapoints fail than this fraction [default: off]."
    ),
    replicate: int = typer.Option(0, min=0, help="Measure again as replicate N (README)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
):
    """Run every configuration of the grid over the dataset; cached results are reused."""
    parallelism, engine = parallelism.value, engine.value
    if progress is None:
        progress = sys.stderr.isatty()
    check_engine(engine)
    check_parallelism(parallelism, scheduler)
    phase = "dev" if dev else "experiment"
    db = db or (DEV_DB if dev else RESULTS_DB)
    require_writable(db)  # before anything is computed
    if dev and limit is None:
        limit = DEV_LIMIT
    git = git_state(Path.cwd(), ignore=(str(db), f"{db}.lock"))  # and *.db, side files ...
    refuse_dirty_experiment(phase, git, allow_dirty)
    configurations = grid()
    check_schema_drift(db, configurations, allow_drift)
    code = predict_fingerprint(__package__)
    neutral_change = check_code_change(db, phase, code, code_change_neutral)  # may stop the run
    notice_code_change(db, phase, git)
    metadata = run_metadata(
        experiment, phase, PREDICT_VERSION, git, git[1], code[0], neutral_change, replicate
    )
    options = runner.RunOptions(
        db=db,
        metadata=metadata,
        parallelism=parallelism,
        workers=workers,
        scheduler=scheduler,
        engine=engine,
        cache_errors=cache_errors,
        max_unsaved_seconds=max_unsaved_seconds,
        journal=journal.value if journal else "",
        progress=progress,
        timeout=timeout,
        breaker=0 if no_breaker else breaker,
        replicate=replicate,
    )
    check_scheduler(parallelism, scheduler)
    items = load_items(data, limit=limit)
    if not items:
        raise DataError(f"{data or 'the bundled dataset'}: no items to run: check it (and --limit)")
    apply_declared_changes(db, configurations)
    try:
        summary = runner.run(items, configurations, options)
    except Interrupted as stop:
        saved = stop.summary.computed + stop.summary.reused
        typer.echo(
            f"Interrupted: {saved} results saved in {db} ({stop.summary.computed} computed); run "
            "the same command again to resume (saved results are reused).",
            err=True,
        )
        leave(130)  # at once: a thread stuck in predict cannot hold the process
    except CircuitOpen as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(run_view.as_json(summary, phase, db, PRIMARY))
    else:
        print_summary(summary, phase, db)
    try:
        check_error_rate(summary, max_error_rate)
    except typer.Exit as stop:
        if summary.abandoned:  # threads stuck in a timed-out predict: do not wait for them
            leave(stop.exit_code)
        raise
    if summary.abandoned:
        leave(0)


@app.command()
def validate(
    db: Path = typer.Argument(RESULTS_DB, help="Results db."),
    table: str = typer.Argument(PREDICTIONS, help="Predictions table."),
    engine: Engine = typer.Option(DEFAULT_ENGINE, help="xetrack engine that reads the db."),
    as_json: bool = typer.Option(False, "--json", help="Print findings as JSON."),
    max_error_rate: float = typer.Option(
        None, help="Failed-datapoint rate above which validation fails [default: 0.2]."
    ),
    all_runs: bool = typer.Option(False, help="Row checks on every run, not only the latest."),
):
    """Check that results can be trusted; exit 1 when a check fails (a CI gate)."""
    engine = engine.value
    check_engine(engine)
    from .harness import validation

    if max_error_rate is None:
        max_error_rate = validation.MAX_ERROR_RATE
    findings = validation.validate(db, table, engine, max_error_rate, all_runs)
    typer.echo(validation.render(findings, as_json=as_json))
    raise typer.Exit(validation.exit_code(findings))


@app.command("cache")
def cache_analysis(
    db: Path = typer.Argument(RESULTS_DB, help="Results db."),
    table: str = typer.Argument(PREDICTIONS, help="Predictions table."),
    engine: Engine = typer.Option(DEFAULT_ENGINE, help="xetrack engine that reads the db."),
    as_json: bool = typer.Option(False, "--json", help="Print the analysis as JSON."),
):
    """Cache analysis: executions, hits, misses, per configuration, with advice."""
    engine = engine.value
    check_engine(engine)
    from .harness import cache_report

    stats = cache_report.analyze(db, table, engine=engine)
    typer.echo(json.dumps(stats, indent=2, default=str) if as_json else cache_report.render(stats))


@app.command("cache-ls")
def cache_ls(
    db: Path = typer.Argument(RESULTS_DB, help="Results db whose cache to list."),
    as_json: bool = typer.Option(False, "--json", help="Print the entries as JSON."),
):
    """List cache entries per configuration, and the cache's size on disk."""
    typer.echo(result_cache.listing(runner.cache_dir_for(db), as_json))


@app.command("cache-clear")
def cache_clear(
    db: Path = typer.Argument(RESULTS_DB, help="Results db whose cache to clear."),
    config: str = typer.Option(
        None, help="Clear one configuration (its config_id) only [default: all]."
    ),
):
    """Clear the cache (all of it, or one configuration): those datapoints are recomputed."""
    directory = runner.cache_dir_for(db)
    if config:
        store = result_cache.ResultCache(directory)
        typer.echo(f"removed {store.clear_config(config)} entries of configuration {config}")
        store.close()
    elif result_cache.clear_all(directory):
        typer.echo(f"removed {directory}")
    else:
        typer.echo(f"no cache at {directory}")
    result_cache.record_cleared(directory, config or "*")  # not restored from the db


@app.command("report")
def make_report(
    db: Path = typer.Argument(RESULTS_DB, help="Results db."),
    experiment: str = typer.Option(None, help="Experiment to report (default: the latest)."),
    engine: Engine = typer.Option(DEFAULT_ENGINE, help="xetrack engine that reads the db."),
    out: Path = typer.Option(Path("reports"), help="Folder for reports/<experiment>/."),
):
    """Write reports/<experiment>/README.md with tables and PNG plots."""
    engine = engine.value
    check_engine(engine)
    from .harness import report

    path = report.write_report(db, out, experiment=experiment, engine=engine)
    typer.echo(f"wrote {path}")


@app.command("compare")
def compare_runs(
    a: str = typer.Argument(
        None, help="Run A (baseline): run id, experiment name or git commit [default: see B]."
    ),
    b: str = typer.Argument(
        None, help="Run B: same forms [default: the last two experiment runs are A and B]."
    ),
    db: Path = typer.Option(RESULTS_DB, help="Results db (B, and A unless --baseline-db)."),
    baseline_db: Path = typer.Option(
        None, help="Look A up in this db, e.g. a stored baseline [default A: its latest run]."
    ),
    engine: Engine = typer.Option(DEFAULT_ENGINE, help="xetrack engine that reads the db."),
    threshold: float = typer.Option(
        0.05, help="Relative change within which a metric without its own threshold is unchanged."
    ),
    metric_threshold: list[str] = typer.Option(
        None,
        help="NAME=VALUE: one metric's threshold (points for proportions; repeatable) "
        "[default: the kind's, else --threshold].",
    ),
    confidence: float = typer.Option(0.95, help="Level of the paired bootstrap interval."),
    resamples: int = typer.Option(1000, help="Bootstrap resamples."),
    seed: int = typer.Option(0, help="Bootstrap seed (same inputs, same answer)."),
    gate: list[str] = typer.Option(
        None,
        help="Metric --fail-on-regression checks (name, glob, '*' or 'primary'; repeatable) "
        "[default: primary and error_rate].",
    ),
    fail_on_regression: bool = typer.Option(
        False, help="Exit 1 when a gated metric is significantly worse beyond its threshold."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
    as_markdown: bool = typer.Option(False, "--markdown", help="Print it as Markdown."),
    plot: bool = typer.Option(True, help="Write a PNG: A vs B per configuration."),
    png: Path = typer.Option(None, help="PNG path [default: reports/compare/A_vs_B.png]."),
):
    """Compare two runs metric by metric: better, worse or unchanged beyond noise."""
    engine = engine.value
    check_engine(engine)
    from .harness import compare as comparing

    thresholds = {}
    for item in metric_threshold or []:
        name, _, value = item.partition("=")
        try:
            thresholds[name] = float(value)
        except ValueError:
            typer.echo(f"--metric-threshold {item!r}: expected NAME=NUMBER", err=True)
            raise typer.Exit(2) from None
    options = comparing.Options(
        threshold, thresholds, confidence, resamples, seed, gate=tuple(gate or ())
    )
    try:
        comparison = comparing.compare(db, a, b, baseline_db, engine, options)
    except LookupError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    if plot:
        a_id, b_id = comparison["a"]["track_id"], comparison["b"]["track_id"]
        png = comparing.plot(comparison, png or Path("reports", "compare", f"{a_id}_vs_{b_id}.png"))
        comparison["plot"] = str(png)
    if as_json:
        typer.echo(comparing.to_json(comparison, gate))
    elif as_markdown:
        typer.echo(comparing.markdown(comparison, gate, image=str(png) if plot else None))
    else:
        typer.echo(comparing.render(comparison, gate))
    if plot and not as_json:
        typer.echo(f"wrote {png}", err=True)
    if fail_on_regression and comparing.regressions(comparison, gate):
        raise typer.Exit(1)


@app.command("clean-dev")
def clean_dev():
    """Delete the dev db and its cache."""
    marker = result_cache.cleared_marker(runner.cache_dir_for(DEV_DB))
    for path in (DEV_DB, Path(f"{DEV_DB}.lock"), marker):
        path.unlink(missing_ok=True)
    result_cache.clear_all(runner.cache_dir_for(DEV_DB))
    typer.echo(f"removed {DEV_DB} and its cache")


@app.command("rank")
def rank_configurations(
    run_selector: str = typer.Argument(
        None, metavar="RUN", help="Run id, experiment name or git commit [default: the latest]."
    ),
    db: Path = typer.Option(RESULTS_DB, help="Results db."),
    engine: str = typer.Option(ENGINE, help="sqlite or duckdb."),
    as_json: bool = typer.Option(False, "--json", help="Print the ranking as JSON."),
):
    """Rank one run's configurations on the primary metric: the best, those within noise of it
    and those significantly worse (paired tests on shared datapoints, Holm-corrected)."""
    check_engine(engine)
    from .harness.compare import ranking

    try:
        result = ranking.rank(db, run_selector, engine)
    except LookupError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    typer.echo(f"run {result['run']['track_id']}: configurations by {result['primary']}")
    typer.echo(tabulate(ranking.rank_table(result), "keys", disable_numparse=True))


@app.command("plan")
def plan_sample_size(
    delta: float = typer.Option(..., help="Difference in the primary metric to detect."),
    power: float = typer.Option(0.8, help="Probability of detecting it."),
    alpha: float = typer.Option(0.05, help="Two-sided significance level."),
    comparisons: int = typer.Option(1, help="Comparisons tested at once (alpha is divided)."),
    db: Path = typer.Option(DEV_DB, help="A dev or earlier run's db."),
    run_selector: str = typer.Option(None, "--run", help="Run [default: the db's latest]."),
    engine: str = typer.Option(ENGINE, help="sqlite or duckdb."),
    as_json: bool = typer.Option(False, "--json", help="Print the plan as JSON."),
):
    """Datapoints needed to detect a difference in the primary metric (paired, at --power)."""
    check_engine(engine)
    from .harness.compare import planning

    if not (delta > 0 and 0 < power < 1 and 0 < alpha < 1 and comparisons >= 1):
        typer.echo("plan: need --delta > 0, 0 < --power < 1, 0 < --alpha < 1", err=True)
        raise typer.Exit(2)
    try:
        result = planning.plan(db, delta, power, alpha, comparisons, run_selector, engine)
    except LookupError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(result, indent=2) if as_json else planning.describe(result))
