"""How many datapoints a comparison needs: sample-size planning from a dev or earlier run.

Two configurations compared on the same datapoints (a paired test, two-sided at ``alpha``)
detect a true difference ``delta`` in the primary metric with probability ``power`` when

    n = ceil(((z(1 - alpha / 2) + z(power)) * sd / delta) ** 2)

(normal approximation), where ``sd`` is the standard deviation of one datapoint's paired
difference. It is estimated from the run: for each configuration against the best one, the
bootstrap standard error of the difference in the primary metric on their shared datapoints,
times sqrt(datapoints). For a proportion this is sqrt(discordant share) as in McNemar's test;
where the run shows no spread (too few datapoints), the bound for independent answers,
sqrt(2 p (1 - p)), is used. ``comparisons``: how many are tested at once (Bonferroni on alpha,
as Holm's first step).
"""

import math
import textwrap

import numpy as np

from .. import kind
from .ranking import run_results
from .stats import Options, resample_summaries, summary, z_of


def needed(sd: float, delta: float, alpha: float, power: float) -> int:
    """Datapoints to detect ``delta`` at ``power`` (two-sided ``alpha``), per-datapoint ``sd``."""
    z = z_of(1 - alpha / 2) + z_of(power)
    return max(1, math.ceil((z * sd / delta) ** 2))


def plan(
    db,
    delta: float,
    power: float = 0.8,
    alpha: float = 0.05,
    comparisons: int = 1,
    selector=None,
    engine: str = "sqlite",
) -> dict:
    """The datapoints needed, from each configuration's spread against the best one."""
    run, found = run_results(db, selector)
    higher = kind.HIGHER_IS_BETTER[kind.PRIMARY]
    configs = {config_id: by_id for config_id, _, by_id in found}
    values = {c: summary(list(r.values())).get(kind.PRIMARY) for c, r in configs.items()}
    valued = sorted((c for c in values if values[c] is not None), key=lambda c: values[c])
    if not valued:
        raise LookupError(f"{db}: no configuration has a {kind.PRIMARY} value")
    best = valued[-1] if higher else valued[0]
    options = Options(resamples=400, summary_resamples=400)
    spreads = []
    for config in valued:
        if config == best:
            continue
        shared = sorted(configs[best].keys() & configs[config].keys())
        a = [configs[best][k] for k in shared]
        b = [configs[config][k] for k in shared]
        interval = resample_summaries(a, b, [kind.PRIMARY], options, 0)[kind.PRIMARY]
        se = (interval.high - interval.low) / (2 * z_of(0.975))
        spreads.append(float(se * math.sqrt(len(shared))) if np.isfinite(se) else 0.0)
    p = values[best]
    fallback = math.sqrt(2 * p * (1 - p)) if kind.PRIMARY in kind.PROPORTIONS else None
    sd = float(np.median(spreads)) if spreads else 0.0
    source = "median over the configurations against the best one"
    if sd == 0 and fallback:
        sd, source = fallback, "no spread in the run: 2 p (1 - p) of the best configuration"
    corrected = alpha / max(1, comparisons)
    return {
        "run": run,
        "primary": kind.PRIMARY,
        "delta": delta,
        "power": power,
        "alpha": alpha,
        "comparisons": comparisons,
        "sd": sd,
        "sd_source": source,
        "sd_max": max(spreads, default=sd),
        "datapoints_in_run": len(configs[best]),
        "needed": needed(sd, delta, corrected, power) if sd > 0 else None,
        "needed_worst": needed(max(spreads, default=sd), delta, corrected, power)
        if max(spreads, default=sd) > 0
        else None,
    }


def describe(result: dict) -> str:
    return textwrap.fill(sentence(result), 120)


def sentence(result: dict) -> str:
    if result["needed"] is None:
        return (
            f"{result['primary']}: no spread between configurations in run "
            f"{result['run']['track_id']}: use a run with more datapoints."
        )
    return (
        f"To detect a difference of {result['delta']:g} in {result['primary']} with power "
        f"{result['power']:g} (two-sided alpha {result['alpha']:g}"
        + (f" over {result['comparisons']} comparisons" if result["comparisons"] > 1 else "")
        + f"): about {result['needed']} datapoints per configuration (paired, sd of a "
        f"datapoint's difference {result['sd']:.3g}: {result['sd_source']}); "
        f"{result['needed_worst']} for the noisiest pair. Run {result['run']['track_id']} "
        f"has {result['datapoints_in_run']}."
    )
