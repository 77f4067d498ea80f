"""The report: reports/<experiment>/README.md with metric tables and PNG plots.

Every kind gets the main metric per configuration and the latency distribution; a kind's
metrics.py may add its own plots with ``extra_plots(metrics, predictions, labels, folder)``,
which writes PNGs into ``folder`` and returns their (title, file name) pairs. When an earlier
run of the same phase exists, a last section compares the run with it (the compare package).
"""

import dataclasses
import textwrap
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from tabulate import tabulate  # noqa: E402

from . import report_data, sql  # noqa: E402
from .compare import markdown, plot  # noqa: E402
from .errors import OperationalError  # noqa: E402
from .kind import HIGHER_IS_BETTER, PRIMARY, PRIMARY_LABEL, Params  # noqa: E402
from .kind import extra_plots as kind_extra_plots  # noqa: E402
from .replicates import replicates_section  # noqa: E402
from .report_pass import rank_and_compare  # noqa: E402
from .report_stats import uncertainty_sections  # noqa: E402
from .tracking import METRICS, PREDICTIONS, read_table, table_exists  # noqa: E402

LATENCY_COLUMNS = ["latency_mean", "latency_p50", "latency_p95", "latency_p99"]
# The kind's metrics (latencies get their own columns, in ms), then the counts.
METRIC_COLUMNS = [m for m in HIGHER_IS_BETTER if m not in LATENCY_COLUMNS]
METRIC_COLUMNS += ["n", "n_failed", "n_computed", "n_reused"]
PACKAGE = __name__.split(".")[0]  # the project's package: `python -m` runs its cli


def latest_experiment_run(metrics: pd.DataFrame, experiment: str | None) -> tuple[str, str]:
    """(experiment, track_id) of the latest completed run, of ``experiment`` if given."""
    all_metrics = metrics
    if experiment is not None:
        metrics = metrics[metrics["experiment"] == experiment]
        if metrics.empty:
            known = ", ".join(sorted(map(str, set(all_metrics["experiment"])))) or "none"
            raise OperationalError(
                f"no completed run of experiment {experiment!r}: use one of "
                f"{known} (--experiment), or run it first"
            )
    last = metrics.sort_values("timestamp").iloc[-1]
    return last["experiment"], last["track_id"]


def plot_metric(metrics: pd.DataFrame, labels: list[str], path: Path) -> None:
    values = metrics[PRIMARY].astype(float)
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(labels) + 1.5))
    ax.barh(labels, values, color="tab:blue")
    ax.set_xlabel(PRIMARY_LABEL)
    ax.set_title(f"{PRIMARY.replace('_', ' ').capitalize()} per configuration")
    ax.invert_yaxis()
    ax.bar_label(ax.containers[0], fmt="%.3g", padding=3)
    ax.set_xlim(0, values.max() * 1.15 if values.max() > 0 else 1)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_latency(latencies: list, labels: list[str], path: Path) -> None:
    """A box per configuration, from its latencies in seconds (report_data.latencies)."""
    data = [values * 1000 for values in latencies]
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(labels) + 1.5))
    ax.boxplot(data, orientation="horizontal", showfliers=True)
    ax.set_yticks(range(1, len(labels) + 1), labels)
    ax.set_xscale("log")  # a few slow datapoints would otherwise squash every box
    ax.set_xlabel("latency per datapoint (ms, log scale)")
    ax.set_title("Latency distribution per configuration")
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def read_metrics(db: Path, engine: str) -> pd.DataFrame:
    """The metrics table (one row per run and configuration: small); OperationalError when no
    run has completed. The predictions table is read with SQL (report_data), a run at a time."""
    metrics = read_table(db, METRICS, engine)
    if metrics is None or metrics.empty or not table_exists(db, PREDICTIONS):
        raise OperationalError(f"{db} has no completed run to report: run the benchmark first")
    return metrics


def best_first(metrics: pd.DataFrame, track_id: str) -> pd.DataFrame:
    """The run's metric rows, best configuration first (the order of tables and plots)."""
    metrics = metrics[metrics["track_id"] == track_id]
    ascending = not HIGHER_IS_BETTER.get(PRIMARY, True)
    metrics = metrics.sort_values([PRIMARY, "config_id"], ascending=[ascending, True])
    return metrics.reset_index(drop=True)


