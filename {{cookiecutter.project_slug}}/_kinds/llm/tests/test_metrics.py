"""Replies are parsed at analysis time; every metric summarize returns has a direction."""

import math

import pytest

from {{ cookiecutter.module_name }}.metrics import (
    HIGHER_IS_BETTER,
    parse_answer,
    row_values,
    summarize,
)


@pytest.mark.parametrize(
    ("reply", "parsed"),
    [
        ("42", "42"),
        ("42.", "42"),
        ("The answer is 42.", "42"),
        ("Paris", "paris"),
        ("Start with 3.\nThen 3 + 4.\nAnswer: 7", "7"),
        ("answer: 1\nOn second thought...\nAnswer: **Canberra**", "canberra"),
        ("Start with 3.\nThen 3 +", None),  # cut by max_tokens: no answer given
        ("", None),
        (None, None),
        (math.nan, None),  # a NULL read back through pandas
    ],
)
def test_parse_answer(reply, parsed):
    assert parse_answer(reply) == parsed


def result(prediction, truth="7", error="", **extra):
    row = {"prediction": prediction, "ground_truth": truth, "error": error, "latency": 0.01}
    return {"cost": 0.001, "total_tokens": 30, "completion_tokens": 10, **row, **extra}


def test_summarize_scores_parsed_answers_and_costs():
    results = [
        result("7"),
        result("The answer is 7."),
        result("8"),
        result(None, error="HTTP 429", error_type="RateLimited", cost=0.0, retries=3),
        result(None, error="no answer in 60 s", error_type="RequestTimeout", cost=0.0),
    ]
    summary = summarize(results)
    assert set(HIGHER_IS_BETTER) <= set(summary)
    assert summary["n"] == 5 and summary["n_failed"] == 2
    assert summary["accuracy"] == pytest.approx(2 / 5)
    assert summary["exact_match"] == pytest.approx(1 / 5)
    assert summary["cost_total"] == pytest.approx(0.003)
    assert summary["cost_per_correct"] == pytest.approx(0.0015)
    assert summary["error_rate"] == pytest.approx(2 / 5)
    assert summary["error_rate_rate_limit"] == summary["error_rate_timeout"] == pytest.approx(0.2)
    assert summary["error_rate_server"] == summary["error_rate_other"] == 0
    assert summary["retries_mean"] == pytest.approx(3 / 5)
    assert summary["latency_p50"] == pytest.approx(0.01)


def test_nothing_correct_means_no_cost_per_correct():
    assert math.isnan(summarize([result("8")])["cost_per_correct"])


def test_row_values():
    assert row_values(result("Answer: 7"))["correct"] == 1.0
    assert row_values(result("Answer: 7"))["exact"] == 0.0
    assert row_values(result(None, error="boom")) == dict.fromkeys(
        ("correct", "exact", "latency", "cost", "tokens")
    )
