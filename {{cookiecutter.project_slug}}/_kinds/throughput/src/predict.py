"""The single-execution function: one request, one load level, one result row.

This is the file you edit (with targets.py, where the target lives). Keep ``predict``
stateless, return everything cheap to collect, and bump PREDICT_VERSION whenever its logic
changes: cached results of other versions are then not reused. To measure a new build of the
target itself, change ``target_version`` in params.py (or ``LOAD_TARGET_VERSION``) instead.

Each row keeps wall-clock ``started_at``/``finished_at`` (seconds since the epoch):
requests/s per level is computed from them (metrics.py), so a rerun, whose rows are all cache
hits carrying the original timestamps, reports the throughput that was measured. ``worker``
names the worker that sent the request (``thread-3``: the pool's fourth thread;
``process-4242``: a worker process, under ``--parallelism processes``).

Under load a failed request (an error status, a Timeout, a refused connection) is a measurement
like any other: it is cached with its level, and a rerun does not send it again
(harness/levels.py). To measure again, change ``target_version`` (or run with a new db).
"""

import multiprocessing
import threading
import time

from . import monitor
from .data import Item
from .params import Params
from .targets import TargetError, endpoint, get_target

PREDICT_VERSION = "1"
PREVIEW = 200  # characters of the answer kept in `prediction`
MAX_BODY = 65536  # characters of the answer kept in `raw_response`

# The runner enters this around each concurrency level, in its own process (runner.schedule):
# system CPU and memory of the level, sampled where it is safe.
level_monitor = monitor.level_monitor


def predict(item: Item, params: Params) -> dict:
    """Send one request. Never raises for a bad datapoint or a failed request: the error is
    part of the row (cached with its level: a rerun does not send it again)."""
    started_at = time.time()
    start = time.perf_counter()
    connect_seconds = 0.0  # opening a connection is not part of the request's latency
    row = {
        "input_id": item.input_id,
        "ground_truth": None,  # a load test has no reference answer: see status and error
        "prediction": None,  # the start of the answer
        "raw_response": None,  # the answer (or an error answer's body), as text
        "status": None,  # HTTP status (200 for the local target), None without an answer
        "response_bytes": None,
        "endpoint": endpoint(params),
        "error": "",
        "error_type": "",
        "worker": worker_id(),
    }
    try:
        if item.payload is None:
            raise ValueError(f"request {item.input_id!r} has no payload")
        response = get_target(params.target)(item.payload, params)
        text = response.body.decode("utf-8", "replace")
        row.update(
            status=response.status,
            response_bytes=len(response.body),
            prediction=text[:PREVIEW],
            raw_response=text[:MAX_BODY],
        )
        connect_seconds = response.connect_seconds
    except TargetError as error:  # the request failed: an answer with an error status, or none
        row["status"] = error.status
        row["raw_response"] = error.body.decode("utf-8", "replace") or None
        row["error"] = str(error)
        row["error_type"] = type(error).__name__
    except Exception as error:  # a bad datapoint is data, not a crash
        row["error"] = str(error) or repr(error)
        row["error_type"] = type(error).__name__
    latency = time.perf_counter() - start - connect_seconds
    row.update(latency=latency, started_at=started_at, finished_at=started_at + latency)
    return row


def worker_id() -> str:
    """The worker running this request: ``thread-<n>`` (the n-th thread of the level's pool),
    ``process-<pid>`` (a worker process), else the thread's name."""
    process = multiprocessing.current_process()
    if process.name != "MainProcess":
        return f"process-{process.pid}"
    name = threading.current_thread().name  # ThreadPoolExecutor names them "<pool>_<n>"
    index = name.rpartition("_")[2]
    return f"thread-{index}" if "ThreadPoolExecutor" in name and index.isdigit() else name
