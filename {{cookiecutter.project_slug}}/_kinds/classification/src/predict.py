"""The single-execution function: one datapoint, one configuration, one result row.

This is the file you edit. Keep ``predict`` stateless and deterministic, return everything
cheap to collect (parse later, at analysis time), and bump PREDICT_VERSION whenever its logic
changes: cached results of other versions are then not reused.
"""

import json
import re
import time

from .data import Item
from .params import Params

PREDICT_VERSION = "1"

BASE_POSITIVE = frozenset({"great", "excellent", "fast", "reliable"})
BASE_NEGATIVE = frozenset({"terrible", "slow", "broken", "awful"})
EXTENDED_POSITIVE = BASE_POSITIVE | {"friendly", "delightful", "superb", "clean"}
EXTENDED_NEGATIVE = BASE_NEGATIVE | {"rude", "noisy", "disappointing", "dirty"}
LEXICONS = {
    "base": (BASE_POSITIVE, BASE_NEGATIVE),
    "extended": (EXTENDED_POSITIVE, EXTENDED_NEGATIVE),
}
NEGATIONS = frozenset({"not", "never", "no"})


def score(text: str, params: Params) -> tuple[int, list[str]]:
    """Sentiment score of ``text`` and the words that made it."""
    positive, negative = LEXICONS[params.lexicon]
    total, hits, negate = 0, [], False
    for word in re.findall(r"[a-z']+", text.lower()):
        if params.negation and word in NEGATIONS:
            negate = True
            continue
        polarity = 1 if word in positive else -1 if word in negative else 0
        if polarity:
            total += -polarity if negate else polarity
            hits.append(f"not {word}" if negate else word)
            negate = False
    return total, hits


def predict(item: Item, params: Params) -> dict:
    """Classify one item. Never raises for a bad datapoint: the error is part of the row."""
    start = time.perf_counter()
    row = {
        "input_id": item.input_id,
        "ground_truth": item.label,
        "prediction": None,
        "raw_response": None,
        "error": "",
        "error_type": "",
    }
    try:
        if not item.text:
            raise ValueError(f"item {item.input_id!r} has no text")
        if params.lexicon not in LEXICONS:
            raise KeyError(f"unknown lexicon {params.lexicon!r}; choose from {sorted(LEXICONS)}")
        total, hits = score(item.text, params)
        if total > params.threshold:
            row["prediction"] = "positive"
        elif total < -params.threshold:
            row["prediction"] = "negative"
        else:
            row["prediction"] = "neutral"
        row["raw_response"] = json.dumps({"score": total, "hits": hits})
    except Exception as error:  # a bad datapoint is data, not a crash
        row["error"] = str(error) or repr(error)
        row["error_type"] = type(error).__name__
    row["latency"] = time.perf_counter() - start
    return row
