"""The kind contract: every name your benchmark (the files one level up) gives the machinery.

The machinery reaches your files only through this module: it imports them here, and the other
harness modules take their names from here. ``CONTRACT`` is the contract written out: each name
with the file that provides it, its signature, what it means and, for an optional name, what
the machinery does without it. ``problems()`` checks the files against it (tests/test_kind.py).
"""

import dataclasses
import inspect
from typing import NamedTuple

from .. import data as data_module
from .. import metrics as metrics_module
from .. import params as params_module
from .. import predict as predict_module
from ..data import Item, load_items
from ..metrics import HIGHER_IS_BETTER, PRIMARY, PRIMARY_LABEL, row_values, summarize
from ..params import EXPERIMENT, Params, grid
from .shared_metrics import LATENCY_MEASUREMENTS


class Name(NamedTuple):
    file: str  # the module of the package that provides the name
    name: str
    signature: str
    meaning: str
    without: str = ""  # an optional name: what the machinery does without it; "": required


CONTRACT = (
    Name(
        "params.py",
        "Params",
        "@dataclass(frozen=True, slots=True) class Params(Configuration)",
        "One configuration: every field that can change a result, of immutable types. Its "
        "content is part of every computation key; ``config_id`` (a property) names it on "
        "every row and in the cache. identity.Configuration checks the fields and gives "
        "config_id.",
    ),
    Name(
        "params.py",
        "grid",
        "grid() -> list[Params]",
        "The sweep: every configuration a run computes, in order. When Params has a "
        "``concurrency`` field, the runner runs each configuration through its own pool of "
        "that many workers, one after another (a load test's levels).",
    ),
    Name("params.py", "EXPERIMENT", "EXPERIMENT: str", "The experiment recorded on every row."),
    Name(
        "data.py",
        "Item",
        "@dataclass(frozen=True, slots=True) class Item(Record)",
        "One datapoint, with ``input_id: str`` unique in the dataset. Its content is part of "
        "every computation key; identity.Record checks the fields.",
    ),
    Name(
        "data.py",
        "load_items",
        "load_items(path: Path | None = None, limit: int | None = None) -> list[Item]",
        "The datapoints: of ``path`` (``run --data``) or the bundled ones; the first ``limit`` "
        "only (``--limit``, ``--dev``).",
    ),
    Name(
        "data.py",
        "level_items",
        "level_items(items: list[Item], params: Params) -> list[Item]",
        "The datapoints one configuration computes (e.g. a load level's requests: concurrency "
        "x N, cycling through the dataset). Each must have its own ``input_id``.",
        without="every configuration computes every datapoint",
    ),
    Name(
        "predict.py",
        "predict",
        "predict(item: Item, params: Params) -> dict",
        "The single execution: one result row. Keys input_id, prediction, raw_response, "
        "ground_truth, latency (seconds), error and error_type ('' when it worked) and any "
        "other the kind records. A bad datapoint is an error row, not an exception (the "
        "machinery turns an exception into one too); error rows are not cached (a load "
        "level's are: they are measurements, harness/levels.py).",
    ),
    Name(
        "predict.py",
        "PREDICT_VERSION",
        "PREDICT_VERSION: str",
        "The version of predict's logic, part of every computation key: bump it and cached "
        "results of other versions are not reused.",
    ),
    Name(
        "predict.py",
        "level_monitor",
        "level_monitor(params: Params) -> ContextManager[Callable[[dict], dict]]",
        "Only when Params has a ``concurrency`` field: entered around each level in the run's "
        "own process (never in a worker); the function it yields annotates each result of the "
        "level (e.g. with system CPU and memory).",
        without="results are recorded as predict returns them",
    ),
    Name(
        "predict.py",
        "TIMEOUT_SECONDS",
        "TIMEOUT_SECONDS: float",
        "The default of ``run --timeout``: seconds a datapoint may take before it becomes an "
        "error row (error_type Timeout, retried on the next run; in a load level cached with "
        "the level).",
        without="no timeout unless ``run --timeout`` sets one",
    ),
    Name(
        "metrics.py",
        "PRIMARY",
        "PRIMARY: str",
        "The metric the summary ranks by and the report plots; a key of HIGHER_IS_BETTER.",
    ),
    Name("metrics.py", "PRIMARY_LABEL", "PRIMARY_LABEL: str", "PRIMARY's axis label."),
    Name(
        "metrics.py",
        "HIGHER_IS_BETTER",
        "HIGHER_IS_BETTER: dict[str, bool]",
        "Each metric of summarize with its direction: the report's columns, compare's "
        "better/worse.",
    ),
    Name(
        "metrics.py",
        "summarize",
        "summarize(results: list[dict]) -> dict",
        "The metrics of one configuration from its result rows (predict's dicts, failed ones "
        "included): every key of HIGHER_IS_BETTER, plus n and n_failed. Recorded per "
        "configuration at the end of a run, from that configuration's rows read back from the "
        "db (values as stored: bools as 0/1, NULLs left out); compare resamples it.",
    ),
    Name(
        "metrics.py",
        "SUMMARY_FIELDS",
        "SUMMARY_FIELDS: tuple[str, ...]",
        "The result fields summarize reads: at the end of a run only these columns of each "
        "configuration's rows are read back for its metrics row (less memory on a large grid; "
        "tests/test_kind.py checks summarize gives the same metrics from them).",
        without="every result column is read back",
    ),
    Name(
        "metrics.py",
        "row_values",
        "row_values(result: dict) -> dict[str, float | None]",
        "Per-datapoint values of one result row (None where it failed), exactly the keys of "
        "ROW_HIGHER_IS_BETTER: compare tests them on the paired datapoints of two runs.",
    ),
    Name(
        "metrics.py",
        "ROW_HIGHER_IS_BETTER",
        "ROW_HIGHER_IS_BETTER: dict[str, bool]",
        "Each key of row_values with its direction.",
        without="compare tests no per-datapoint metric",
    ),
    Name(
        "metrics.py",
        "THRESHOLDS",
        "THRESHOLDS: dict[str, float]",
        "Relative change beyond which compare calls a metric (a key of HIGHER_IS_BETTER or "
        "ROW_HIGHER_IS_BETTER) changed, for metrics noisier than the default.",
        without="every metric uses compare's --threshold",
    ),
    Name(
        "metrics.py",
        "PROPORTIONS",
        "PROPORTIONS: tuple[str, ...]",
        "The metrics that are proportions (accuracy, error rates; per datapoint: 0/1 values): "
        "their 95% interval is Wilson's, their threshold absolute, in points "
        "(ABSOLUTE_THRESHOLDS, default 0.02: two points).",
        without="every metric has a bootstrap interval and a relative threshold",
    ),
    Name(
        "metrics.py",
        "ABSOLUTE_THRESHOLDS",
        "ABSOLUTE_THRESHOLDS: dict[str, float]",
        "Absolute change (points of a proportion) beyond which compare calls a metric changed; "
        "a metric here is judged by this rather than by a relative threshold.",
        without="each metric of PROPORTIONS: 0.02; every other metric: a relative threshold",
    ),
    Name(
        "metrics.py",
        "MEASUREMENTS",
        "MEASUREMENTS: tuple[str, ...]",
        "The metrics that measure the machine (latency, throughput, resource use), not the "
        "answers: they vary from run to run, so compare judges them on the variation between "
        "replicates (``run --replicate N``), and calls them inconclusive with one run per side.",
        without="the latency metrics of shared_metrics (latency_mean, _p50, _p95, _p99, and "
        "latency per datapoint) the kind declares",
    ),
    Name(
        "metrics.py",
        "PER_CLASS",
        "PER_CLASS: bool",
        "True for a classifier (prediction and ground_truth are class labels): the report adds "
        "each class's precision and recall for the best configuration.",
        without="no per-class table",
    ),
    Name(
        "metrics.py",
        "GROUP",
        "GROUP: str",
        "The result field naming a datapoint's cluster (questions of one passage, requests of "
        "one user): intervals resample whole clusters.",
        without="datapoints are resampled one by one",
    ),
    Name(
        "metrics.py",
        "extra_plots",
        "extra_plots(metrics, predictions, labels, folder) -> list[tuple[str, str]]",
        "The kind's own report plots: saved in folder, returned as (title, file name). "
        "``metrics``: a DataFrame, one row per configuration (best first); ``labels``: their "
        "names in that order; ``predictions``: the run's rows.",
        without="the report has the primary metric and latency plots only",
    ),
)

