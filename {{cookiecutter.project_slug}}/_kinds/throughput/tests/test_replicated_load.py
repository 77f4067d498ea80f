"""A load test measured in replicates (``run --replicate N``), on the local service: the same
service measured again is never better or worse; a service 30% slower is worse, with five
replicates per side (three are enough on a quiet machine; five keep Holm's correction over the
kind's ten measurements from blurring it on a busy one). Latency is mostly the service's sleep
(40 ms): the 30% stays far from the 10% threshold."""

import time

import pytest

from {{ cookiecutter.module_name }} import predict as predict_module
from {{ cookiecutter.module_name }} import targets
from {{ cookiecutter.module_name }}.data import load_items
from {{ cookiecutter.module_name }}.harness import compare, kind, runner
from {{ cookiecutter.module_name }}.harness.tracking import run_metadata
from {{ cookiecutter.module_name }}.params import Params

LEVEL = [Params(concurrency=2, sleep_ms=40, cpu_rounds=0)]
REPLICATES = 5


def measure(db, items, name: str, commit: str, slower: float = 1.0) -> None:
    """REPLICATES replicates of the level against the local service, ``slower`` times its sleep."""
    inner = targets.TARGETS["local"]

    def service(payload, params):
        time.sleep(params.sleep_ms * (slower - 1) / 1000)
        return inner(payload, params)

    version = f"{predict_module.PREDICT_VERSION}-{name}"  # new computations: measured again
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(targets.TARGETS, "local", service)
        patch.setattr(predict_module, "PREDICT_VERSION", version)
        for replicate in range(REPLICATES):
            metadata = run_metadata(
                name, "experiment", version, (commit, False), replicate=replicate
            )
            options = runner.RunOptions(
                db=db, metadata=metadata, parallelism="none", progress=False, replicate=replicate
            )
            assert runner.run(items, LEVEL, options).computed == len(items)


def marks(result) -> dict[str, str]:
    (config,) = result["configurations"]
    return {m["metric"]: m["mark"] for m in config["metrics"] if m["metric"] in kind.MEASUREMENTS}


def test_the_same_service_is_never_worse_and_a_slower_one_is(tmp_path):
    db, items = tmp_path / "bench.db", load_items(limit=30)
    measure(db, items, "base", "a1" * 20)
    measure(db, items, "again", "b2" * 20)
    measure(db, items, "slower", "c3" * 20, slower=1.3)
    same = compare.compare(db, "base", "again")
    assert [len(same["replicates"][side]) for side in "ab"] == [REPLICATES, REPLICATES]
    assert not {"worse", "better"} & set(marks(same).values()), marks(same)
    slow = compare.compare(db, "base", "slower")
    found = marks(slow)
    assert found["latency_mean"] == found["latency_p50"] == "worse", slow["configurations"]
    assert found[kind.PRIMARY] in ("worse", "inconclusive")  # requests/s: about -23%, 20% thr.
