"""Time, injected: services take a Clock so tests can pin 'now'."""

from __future__ import annotations

from datetime import datetime, timezone


class Clock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FixedClock(Clock):
    """A clock that says what it is told; for tests."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at
