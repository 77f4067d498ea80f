"""One run's configurations: each metric with its 95% interval, and the ranking on the primary.

- intervals: Wilson's for the kind's PROPORTIONS (whole datapoints counted), a percentile
  bootstrap of ``summarize`` for the rest (datapoints resampled, or whole clusters when the kind
  declares a GROUP field: then proportions are bootstrapped too), vectorised where a metric
  allows it (intervals.py: the same draws, the same numbers);
- ranking: the best configuration on the primary metric, then each other one against it on
  the datapoints both ran (paired permutation test, as compare tests a metric: intervals.paired),
  p-values Holm-corrected over those comparisons: *within noise* of the best when not
  significant, *worse* when significant.

Read from the db one configuration at a time (``rank``), keeping of each only what its test
against the best needs: the per-datapoint shares of the primary (numpy, by input id) when it is
a mean, sum or ratio of them (intervals.pairing); else a second pass reads the best's results
and one other configuration's at a time.
"""

import dataclasses
import itertools
from pathlib import Path

import numpy as np

from .. import kind
from ..tracking import PREDICTIONS, read_table, table_exists
from .core import config_params, results_by_id
from .intervals import bootstrap, paired, paired_shares, pairing
from .load import Checked, Rows, connect, quoted, run_list
from .runs import RUN_COLUMNS, resolve, runs
from .stats import (
    CONFIDENCE,
    Options,
    cluster_draws,
    holm,
    known,
    plain,
    quantiles,
    summary,
    wilson,
)

BEST, WITHIN, WORSE_THAN_BEST = "best", "within noise of the best", "worse than the best"
INTERVAL_RESAMPLES = 200  # summarize calls per configuration for a bootstrap interval


def one_run(db: Path, selector: str | None = None, engine: str = "sqlite"):
    """(rows, run) of one run of ``db``: ``selector`` (run id, experiment, commit) or the latest."""
    predictions = read_table(db, PREDICTIONS, engine)
    if predictions is None:
        raise LookupError(f"{db} has no predictions table: run the benchmark first")
    found = runs(predictions)
    run = resolve(found, selector) if selector else found[-1]
    return predictions[predictions["track_id"] == run["track_id"]], run


def groups_of(results: list[dict]):
    return [r.get(kind.GROUP) for r in results] if kind.GROUP else None


def intervals(
    results: list[dict],
    confidence: float = CONFIDENCE,
    seed: int = 0,
    point: dict | None = None,
    vectorised: bool = True,
) -> dict:
    """Metric -> [low, high] of one configuration's ``summarize`` (None where undefined);
    ``vectorised=False``: one summarize call per resample for every metric (the reference)."""
    point = summary(results) if point is None else point
    n, groups = len(results), groups_of(results)
    found, boot_names = {}, []
    for name in kind.HIGHER_IS_BETTER:
        value = point.get(name)
        if value is None:
            found[name] = None
        elif name in kind.PROPORTIONS and groups is None:
            found[name] = list(wilson(round(value * n), n, confidence))
        else:
            boot_names.append(name)
    if boot_names and n and vectorised:
        boot = bootstrap(results, boot_names, point, [seed, n], groups, INTERVAL_RESAMPLES)
    elif boot_names and n:
        rng = np.random.default_rng([seed, n])
        boot = np.full((INTERVAL_RESAMPLES, len(boot_names)), np.nan)
        for r, picked in enumerate(cluster_draws(rng, n, groups, INTERVAL_RESAMPLES)):
            values = summary([results[i] for i in picked])
            boot[r] = [np.nan if values.get(m) is None else values[m] for m in boot_names]
    for j, name in enumerate(boot_names if n else ()):
        found[name] = list(quantiles(boot[:, j], confidence))
    return {name: None if v is None else [plain(x) for x in v] for name, v in found.items()}


def rank_rows(rows, run: dict | None = None, options: Options | None = None) -> dict:
    """The ranking of one run's configurations on the primary metric (rows: a DataFrame),
    JSON-ready."""
    found = [
        (config_id, config_params(group), results_by_id(group))
        for config_id, group in rows.groupby("config_id", sort=True)
    ]
    return rank_results(found, run, options)


