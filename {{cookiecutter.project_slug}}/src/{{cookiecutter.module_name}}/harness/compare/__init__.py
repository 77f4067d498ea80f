"""Compare two runs metric by metric: better, worse or unchanged, beyond noise.

Built on the kind's metrics interface only (metrics.py, through ``..kind``), so it works for
every benchmark kind; it reads the db through ``..tracking`` and never imports the runner.

- ``stats``: the decision: bootstrap intervals, permutation test, threshold rules (the method);
- ``runs``: the runs of a db, and which two a selector (run id, experiment, commit) names;
- ``core``: two runs compared configuration by configuration, metric by metric; regressions;
- ``render``: the comparison as terminal text, Markdown or JSON;
- ``plot``: the comparison as a PNG.
"""

# ``plot`` and ``render`` below are the functions (the names of their modules point to them).
from .core import ONLY_A, ONLY_B, compare, compare_rows, gated, regressions
from .plot import plot
from .render import markdown, render, to_json
from .runs import previous_run, select
from .stats import BETTER, NO_VALUE, UNCHANGED, WORSE, Options

__all__ = [
    "BETTER",
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
    "previous_run",
    "regressions",
    "render",
    "select",
    "to_json",
]
