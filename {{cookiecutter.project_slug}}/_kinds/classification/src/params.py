"""The parameters of one configuration, and the grid of configurations to run.

Every field that can change a result belongs here. Field types must be immutable (tuples,
not lists); floats are quantized, so 0.5 and 0.5000000001 are the same configuration.
"""

import itertools
from dataclasses import dataclass

from .harness.identity import Configuration

# Recorded on every row: bump it when you start a new experiment on purpose.
EXPERIMENT = "baseline"


@dataclass(frozen=True, slots=True)
class Params(Configuration):  # Configuration: checked fields and config_id
    lexicon: str = "base"  # which word list scores sentiment: "base" or "extended"
    threshold: float = 0.0  # |score| above this is positive/negative, else neutral
    negation: bool = True  # "not good" counts as negative


def grid() -> list[Params]:
    """The sweep: every configuration the benchmark runs."""
    return [
        Params(lexicon=lexicon, threshold=threshold, negation=negation)
        for lexicon, threshold, negation in itertools.product(
            ("base", "extended"), (0.0, 1.0), (True, False)
        )
    ]
