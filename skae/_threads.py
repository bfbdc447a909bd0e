"""The count of skae computations running torch in this process.

torch's intra-op thread count is the whole process's, so a training step may
lower it (:func:`skae._optimizer.optimizer_step`) only while nothing else of
skae computes with torch: an encoding, a score or another fit in a concurrent
thread (a search's threading backend) would otherwise run some of its
operations on one thread, and round differently.
"""

from __future__ import annotations

import threading


class RunningCount:
    """How many skae computations with torch are running, under a lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count = 0

    def running(self) -> RunningCount:
        """A context in which one more computation counts as running."""
        # The count is its own context manager, cheaper than a generator-based
        # one in the calls of a single-row transform.
        return self

    def __enter__(self) -> None:
        with self.lock:
            self.count += 1

    def __exit__(self, *exc_info: object) -> None:
        with self.lock:
            self.count -= 1


TORCH_CALLS = RunningCount()
