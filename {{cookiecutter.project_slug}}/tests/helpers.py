"""Helpers of the baked tests (fixtures are in conftest.py).

The reference compare's vectorised resamples must equal: on the very draws they were given,
one summarize call per resample, as the former path computed them.
"""

import numpy as np
import pytest

from {{ cookiecutter.module_name }}.harness.compare import stats


def summarize_forms(results: list[dict]) -> dict:
    """A stand-in summarize with a metric of each of means.py's forms, on rows of ``correct``,
    ``tokens``, ``cost`` and ``error``."""
    ok = [r for r in results if not r["error"]]
    correct = sum(r["correct"] for r in ok)
    cost = sum(r["cost"] for r in ok)
    tokens = [r["tokens"] for r in ok]
    return {
        "accuracy": correct / len(results),  # a mean (failed: wrong)
        "tokens_mean": float(np.mean(tokens)) if tokens else None,  # over the successes
        "cost_total": cost,  # a sum
        "cost_per_correct": cost / correct if correct else None,  # a ratio of sums
    }


def recorded_draws(monkeypatch, module) -> list:
    """Every (counts, swaps) that ``module.draw`` returns from now on, in a list."""
    drawn, real = [], module.draw

    def recording(*args):
        drawn.append(real(*args))
        return drawn[-1]

    monkeypatch.setattr(module, "draw", recording)
    return drawn


def summarized_draws(summarize, names, a, b, d, draws):
    """(bootstrap differences, permutation differences, d's bootstrap means) on each
    (picked, swapped) draw: B - A of ``summarize`` on the picked datapoints (NaN where A's is
    undefined), B - A with the swapped datapoints' sides exchanged, and the picked ``d``'s mean."""
    boot, null, boot_d = [], [], []
    for picked, swapped in draws:
        one_a, one_b = summarize([a[i] for i in picked]), summarize([b[i] for i in picked])
        boot.append([np.nan if one_a[m] is None else one_b[m] - one_a[m] for m in names])
        side_a = summarize([y if s else x for x, y, s in zip(a, b, swapped, strict=True)])
        side_b = summarize([x if s else y for x, y, s in zip(a, b, swapped, strict=True)])
        null.append([side_b[m] - side_a[m] for m in names])
        boot_d.append(d[picked].mean())
    return np.array(boot), np.array(null), np.array(boot_d)


def assert_served_as_drawn(served, of_rows, names, reference) -> None:
    """The intervals and p-values served (joint.joint_intervals) are those of ``reference``
    (``summarized_draws``): percentile intervals at 95 %, normal p from the null's spread."""
    boot, null, boot_d = reference
    for j, name in enumerate(names):
        low, high = stats.quantiles(boot[:, j], 0.95)
        assert (served[name].low, served[name].high) == pytest.approx((low, high), rel=1e-9)
        null_sd = float(np.sqrt(np.mean(null[:, j] ** 2)))
        p = stats.normal_p(served[name].diff, null_sd)
        assert served[name].p_value == pytest.approx(p, rel=1e-9, abs=1e-15)
    low, high = stats.quantiles(boot_d, 0.95)
    assert (of_rows["d"].low, of_rows["d"].high) == pytest.approx((low, high), rel=1e-9)
