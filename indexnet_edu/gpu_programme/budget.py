"""The programme's clock: one wall-clock budget, a reserve kept back for packing, stage shares,
and a stop flag that a signal (the device's time limit, Ctrl-C) or a testing aid can raise."""
from __future__ import annotations

import contextlib
import signal
import threading
import time
from dataclasses import dataclass, field

from .._signals import handling_signals


@dataclass
class Budget:
    """``total_s`` seconds from construction; the last ``reserve_s`` of them are for packing.

    ``work_left()`` is what any stage may still spend; ``stage_deadline(share)`` the monotonic
    time at which a stage that may use ``share`` of the whole budget must stop starting work.
    """

    total_s: float
    reserve_s: float
    started: float = field(default_factory=time.monotonic)
    stop: threading.Event = field(default_factory=threading.Event)
    stop_reason: str | None = None

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def work_end(self) -> float:
        """The monotonic time by which all work (not the packing) must be over."""
        return self.started + self.total_s - self.reserve_s

    def work_left(self) -> float:
        """Seconds of work still allowed (negative once the reserve has been entered)."""
        return self.work_end() - time.monotonic()

    def stage_deadline(self, share: float) -> float:
        """Now + ``share`` of the whole budget, but never past :meth:`work_end`."""
        return min(time.monotonic() + share * self.total_s, self.work_end())

    def request_stop(self, reason: str) -> None:
        """Stop starting work: running jobs are interrupted, what is finished is packed."""
        if not self.stop.is_set():
            self.stop_reason = reason
            self.stop.set()

    @property
    def stopped(self) -> bool:
        return self.stop.is_set()


@contextlib.contextmanager
def stop_on_signals(budget: Budget, signals=(signal.SIGINT, signal.SIGTERM)):
    """Within the block, SIGINT/SIGTERM ask ``budget`` to stop instead of killing the process (so
    the finished results still get packed); the previous handlers come back after. A no-op off
    the main thread, where Python cannot install handlers."""

    def handle(signum, frame):
        budget.request_stop(f"cut off by signal {signal.Signals(signum).name}")

    with handling_signals(handle, signals):
        yield