def described(config_id: str, params: dict, by_id: dict, options: Options) -> dict:
    """One configuration's n, metrics and intervals (its results are not kept)."""
    results = list(by_id.values())
    # in input_id order, as the check computed it (load.Rows.checked): summarized once
    ordered = None if isinstance(by_id, Checked) else [by_id[k] for k in sorted(by_id)]
    point = by_id.summary if ordered is None else summary(ordered)
    seed = [options.seed, len(results)]
    found = None if kind.GROUP else pairing(list(by_id), results, kind.PRIMARY, point, seed)
    return {
        "config_id": config_id,
        "params": params,
        "n": len(results),
        "value": plain(known(point.get(kind.PRIMARY))),
        "values": {name: plain(point.get(name)) for name in kind.HIGHER_IS_BETTER},
        "ci": intervals(results, options.confidence, options.seed, point),
        "_pairing": found,  # what the test against the best needs, without the results
    }


def without_results(config: dict, best: dict, options: Options) -> bool:
    """``tested_against`` from both configurations' ``pairing`` (False: it needs the results)."""
    a, b = best["_pairing"], config["_pairing"]
    if a is None or b is None or a[3] != b[3]:
        return False
    interval = paired_shares(a, b, kind.PRIMARY, options, options.seed)
    shared = np.intersect1d(a[0], b[0], assume_unique=True).size
    described_test(config, shared, interval)
    return True


def tested_against(config: dict, best_by_id: dict, by_id: dict, options: Options) -> None:
    """The configuration's difference from the best on the datapoints both ran, and its p."""
    shared = sorted(best_by_id.keys() & by_id.keys())
    a = [best_by_id[k] for k in shared]
    b = [by_id[k] for k in shared]
    interval = None
    if shared and summary(a).get(kind.PRIMARY) != summary(b).get(kind.PRIMARY):
        interval = paired(a, b, kind.PRIMARY, options, options.seed, groups_of(a))
    described_test(config, len(shared), interval)


def described_test(config: dict, shared: int, interval) -> None:
    config["n_shared"] = shared
    config["diff"] = None if interval is None else plain(interval.diff)
    config["diff_ci"] = None if interval is None else [plain(interval.low), plain(interval.high)]
    config["p_value"] = 1.0 if interval is None else plain(interval.p_value)


def rank_results(found, run: dict | None = None, options: Options | None = None, again=None):
    """``rank_rows`` of (config_id, params, input_id -> result) per configuration. ``again``:
    config_id -> (config_id, input_id -> result) of that configuration, then of every other one,
    read again one at a time (for the tests against the best); without it, every
    configuration's results are kept from ``found``."""
    options = options or Options()
    configurations, kept = [], {}
    for config_id, params, by_id in found:
        configurations.append(described(config_id, params, by_id, options))
        if again is None:
            kept[config_id] = by_id
    return ranked(configurations, kept, run, options, again)


def ranked(configurations: list[dict], kept: dict, run, options: Options, again=None) -> dict:
    """``rank_results`` from each configuration's ``described`` (in config_id order): the best,
    then the tests against it (``kept``: config_id -> input_id -> result, when not ``again``)."""
    higher = kind.HIGHER_IS_BETTER[kind.PRIMARY]
    valued = [c for c in configurations if c["value"] is not None]
    valued.sort(key=lambda c: -c["value"] if higher else c["value"])
    best = valued[0] if valued else None
    others = {c["config_id"]: c for c in valued[1:] if not without_results(c, best, options)}
    if others:
        first = best["config_id"]
        pairs = again(first) if again else ((c, kept[c]) for c in [first, *others])
        best_by_id = next(pairs)[1]
        for config_id, by_id in pairs:
            if config_id in others:
                tested_against(others[config_id], best_by_id, by_id, options)
    tested = valued[1:]
    for config, p in zip(tested, holm([c["p_value"] for c in tested]), strict=True):
        config["p_holm"] = p
        config["status"] = WORSE_THAN_BEST if p < 1 - options.confidence else WITHIN
    if best is not None:
        best.update(status=BEST, n_shared=best["n"], diff=0.0, diff_ci=None, p_value=None)
        best["p_holm"] = None
    for config in configurations:
        config.pop("_pairing")
        config.setdefault("status", "no value")
    order = {id(c): i for i, c in enumerate(valued)}
    configurations.sort(key=lambda c: order.get(id(c), len(order)))
    return {"run": run, "primary": kind.PRIMARY, "configurations": configurations}


