"""One datapoint: call predict, turn a failure into an error row (workers run only this)."""

import time

from .kind import Item, Params, predict_module


def execute(item: Item, params: Params) -> tuple[dict, float]:
    """Call predict; return (result, seconds). An exception or a non-dict becomes an error row."""
    start = time.perf_counter()
    try:
        result = predict_module.predict(item, params)
        if not isinstance(result, dict):
            raise TypeError(f"predict returned {type(result).__name__}, expected a dict")
    except Exception as error:
        result = {
            "input_id": item.input_id,
            "error": str(error) or repr(error),
            "error_type": type(error).__name__,
            "latency": time.perf_counter() - start,
        }
    return result, time.perf_counter() - start
