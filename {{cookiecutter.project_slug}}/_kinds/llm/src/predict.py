"""The single-execution function: one question, one configuration, one result row.

This is the file you edit. Keep ``predict`` stateless and deterministic, return everything
cheap to collect, and bump PREDICT_VERSION whenever its logic changes: cached results of other
versions are then not reused. The reply is NOT parsed here: ``prediction`` is the model's text
as it came, and metrics.py parses it at analysis time, so a better parser never needs a rerun.
"""

import time

from .client import LLMError, OpenAIClient, mask
from .data import Item
from .offline import OfflineClient
from .params import Params
from .prompts import render

PREDICT_VERSION = "1"
# run --timeout's default: generous (the client retries slow requests), so a hung connection
# becomes a Timeout error row, retried on the next run, instead of stopping the benchmark.
TIMEOUT_SECONDS = 600.0

# USD per million (prompt, completion) tokens. Check your provider's current prices; a model
# missing here gets cost None (NULL in the db): unknown, not free.
PRICES = {
    "offline-small": (0.15, 0.60),  # priced like a small hosted model
    "offline-large": (2.50, 10.00),  # priced like a large one
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
}


def get_client(provider: str):
    """The client of ``Params.provider``: offline.py's stand-in or the OpenAI-compatible one."""
    if provider == "offline":
        return OfflineClient()
    if provider == "openai":
        return OpenAIClient()
    raise KeyError(f"unknown provider {provider!r}: use 'offline' or 'openai'")


def cost(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    if model not in PRICES:
        return None  # not NaN: a result value NaN is refused (harness/values.py)
    per_prompt, per_completion = PRICES[model]
    return (prompt_tokens * per_prompt + completion_tokens * per_completion) / 1e6


def predict(item: Item, params: Params) -> dict:
    """Ask one question. Never raises for a bad datapoint or a failed request: the error is
    part of the row (and error rows are not cached: the next run asks again)."""
    start = time.perf_counter()
    connect_seconds = 0.0  # opening a connection is not part of the request's latency
    row = {
        "input_id": item.input_id,
        "ground_truth": item.answer,
        "prompt": None,  # the exact prompt sent
        "prediction": None,  # the reply text, unparsed
        "raw_response": None,  # the response body as received
        "finish_reason": "",
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "total_tokens": 0,
        "cost": 0.0,  # USD; a failed request is not billed
        "retries": 0,
        "endpoint": "",
        "error": "",
        "error_type": "",
    }
    try:
        if not item.question:
            raise ValueError(f"item {item.input_id!r} has no question")
        row["prompt"] = render(params.prompt, item)
        client = get_client(params.provider)
        row["endpoint"] = client.endpoint
        reply = client.complete(row["prompt"], params)
        row.update(
            prediction=reply.text,
            raw_response=reply.raw_response,
            finish_reason=reply.finish_reason,
            prompt_tokens=reply.prompt_tokens,
            completion_tokens=reply.completion_tokens,
            total_tokens=reply.prompt_tokens + reply.completion_tokens,
            cost=cost(params.model, reply.prompt_tokens, reply.completion_tokens),
            retries=reply.retries,
        )
        connect_seconds = reply.connect_seconds
    except LLMError as error:  # the request failed, after retries if it was transient
        row["raw_response"] = error.raw_response or None
        row["retries"] = error.retries
        row["error"] = str(error)
        row["error_type"] = type(error).__name__
    except Exception as error:  # a bad datapoint is data, not a crash
        row["error"] = str(error) or repr(error)
        row["error_type"] = type(error).__name__
    row["latency"] = time.perf_counter() - start - connect_seconds
    # The API key never reaches the db, the cache or a report, whichever field echoes it.
    return {name: mask(value) if isinstance(value, str) else value for name, value in row.items()}
