"""The one seam through which domain code learns the time, so tests can set it to the second."""
from __future__ import annotations

from datetime import datetime, timezone


class Clock:
    """Wall clock in UTC, naive (the database stores naive UTC everywhere)."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


class FrozenClock(Clock):
    """A clock that stands still until moved; used by tests of expiry boundaries."""

    def __init__(self, at: datetime):
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta) -> None:
        from datetime import timedelta

        self.at = self.at + timedelta(**delta)