# Optional names, with what the machinery does when a kind leaves them out (CONTRACT says).
ROW_HIGHER_IS_BETTER = getattr(metrics_module, "ROW_HIGHER_IS_BETTER", {})
THRESHOLDS = getattr(metrics_module, "THRESHOLDS", {})
PROPORTIONS = tuple(getattr(metrics_module, "PROPORTIONS", ()))
SUMMARY_FIELDS = tuple(getattr(metrics_module, "SUMMARY_FIELDS", ()))
ABSOLUTE_THRESHOLDS = getattr(metrics_module, "ABSOLUTE_THRESHOLDS", {})
MEASUREMENTS = tuple(
    getattr(
        metrics_module,
        "MEASUREMENTS",
        [n for n in LATENCY_MEASUREMENTS if n in {**HIGHER_IS_BETTER, **ROW_HIGHER_IS_BETTER}],
    )
)
GROUP = getattr(metrics_module, "GROUP", None)
PER_CLASS = bool(getattr(metrics_module, "PER_CLASS", False))
extra_plots = getattr(metrics_module, "extra_plots", None)
level_monitor = getattr(predict_module, "level_monitor", None)
level_items = getattr(data_module, "level_items", None)
TIMEOUT_SECONDS = getattr(predict_module, "TIMEOUT_SECONDS", 0.0)

