"""How long to wait, as a pure function of the failure count (configurable, tested at its edges)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class WaitPolicy:
    #: The failure that starts the waiting (the 5th by default).
    threshold: int = 5
    #: The first wait; it doubles with every further failure.
    base: timedelta = timedelta(seconds=30)
    #: The longest wait: a stranger can slow an account down, never lock it for good.
    cap: timedelta = timedelta(minutes=15)
    #: Failures older than this are forgotten.
    forget_after: timedelta = timedelta(hours=24)

    def wait(self, failures: int) -> timedelta | None:
        """The wait imposed after the ``failures``-th consecutive failure (None below the threshold)."""
        if failures < self.threshold:
            return None
        doublings = failures - self.threshold
        if doublings > 30:  # far past any cap; also keeps the multiplication from overflowing
            return self.cap
        return min(self.base * (2 ** doublings), self.cap)

    def schedule(self) -> list[tuple[int, timedelta]]:
        """Every (failures, wait) step until the cap is reached; beyond the last step the wait is ``cap``."""
        steps, failures = [], self.threshold
        while True:
            wait = self.wait(failures)
            steps.append((failures, wait))
            if wait >= self.cap:
                return steps
            failures += 1
