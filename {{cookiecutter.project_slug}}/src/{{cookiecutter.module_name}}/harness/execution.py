"""One datapoint: call predict, turn a failure into an error row (workers run only this)."""

import time

from .kind import Item, Params, predict_module


def execute(item: Item, params: Params) -> tuple[dict, float]:
    """Call predict; return (result, seconds). An exception or a non-dict becomes an error row.

    So does a BaseException such as SystemExit (``sys.exit`` in predict) or a timeout
    (pools.Timeout); only KeyboardInterrupt (Ctrl-C) goes through, to stop the run.
    """
    start = time.perf_counter()
    try:
        result = predict_module.predict(item, params)
        if not isinstance(result, dict):
            raise TypeError(f"predict returned {type(result).__name__}, expected a dict")
    except KeyboardInterrupt:
        raise
    except BaseException as error:
        result = {
            "input_id": item.input_id,
            "error": f"predict called sys.exit({error.code!r})"
            if isinstance(error, SystemExit)
            else str(error) or repr(error),
            "error_type": type(error).__name__,
            "latency": time.perf_counter() - start,
        }
    return result, time.perf_counter() - start