FILES = {
    "params.py": params_module,
    "data.py": data_module,
    "predict.py": predict_module,
    "metrics.py": metrics_module,
}
# Arguments each callable must accept, as the machinery calls it.
CALLS = {
    "grid": ((), {}),
    "load_items": ((None,), {"limit": None}),
    "predict": ((None, None), {}),
    "level_monitor": ((None,), {}),
    "level_items": (([], None), {}),
    "summarize": (([],), {}),
    "row_values": (({},), {}),
    "extra_plots": ((None, None, [], None), {}),
}


def problems(files: dict | None = None) -> list[str]:
    """What the kind's files get wrong against CONTRACT, one readable line each ([]: nothing).

    ``files``: file name -> module (or any object with the names), default the package's own.
    Only looks at the names: calls none of them.
    """
    files = FILES if files is None else files
    found = []
    present = {}
    for entry in CONTRACT:
        if hasattr(files[entry.file], entry.name):
            present[entry.name] = getattr(files[entry.file], entry.name)
        elif not entry.without:
            found.append(f"{entry.file}: {entry.name} is missing ({entry.signature})")
    for name, value in present.items():
        file = next(entry.file for entry in CONTRACT if entry.name == name)
        found += [f"{file}: {problem}" for problem in check(name, value, present)]
    return found