def rank(db: Path, selector: str | None = None, engine: str = "sqlite", options=None) -> dict:
    """``rank_rows`` of one run of ``db`` (``selector``, or the latest), read in SQL: the runs
    from one GROUP BY, then the run's rows one configuration at a time (``load.Rows``), twice."""
    run, rows = run_rows(db, selector)
    configurations = (
        (config_id, params, rows.checked(config_id, by_id, row_values=False))
        for config_id, params, by_id in rows.stream()
    )
    return rank_results(configurations, run, options, again=lambda first: reread(rows, first))


def reread(rows: Rows, first: str):
    """(config_id, input_id -> result) of configuration ``first``, then of every other one,
    as plain dicts of the columns the first pass found summarize reads (``rows.columns``)."""
    columns = list(rows.columns)
    select = ", ".join(quoted(c) for c in ["config_id", *columns])
    query = f"SELECT {select} FROM {PREDICTIONS} WHERE {rows.where}"
    with connect(rows.db) as connection:
        found = connection.execute(f"{query} AND config_id = ?", (rows.track_id, first))
        yield first, by_input_id(found, columns)
        cursor = connection.execute(f"{query} AND config_id != ? ORDER BY config_id, rowid",
                                    (rows.track_id, first))  # fmt: skip
        cursor.arraysize = 10_000  # rows per fetch
        fetched = itertools.chain.from_iterable(iter(cursor.fetchmany, []))
        for config_id, group in itertools.groupby(fetched, key=lambda r: r[0]):
            yield config_id, by_input_id(group, columns)


def by_input_id(found, columns: list[str]) -> dict:
    """input_id -> result (a dict of ``columns``) of SELECTed (config_id, *columns) tuples."""
    results = (dict(zip(columns, values[1:], strict=True)) for values in found)
    return {str(result["input_id"]): result for result in results}


def run_rows(db: Path, selector: str | None = None) -> tuple[dict, Rows]:
    """(run, its ``load.Rows``) of one run of ``db`` (``selector`` or the latest)."""
    if not table_exists(db, PREDICTIONS):
        raise LookupError(f"{db} has no predictions table: run the benchmark first")
    found = run_list(db, RUN_COLUMNS)
    run = resolve(found, selector) if selector else found[-1]
    return run, Rows(db, run["track_id"])


def run_results(db: Path, selector: str | None = None):
    """(run, its (config_id, params, input_id -> result) one configuration at a time) of one
    run of ``db`` (``selector`` or the latest), read in SQL (``one_run`` reads the table)."""
    run, rows = run_rows(db, selector)
    return run, checked(rows)


def checked(rows: Rows):
    """(config_id, params, input_id -> result) of each configuration of ``rows``, checked."""
    for config_id, params, by_id in rows.stream():
        yield config_id, params, rows.checked(config_id, by_id)


def rank_table(ranking: dict) -> list[dict]:
    """Rows for a table: rank, params that vary, primary with its interval, difference, status."""
    configurations = ranking["configurations"]
    names = sorted({n for c in configurations for n in c["params"]})
    if len(configurations) > 1:
        names = [n for n in names if len({str(c["params"].get(n)) for c in configurations}) > 1]
    primary = ranking["primary"]
    booleans = {f.name for f in dataclasses.fields(kind.Params) if f.type in (bool, "bool")}
    table = []
    for number, c in enumerate(configurations, 1):
        ci = c["ci"].get(primary)
        row = {"rank": number}
        for n in names:  # booleans as true/false (the db stores 1/0)
            value = c["params"].get(n)
            row[n] = str(bool(value)).lower() if n in booleans and value is not None else value
        row[primary] = "-" if c["value"] is None else f"{c['value']:.4g}"
        row["95% CI"] = "-" if not ci or ci[0] is None else f"[{ci[0]:.4g}, {ci[1]:.4g}]"
        row["vs best"] = "-" if not c.get("diff") else f"{c['diff']:+.4g}"
        row["p (Holm)"] = "-" if c.get("p_holm") is None else f"{c['p_holm']:.2g}"
        row["status"] = c["status"]
        table.append(row)
    return table