def param_columns(metrics: pd.DataFrame) -> list[str]:
    return sorted(c for c in metrics.columns if c.startswith("params_"))


def varying_columns(metrics: pd.DataFrame) -> list[str]:
    """The params columns that differ between configurations (all of them when none does)."""
    params = param_columns(metrics)
    return [c for c in params if metrics[c].astype(str).nunique() > 1] or params


def readable(value, boolean: bool):
    """A param as a person reads it: booleans true/false (the db stores 1/0)."""
    if boolean and value is not None and not pd.isna(value):
        return str(bool(value)).lower()
    return value


def params_table(metrics: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The ``columns`` of params, named without their prefix, booleans as true/false."""
    booleans = {f.name for f in dataclasses.fields(Params) if f.type in (bool, "bool")}
    table = pd.DataFrame(index=metrics.index)
    for column in columns:
        name = column.removeprefix("params_")
        table[name] = [readable(v, name in booleans) for v in metrics[column]]
    return table


def plot_labels(metrics: pd.DataFrame) -> list[str]:
    """One per configuration: the params that differ between configurations, wrapped to keep
    plots wide."""
    table = params_table(metrics, varying_columns(metrics))
    return [
        textwrap.fill(", ".join(f"{k}={v}" for k, v in row.items()), 40)
        for _, row in table.iterrows()
    ]


def write_plots(
    metrics: pd.DataFrame, run: pd.DataFrame, latencies: list, folder: Path
) -> list[tuple[str, str]]:
    """The PNGs of the report into ``folder``; the kind's extra plots as (title, file name)."""
    labels = plot_labels(metrics)
    plot_metric(metrics, labels, folder / f"{PRIMARY}.png")
    plot_latency(latencies, labels, folder / "latency.png")
    return kind_extra_plots(metrics, run, labels, folder) if kind_extra_plots else []


def heading_lines(experiment: str, track_id: str, first: dict) -> list[str]:
    """The title and when, from what code, the run ran (``first``: its first row)."""
    forced = " (uncommitted changes, forced)" if first.get("forced") else ""
    return [
        f"# Report: {experiment}",
        "",
        f"Run `{track_id}` at {first['timestamp'][:19]}, git commit "
        f"`{first.get('git_commit') or 'none'}`{forced}, "
        f"predict version {first.get('predict_version')}, Python {first.get('python_version')}.",
        "",
    ]


def configurations_section(metrics: pd.DataFrame) -> list[str]:
    """The params that vary, one row per configuration (best first); the others in a line."""
    varying = varying_columns(metrics)
    fixed = [c for c in param_columns(metrics) if c not in varying]
    shared = params_table(metrics.iloc[:1], fixed).iloc[0] if fixed else {}
    line = ", ".join(f"{k}={v}" for k, v in shared.items())
    return [
        "## Configurations",
        "",
        *([f"Same in every configuration: {line}.", ""] if line else []),
        tabulate(params_table(metrics, varying), "keys", tablefmt="github", showindex=False),
        "",
    ]


def metrics_section(metrics: pd.DataFrame) -> list[str]:
    latency_ms = metrics[LATENCY_COLUMNS] * 1000
    latency_ms.columns = [f"{c.removeprefix('latency_')} (ms)" for c in LATENCY_COLUMNS]
    return [
        "## Metrics",
        "",
        tabulate(
            pd.concat(
                [
                    params_table(metrics, varying_columns(metrics)),
                    metrics[METRIC_COLUMNS],
                    latency_ms,
                ],
                axis=1,
            ),
            "keys",
            tablefmt="github",
            showindex=False,
            floatfmt=".4g",
        ),
        "",
        f"![{PRIMARY} per configuration]({PRIMARY}.png)",
        "",
    ]


def latency_section() -> list[str]:
    return [
        "## Latency",
        "",
        "Measured inside predict, in milliseconds; rows reused from the cache carry the latency "
        "of the computation they reuse.",
        "",
        "![Latency distribution per configuration](latency.png)",
        "",
    ]


def extra_plot_sections(extra: list[tuple[str, str]]) -> list[str]:
    """A section per plot of the kind's ``extra_plots``, from its (title, file name) pairs."""
    lines = []
    for title, name in extra:
        lines += [f"## {title}", "", f"![{title}]({name})", ""]
    return lines


def errors_section(counted: list[tuple], metrics: pd.DataFrame) -> list[str]:
    """Failed datapoints per configuration (named by the params that vary) and error type;
    ``counted``: (config_id, error_type, count) rows (report_data.error_counts)."""
    if not counted:
        return ["## Errors", "", "No datapoint failed.", ""]
    counts = pd.DataFrame(counted, columns=["config_id", "error_type", "count"])
    labels = dict(zip(metrics["config_id"], plot_labels(metrics), strict=True))
    counts["config_id"] = [" ".join(labels.get(c, c).split()) for c in counts["config_id"]]
    counts = counts.rename(columns={"config_id": "configuration"})
    return ["## Errors", "", tabulate(counts, "keys", tablefmt="github", showindex=False), ""]


def cache_section(rows: int, reused: int) -> list[str]:
    return [
        "## Cache",
        "",
        f"{rows - reused} datapoints computed, {reused} served from the cache "
        f"({reused / max(rows, 1):.1%}).",
        "",
    ]


def comparison_section(comparison: dict | None, folder: Path) -> list[str]:
    """The comparison with the previous run of the same phase (report_pass.rank_and_compare;
    none when the run is the first), and its PNG in ``folder``."""
    if comparison is None:
        return []
    title = "Compared with the previous run"
    if same_results(comparison):
        return [f"## {title}", "", same_results(comparison), ""]
    plot(comparison, Path(folder) / "compare.png")
    text = markdown(comparison, level=2, title=title, image="compare.png")
    hint = (
        f"Any two runs: `python -m {PACKAGE} compare A B` (`--markdown`, `--json`); "
        'README, "Comparing runs".'
    )
    return [*text.rstrip("\n").splitlines(), "", hint, ""]


def same_results(comparison: dict) -> str:
    """One line when the run repeats the previous one exactly (a cache replay), else ""."""
    configurations = comparison["configurations"]
    if not configurations or any(c["status"] != "both" for c in configurations):
        return ""
    if any(
        m["reason"] != "equal" and m["mark"] != "n/a" for c in configurations for m in c["metrics"]
    ):
        return ""
    return (
        f"Same results as run `{comparison['a']['track_id']}`: every metric of all "
        f"{len(configurations)} configurations is equal (a replay of cached results)."
    )


def write_report(
    db: Path, out: Path, experiment: str | None = None, engine: str = "sqlite"
) -> Path:
    """reports/<experiment>/README.md and its PNGs, of the latest completed run (of
    ``experiment`` if given)."""
    metrics = read_metrics(db, engine)
    try:
        experiment, track_id = latest_experiment_run(metrics, experiment)
    except OperationalError as error:
        raise OperationalError(f"{db}: {error}") from None
    metrics = best_first(metrics, track_id)
    folder = Path(out) / experiment
    folder.mkdir(parents=True, exist_ok=True)
    with closing(sql.connect(db)) as connection, ThreadPoolExecutor(1) as pool:
        # the run's counts and latencies are read in a thread (SQLite sorts and steps without
        # holding the GIL) while the ranking and the comparison compute
        config_ids = list(metrics["config_id"])
        reading = pool.submit(report_data.run_aggregates, db, track_id, config_ids)
        # one read of each run, one configuration at a time, for the ranking and the comparison
        ranking, comparison = rank_and_compare(connection, db, track_id)
        read = reading.result()
        # the run's rows only for a kind's extra plots (its ``predictions``), let go after them
        run = report_data.run_frame(connection, track_id) if kind_extra_plots else None
        extra = write_plots(metrics, run, read.pop("latencies"), folder)
        del run
        lines = [
            *heading_lines(experiment, track_id, read["first_row"]),
            *configurations_section(metrics),
            *metrics_section(metrics),
            *uncertainty_sections(ranking, folder, connection, track_id),  # intervals, ranking
            *latency_section(),
            *extra_plot_sections(extra),
            *errors_section(read["error_counts"], metrics),
            *cache_section(*read["cache_counts"]),
            # measurements between replicate runs (the run's configurations: their params)
            *replicates_section(db, read["configurations"], track_id),
            *comparison_section(comparison, folder),  # after an earlier run
        ]
    path = folder / "README.md"
    path.write_text("\n".join(lines))
    return path
