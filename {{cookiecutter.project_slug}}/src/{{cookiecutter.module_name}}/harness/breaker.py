"""Failures made loud: counted per configuration, shown on the progress bar, and a circuit
breaker that stops a run whose recent datapoints all fail the same way.

A benchmark against a wrong key or a dead endpoint fails every datapoint, each after its
retries: without a breaker a large grid would run for hours to record nothing but errors.
``Failures.observe`` sees every computed result (the runner calls it); after ``window``
consecutive failures of one error type it raises ``CircuitOpen``. The rows so far are kept (the
runner commits them on the way out) and the next run retries the failed datapoints (errors are
not cached).
"""

from collections import Counter, deque

BREAKER_WINDOW = 20  # consecutive failures of one error type that stop a run (0: never)


class CircuitOpen(RuntimeError):
    """The run was stopped: its last ``window`` datapoints all failed with the same error."""


def error_of(result: dict) -> tuple[str, str]:
    """(error type, first line of the message) of a failed result; ("", "") if it worked."""
    message = str(result.get("error") or "")
    if not message:
        return "", ""
    return str(result.get("error_type") or "Error"), message.splitlines()[0][:200]


class Failures:
    """Failed datapoints per configuration (error type -> count), the progress bar's postfix and
    the circuit breaker."""

    def __init__(self, window: int = BREAKER_WINDOW, bar=None):
        self.window, self.bar = window, bar
        self.per_config: dict[str, Counter] = {}
        self.recent: deque = deque(maxlen=max(window, 1))
        self.failed = 0

    def observe(self, config_id: str, result: dict) -> None:
        """Count ``result`` if it failed; raise CircuitOpen when the breaker trips."""
        error_type, message = error_of(result)
        self.recent.append(error_type)
        if not error_type:
            return
        self.failed += 1
        self.per_config.setdefault(config_id, Counter())[error_type] += 1
        if self.bar is not None:
            self.bar.set_postfix(failed=self.failed, refresh=False)
        if self.window and len(self.recent) == self.window and len(set(self.recent)) == 1:
            raise CircuitOpen(
                f"stopped: the last {self.window} datapoints all failed with {error_type}: "
                f"{message} (rows so far are kept; fix the cause and run again, or change "
                "--breaker N / pass --no-breaker)"
            )

    def top(self, config_id: str, n: int = 2) -> str:
        """The ``n`` most frequent error types of a configuration: "HTTPError x12, Timeout x3"."""
        counts = self.per_config.get(config_id, Counter())
        return ", ".join(f"{name} x{count}" for name, count in counts.most_common(n))