def check(name: str, value, present: dict) -> list[str]:
    """Problems of one provided name (``present``: every provided name, for cross-checks)."""
    if name in CALLS:
        return call_problems(name, value)
    if name in ("EXPERIMENT", "PREDICT_VERSION", "PRIMARY", "PRIMARY_LABEL"):
        if not isinstance(value, str) or not value:
            return [f"{name} = {value!r}: expected a non-empty str"]
        if name == "PRIMARY" and value not in declared(present, "HIGHER_IS_BETTER"):
            return [f"PRIMARY = {value!r} is not a key of HIGHER_IS_BETTER"]
        return []
    if name in ("HIGHER_IS_BETTER", "ROW_HIGHER_IS_BETTER"):
        if not isinstance(value, dict) or (name == "HIGHER_IS_BETTER" and not value):
            return [f"{name}: expected a dict of metric name -> bool"]
        wrong = [k for k, v in value.items() if not isinstance(k, str) or not isinstance(v, bool)]
        return [f"{name}: {k!r} -> {value[k]!r} is not metric name -> bool" for k in wrong]
    if name in ("PROPORTIONS", "MEASUREMENTS"):
        known = {
            **declared(present, "HIGHER_IS_BETTER"),
            **declared(present, "ROW_HIGHER_IS_BETTER"),
        }
        if isinstance(value, str) or not isinstance(value, (tuple, list, set, frozenset)):
            return [f"{name}: expected a tuple of metric names"]
        return [f"{name}: {k!r} is not a declared metric" for k in value if k not in known]
    if name == "SUMMARY_FIELDS":
        if isinstance(value, str) or not isinstance(value, (tuple, list)) or not value:
            return ["SUMMARY_FIELDS: expected a tuple of result field names"]
        wrong = [k for k in value if not isinstance(k, str) or not k.isidentifier()]
        return [f"SUMMARY_FIELDS: {k!r} is not a field name" for k in wrong]
    if name == "PER_CLASS":
        return [] if isinstance(value, bool) else [f"PER_CLASS = {value!r}: expected a bool"]
    if name == "GROUP":
        return [] if isinstance(value, str) and value else [f"GROUP = {value!r}: expected a str"]
    if name in ("THRESHOLDS", "ABSOLUTE_THRESHOLDS"):
        if not isinstance(value, dict):
            return [f"{name}: expected a dict of metric name -> threshold"]
        known = {
            **declared(present, "HIGHER_IS_BETTER"),
            **declared(present, "ROW_HIGHER_IS_BETTER"),
        }
        return [
            f"{name}: {k!r} -> {v!r}: expected a declared metric -> a number >= 0"
            for k, v in value.items()
            if k not in known or isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0
        ]
    if name == "TIMEOUT_SECONDS":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            return [f"TIMEOUT_SECONDS = {value!r}: expected a number of seconds >= 0 (0: none)"]
        return []
    return record_problems(name, value)


def declared(present: dict, name: str) -> dict:
    """The metrics a provided HIGHER_IS_BETTER / ROW_HIGHER_IS_BETTER declares ({}: none)."""
    value = present.get(name)
    return value if isinstance(value, dict) else {}


def call_problems(name: str, value) -> list[str]:
    if not callable(value):
        return [f"{name} is not callable"]
    args, kwargs = CALLS[name]
    try:
        inspect.signature(value).bind(*args, **kwargs)
    except TypeError as error:
        return [f"{name}{inspect.signature(value)} cannot be called as the machinery does: {error}"]
    except ValueError:  # no signature to inspect (a builtin): trust it
        pass
    return []


def record_problems(name: str, value) -> list[str]:
    """Params and Item: frozen dataclasses; Params with config_id, Item with input_id: str."""
    if not (isinstance(value, type) and dataclasses.is_dataclass(value)):
        return [f"{name} is not a dataclass"]
    found = []
    if not value.__dataclass_params__.frozen:
        found.append(f"{name} is not frozen: @dataclass(frozen=True, slots=True)")
    if name == "Params" and not isinstance(getattr(value, "config_id", None), property):
        found.append("Params has no config_id property: derive it from Configuration")
    fields = {field.name: field.type for field in dataclasses.fields(value)}
    if name == "Item" and fields.get("input_id") not in (str, "str"):
        found.append("Item has no field input_id: str")
    return found


__all__ = [
    "ABSOLUTE_THRESHOLDS",
    "CONTRACT",
    "EXPERIMENT",
    "GROUP",
    "HIGHER_IS_BETTER",
    "MEASUREMENTS",
    "PRIMARY",
    "PER_CLASS",
    "PRIMARY_LABEL",
    "PROPORTIONS",
    "ROW_HIGHER_IS_BETTER",
    "SUMMARY_FIELDS",
    "THRESHOLDS",
    "TIMEOUT_SECONDS",
    "Item",
    "Params",
    "extra_plots",
    "grid",
    "level_items",
    "level_monitor",
    "load_items",
    "predict_module",
    "problems",
    "row_values",
    "summarize",
]
