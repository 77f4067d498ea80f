"""A comparison as a PNG: A vs B per configuration."""

import textwrap
from pathlib import Path

import numpy as np

from .core import row_directions
from .stats import BETTER, INCONCLUSIVE, WORSE


def plot(comparison: dict, path: Path) -> Path:
    """PNG: A vs B per configuration, one panel per plotted metric (the primary metric, then the
    per-datapoint means), the mark of B written next to its bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    configurations = comparison["configurations"]
    panels = [(comparison["primary"], "config")]
    panels += [(name, "datapoint") for name in row_directions()]
    # Labels: the params that differ between configurations, wrapped (as the report's plots).
    names = {name for c in configurations for name in c["params"]}
    varying = [
        n for n in sorted(names) if len({str(c["params"].get(n)) for c in configurations}) > 1
    ]
    labels = [
        textwrap.fill(
            ", ".join([c["config_id"], *(f"{n}={c['params'].get(n)}" for n in varying)]), 40
        )
        for c in configurations
    ]
    y = np.arange(len(configurations))
    colors = {WORSE: "tab:red", BETTER: "tab:green", INCONCLUSIVE: "tab:orange"}
    fig, axes = plt.subplots(
        1, len(panels), figsize=(5 * len(panels) + 2, 0.7 * len(configurations) + 2), sharey=True
    )
    axes = np.atleast_1d(axes)
    for ax, (name, per) in zip(axes, panels, strict=True):
        entries = [
            next((m for m in c["metrics"] if m["metric"] == name and m["per"] == per), None)
            for c in configurations
        ]
        values_a = [np.nan if m is None or m["a"] is None else m["a"] for m in entries]
        values_b = [np.nan if m is None or m["b"] is None else m["b"] for m in entries]
        ax.barh(y - 0.2, values_a, height=0.4, color="tab:gray", label="A")
        ax.barh(y + 0.2, values_b, height=0.4, color="tab:blue", label="B")
        top = np.nanmax([*values_a, *values_b, 0.0])
        for i, m in enumerate(entries):
            if m is not None:
                value = 0.0 if np.isnan(values_b[i]) else values_b[i]
                ax.text(
                    value + top * 0.02,
                    i + 0.2,
                    m["mark"],
                    va="center",
                    fontsize=8,
                    color=colors.get(m["mark"], "black"),
                )
        ax.set_xlim(0, top * 1.35 if top > 0 else 1)
        ax.set_title(name if per == "config" else f"{name} (mean per datapoint)")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="upper right", fontsize=8)
    axes[0].set_yticks(y, labels, fontsize=8)
    axes[0].invert_yaxis()
    fig.suptitle(
        f"A = {comparison['a']['track_id']} vs B = {comparison['b']['track_id']}", fontsize=10
    )
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
