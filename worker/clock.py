"""Clocks: wall time when live, the stream's own event time when replaying."""

from __future__ import annotations

from datetime import UTC, datetime


class WallClock:
    """Real time; events do not move it."""

    def now(self) -> datetime | None:
        """The current UTC time."""
        return datetime.now(UTC)

    def observe(self, ts: datetime) -> None:
        """Ignore an event's time."""


class EventClock:
    """The highest event time seen so far (a watermark); None before any event."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start

    def now(self) -> datetime | None:
        """The watermark."""
        return self._now

    def observe(self, ts: datetime) -> None:
        """Move the watermark forward to `ts` if it is later."""
        if self._now is None or ts > self._now:
            self._now = ts
