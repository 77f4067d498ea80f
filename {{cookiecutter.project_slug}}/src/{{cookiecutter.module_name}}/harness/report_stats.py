"""The report's uncertainty: each configuration's metrics with 95% intervals, the ranking on the
primary metric (best, within noise of it, worse), and the primary metric with error bars.

Built on compare.ranking (Wilson intervals for proportions, bootstrap for the rest, paired tests
against the best configuration, Holm-corrected).
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from tabulate import tabulate  # noqa: E402

from .compare.ranking import rank_table  # noqa: E402
from .kind import HIGHER_IS_BETTER, PER_CLASS, PRIMARY  # noqa: E402
from .report_data import class_counts  # noqa: E402

SECONDS = ("latency_mean", "latency_p50", "latency_p95", "latency_p99")  # shown in ms


def cell(value, ci, scale: float = 1.0) -> str:
    if value is None:
        return "-"
    text = f"{value * scale:.4g}"
    if ci and ci[0] is not None:
        text += f" [{ci[0] * scale:.4g}, {ci[1] * scale:.4g}]"
    return text


def intervals_table(ranking: dict) -> list[dict]:
    """One row per configuration (rank order): each metric with its 95% interval."""
    rows = []
    for number, config in enumerate(ranking["configurations"], 1):
        row = {"rank": number}
        for name in HIGHER_IS_BETTER:
            ms = name in SECONDS
            column = f"{name.removeprefix('latency_')} (ms)" if ms else name
            value = config["values"].get(name)
            row[column] = cell(value, config["ci"].get(name), 1000.0 if ms else 1.0)
        rows.append(row)
    return rows


def plot_primary(ranking: dict, labels: list[str], path: Path) -> None:
    """The primary metric per configuration with its 95% interval as error bars."""
    configurations = ranking["configurations"]
    values = np.array([np.nan if c["value"] is None else c["value"] for c in configurations])
    lows = np.array([(c["ci"].get(PRIMARY) or [np.nan])[0] or np.nan for c in configurations])
    highs = np.array(
        [(c["ci"].get(PRIMARY) or [np.nan, np.nan])[1] or np.nan for c in configurations]
    )
    errors = np.vstack([np.clip(values - lows, 0, None), np.clip(highs - values, 0, None)])
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(configurations) + 1.5))
    y = np.arange(len(configurations))
    colors = ["tab:green" if c["status"] == "best" else "tab:blue" for c in configurations]
    ax.barh(y, values, xerr=np.nan_to_num(errors), color=colors, capsize=3)
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"{PRIMARY} (bars: 95% interval)")
    ax.set_title(f"{PRIMARY} per configuration, best first")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def per_class_section(counts, label: str) -> list[str]:
    """Precision and recall of each class, for one configuration (failed datapoints: wrong);
    ``counts``: its (ground_truth, prediction, error, count) rows (report_data.class_counts)."""
    failed = counts["error"].fillna("").astype(str) != "" if "error" in counts else False
    truth = counts["ground_truth"].astype(str)
    predicted = counts["prediction"].astype(str).where(~failed, "")
    weight = counts["count"]
    table = []
    for name in sorted(set(truth)):
        hits = int(weight[(predicted == name) & (truth == name)].sum())
        said, support = int(weight[predicted == name].sum()), int(weight[truth == name].sum())
        table.append(
            {
                "class": name,
                "support": support,
                "predicted": said,
                "precision": f"{hits / said:.3f}" if said else "-",
                "recall": f"{hits / support:.3f}" if support else "-",
            }
        )
    return [
        "## Per class (best configuration)",
        "",
        f"Configuration {label}; failed datapoints count as predicting no class.",
        "",
        tabulate(table, "keys", tablefmt="github", disable_numparse=True),
        "",
    ]


def uncertainty_sections(ranking: dict, folder: Path, connection, track_id: str) -> list[str]:
    """The report's sections: ranking, metrics with intervals, and the error-bar plot, from
    ``ranking`` (compare.ranking: read one configuration at a time); the per-class table of the
    best configuration counted in SQL (``connection``)."""
    table = rank_table(ranking)
    varying = [k for k in table[0] if k not in ("rank", PRIMARY, "95% CI", "vs best")][:-2]
    labels = [", ".join(f"{k}={row[k]}" for k in varying) or str(row["rank"]) for row in table]
    plot_primary(ranking, labels, Path(folder) / f"{PRIMARY}_ci.png")
    best = ranking["configurations"][0]["config_id"] if ranking["configurations"] else None
    if PER_CLASS and best:
        per_class = per_class_section(class_counts(connection, track_id, best), labels[0])
    else:
        per_class = []
    return [
        *per_class,
        "## Ranking",
        "",
        f"Configurations by {PRIMARY}, each against the best on the datapoints both ran (paired "
        "permutation test, Holm-corrected): *within noise* when the difference is not "
        "significant at 0.05, *worse than the best* when it is.",
        "",
        tabulate(table, "keys", tablefmt="github", disable_numparse=True),
        "",
        f"![{PRIMARY} with 95% intervals]({PRIMARY}_ci.png)",
        "",
        "## Metrics with 95% intervals",
        "",
        "Wilson intervals for proportions, bootstrap intervals (datapoints resampled) for the "
        "rest; rows in rank order.",
        "",
        tabulate(intervals_table(ranking), "keys", tablefmt="github", disable_numparse=True),
        "",
    ]
