"""The parameters of one configuration, and the grid of configurations to run.

Every field that can change a result belongs here. Field types must be immutable (tuples,
not lists); floats are quantized, so 0.5 and 0.5000000001 are the same configuration. Fields
an estimator does not use keep their default in the grid, so each model is one configuration.
"""

from dataclasses import dataclass

from .harness.identity import Configuration

# Recorded on every row: bump it when you start a new experiment on purpose.
EXPERIMENT = "baseline"


@dataclass(frozen=True, slots=True)
class Params(Configuration):  # Configuration: checked fields and config_id
    model: str = "logistic_regression"  # "logistic_regression", "random_forest" or "knn"
    C: float = 1.0  # logistic_regression: inverse regularization strength
    n_estimators: int = 100  # random_forest: number of trees
    n_neighbors: int = 5  # knn: neighbours that vote
    seed: int = 0  # random_state of estimators that use randomness


def grid() -> list[Params]:
    """The sweep: every configuration the benchmark runs."""
    return [
        *(Params(model="logistic_regression", C=C) for C in (0.01, 1.0, 100.0)),
        *(Params(model="random_forest", n_estimators=n) for n in (10, 100)),
        *(Params(model="knn", n_neighbors=k) for k in (1, 15)),
    ]
