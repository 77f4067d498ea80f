"""The parameters of one configuration (one load level), and the grid of levels to run.

Every field that can change a result belongs here. Field types must be immutable (tuples,
not lists); floats are quantized, so 5.0 and 5.0000000001 are the same configuration.

``concurrency`` is the load: how many requests are in flight at once. Because Params has a
field of that name, the runner runs the configurations one after another, each through its own
pool of exactly ``concurrency`` workers, so every level is measured on its own (runner.py,
``schedule``). The grid reads three environment variables, so pointing the load test at a real
service needs no code change:

    LOAD_URL=http://127.0.0.1:8000/work LOAD_CONCURRENCY=1,4,16 make run

``LOAD_URL`` switches the target to ``http`` (each request's payload is POSTed there),
``LOAD_CONCURRENCY`` lists the levels, ``LOAD_TARGET_VERSION`` names the build you measure,
``LOAD_REQUESTS_PER_WORKER=N`` sends concurrency x N requests per level (cycling through the
dataset's requests) instead of every request of the dataset once.

A level is one unit (harness/levels.py): its rows, failed requests and Timeouts included, are
cached together once its last request is recorded, so a rerun sends nothing and reports the
error rate the level was measured with; a level interrupted midway is measured again whole.
"""

import os
from dataclasses import dataclass

from .harness.identity import Configuration, check_fields, neutral

# Recorded on every row: bump it when you start a new experiment on purpose.
EXPERIMENT = "baseline"

TARGETS = ("local", "http")
LEVELS = (1, 2, 4, 8, 16)


@dataclass(frozen=True, slots=True)
class Params(Configuration):  # Configuration: checked fields and config_id
    target: str = "local"  # "local" (the stand-in service in targets.py) or "http" (POST to url)
    concurrency: int = 1  # requests in flight at once; each level runs on its own
    sleep_ms: int = 20  # local target: milliseconds each request waits (its I/O)
    cpu_rounds: int = 200  # local target: SHA-256 rounds each request computes (its CPU work)
    url: str = ""  # http target: the endpoint (no credentials: it is stored on every row)
    timeout: float = 5.0  # seconds without an answer before a request fails (Timeout)
    # The version of what you measure: the same requests at the same level against a new
    # build are new computations only if this changes (results of the old one are kept).
    target_version: str = "1"
    # Requests per level: 0 sends every request of the dataset once; N > 0 sends concurrency x N
    # (each worker N), cycling through the dataset's requests (data.level_items).
    requests_per_worker: int = neutral(0)

    def __post_init__(self):  # replaces Configuration's, so it checks the fields first
        check_fields(self)
        if self.target not in TARGETS:
            raise ValueError(f"Params.target={self.target!r}: choose one of {', '.join(TARGETS)}")
        if self.concurrency < 1:
            raise ValueError(f"Params.concurrency={self.concurrency}: at least 1 request")
        if self.requests_per_worker < 0:
            raise ValueError(f"Params.requests_per_worker={self.requests_per_worker}: 0 or more")
        if self.target == "http" and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"Params.url={self.url!r}: the http target needs an http(s):// URL")


def levels() -> tuple[int, ...]:
    """The concurrency levels: ``LOAD_CONCURRENCY`` (comma-separated), else LEVELS."""
    value = os.environ.get("LOAD_CONCURRENCY", "").strip()
    if not value:
        return LEVELS
    try:
        found = tuple(int(part) for part in value.split(",") if part.strip())
    except ValueError:
        raise ValueError(f"LOAD_CONCURRENCY={value!r}: expected numbers, e.g. 1,4,16") from None
    return tuple(dict.fromkeys(found))  # in the order given, each level once


def requests_per_worker() -> int:
    """``LOAD_REQUESTS_PER_WORKER`` (requests per worker and level), else 0 (every request once)."""
    value = os.environ.get("LOAD_REQUESTS_PER_WORKER", "").strip() or "0"
    if not value.isdigit():
        raise ValueError(f"LOAD_REQUESTS_PER_WORKER={value!r}: expected a number, e.g. 100")
    return int(value)


def grid() -> list[Params]:
    """The sweep: one configuration per concurrency level, in the order they run."""
    version = os.environ.get("LOAD_TARGET_VERSION", "1")
    per_worker = requests_per_worker()
    url = os.environ.get("LOAD_URL", "").strip()
    if url:  # the local target's knobs do not apply to a remote service
        base = {"target": "http", "url": url, "sleep_ms": 0, "cpu_rounds": 0}
    else:
        base = {"target": "local"}
    return [
        Params(**base, concurrency=level, target_version=version, requests_per_worker=per_worker)
        for level in levels()
    ]
