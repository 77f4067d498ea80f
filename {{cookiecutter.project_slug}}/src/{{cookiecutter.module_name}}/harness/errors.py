"""Errors the machinery raises for a problem of the setup, not of a datapoint."""


class EngineUnavailable(RuntimeError):
    """The engine cannot be used here; the message says why and how to fix it."""


class ParallelismUnavailable(RuntimeError):
    """The parallelism cannot be used here; the message says why and how to fix it."""
