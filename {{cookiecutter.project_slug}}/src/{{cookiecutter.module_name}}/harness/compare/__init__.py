"""Compare two runs metric by metric: better, worse or unchanged, beyond noise.

Built on the kind's metrics interface only (metrics.py, through ``..kind``), so it works for
every benchmark kind; it reads the db through ``..tracking`` and never imports the runner.

- ``stats``: the decision: bootstrap intervals, permutation test, threshold rules (the method);
- ``runs``: the runs of a db, and which two a selector (run id, experiment, commit) names;
- ``core``: two runs compared configuration by configuration, metric by metric; regressions;
- ``text``: the comparison as terminal text, Markdown or JSON;
- ``png``: the comparison as a PNG.
"""

from .core import ONLY_A, ONLY_B, compare, compare_rows, gated, regressions
from .png import plot
from .runs import select
from .stats import BETTER, INCONCLUSIVE, NO_VALUE, UNCHANGED, WORSE, Options
from .text import markdown, render, to_json

__all__ = [
    "BETTER",
    "INCONCLUSIVE",
    "NO_VALUE",
    "ONLY_A",
    "ONLY_B",
    "UNCHANGED",
    "WORSE",
    "Options",
    "compare",
    "compare_rows",
    "gated",
    "markdown",
    "plot",
    "regressions",
    "render",
    "select",
    "to_json",
]
