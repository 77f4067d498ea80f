"""The contract between your benchmark (the files one level up) and the machinery.

The machinery reaches your files only through this module.
"""

from .. import metrics
from .. import predict as predict_module
from ..data import Item, load_items
from ..metrics import HIGHER_IS_BETTER, PRIMARY, PRIMARY_LABEL, row_values, summarize
from ..params import EXPERIMENT, Params, grid

# Optional names, with what the machinery does when a kind leaves them out.
ROW_HIGHER_IS_BETTER = getattr(metrics, "ROW_HIGHER_IS_BETTER", {})
THRESHOLDS = getattr(metrics, "THRESHOLDS", {})
extra_plots = getattr(metrics, "extra_plots", None)
level_monitor = getattr(predict_module, "level_monitor", None)

__all__ = [
    "EXPERIMENT",
    "HIGHER_IS_BETTER",
    "PRIMARY",
    "PRIMARY_LABEL",
    "ROW_HIGHER_IS_BETTER",
    "THRESHOLDS",
    "Item",
    "Params",
    "extra_plots",
    "grid",
    "level_monitor",
    "load_items",
    "predict_module",
    "row_values",
    "summarize",
]
