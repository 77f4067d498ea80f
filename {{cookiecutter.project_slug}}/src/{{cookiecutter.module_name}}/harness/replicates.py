"""The report's machine measurements between replicates (``run --replicate N``).

Latency, requests/s and the kind's other MEASUREMENTS vary from run to run with the machine's
load; the intervals of one run (datapoints resampled) cannot show that. When the reported run's
code has two or more replicates, this section gives each measurement's mean over them with a
95% t interval (replicate values: each over the datapoints every replicate has); else one line
on how to take them.
"""

import numpy as np
import pandas as pd
from tabulate import tabulate

from .compare.between import (
    REPLICATES_NEEDED,
    Sides,
    common_ids,
    read_run,
    replicate_values,
    run_list,
    side_runs,
    t_quantile,
)
from .kind import HIGHER_IS_BETTER, MEASUREMENTS

PACKAGE = __package__.split(".")[0]


def replicates_section(db, run: pd.DataFrame, track_id: str) -> list[str]:
    """The section ([] when the kind declares no measurement); ``run``: the rows of
    ``track_id`` (their configurations and params)."""
    if not MEASUREMENTS:
        return []
    runs = run_list(db)  # [] when the db has no replicate
    this = next((r for r in runs if r["track_id"] == track_id), None)
    replicates = side_runs(runs, this) if this else []
    title = ["## Between replicates", ""]
    if len(replicates) < 2:
        return [
            *title,
            f"{', '.join(MEASUREMENTS)} measure the machine as much as the code: the intervals "
            "above cover this run's datapoints only. For intervals between runs, and for "
            f"`compare` to judge them, take {REPLICATES_NEEDED} replicates: `python -m {PACKAGE} "
            "run --replicate 1`, then `--replicate 2` (README, Replicates).",
            "",
        ]
    side = {r["track_id"]: read_run(db, r["track_id"]) for r in replicates}
    names = labels(run)
    rows = []
    for config_id, label in names.items():
        ids = common_ids(Sides(a=side), config_id)
        for name in [n for n in MEASUREMENTS if n in HIGHER_IS_BETTER]:  # per configuration
            values = replicate_values(side, config_id, ids, name, "config") if ids else []
            if len(values) >= 2:
                rows.append({"configuration": label, **row(name, values)})
    return [
        *title,
        f"Each machine measurement over the {len(replicates)} replicates of this code (runs "
        f"{', '.join(r['track_id'] for r in replicates)}): the mean of the replicates' values "
        "and its 95% t interval.",
        "",
        tabulate(rows, "keys", tablefmt="github", disable_numparse=True),
        "",
    ]


def row(name: str, values: list[float]) -> dict:
    scale = 1000 if name.startswith("latency") else 1  # latency in ms, as in the report's tables
    values = [v * scale for v in values]
    mean = float(np.mean(values))
    half = t_quantile(0.975, len(values) - 1) * float(np.std(values, ddof=1)) / len(values) ** 0.5
    return {
        "metric": f"{name} (ms)" if scale == 1000 else name,
        "replicates": len(values),
        "mean": f"{mean:.4g}",
        "95% CI": f"[{mean - half:.4g}, {mean + half:.4g}]",
    }


def labels(run: pd.DataFrame) -> dict[str, str]:
    """config_id -> its params that vary in the run (``name=value, ...``), in the run's order."""
    params = [c for c in run.columns if c.startswith("params_")]
    first = run.drop_duplicates("config_id").set_index("config_id")[params]
    varying = [c for c in params if first[c].astype(str).nunique() > 1] or params
    return {
        str(config_id): ", ".join(f"{c.removeprefix('params_')}={row[c]}" for c in varying)
        for config_id, row in first.iterrows()
    }
