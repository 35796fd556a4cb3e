"""Clocks: wall time when live, the stream's own event time when replaying."""

from __future__ import annotations

from datetime import UTC, datetime


class WallClock:
    """Real time; events do not move it."""

    def now(self) -> datetime | None:
        """The current UTC time."""
        return datetime.now(UTC)

    def latest(self) -> datetime | None:
        """The current UTC time."""
        return self.now()

    def observe(self, ts: datetime, partition: int) -> None:
        """Ignore an event's time."""

    def snapshot(self) -> object:
        """Nothing to keep: wall time is not ours to rewind."""
        return None

    def restore(self, state: object) -> None:
        """Nothing to restore."""


class EventClock:
    """Event time as a watermark: the slowest input partition's latest event.

    Partitions are consumed at different speeds, so the clock is the minimum
    over the partitions seen of each one's highest event time; an event from
    a partition that lags behind is then not mistaken for a late one.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start
        self._partitions: dict[int, datetime] = {}

    def now(self) -> datetime | None:
        """The watermark; None before any event (unless resumed from storage)."""
        if not self._partitions:
            return self._start
        slowest = min(self._partitions.values())
        return slowest if self._start is None else max(slowest, self._start)

    def latest(self) -> datetime | None:
        """The highest event time seen on any partition."""
        return max(self._partitions.values(), default=self._start)

    def observe(self, ts: datetime, partition: int) -> None:
        """Move a partition's watermark forward to `ts` if it is later."""
        current = self._partitions.get(partition)
        if current is None or ts > current:
            self._partitions[partition] = ts

    def snapshot(self) -> object:
        """A copy of every partition's watermark."""
        return dict(self._partitions)

    def restore(self, state: object) -> None:
        """Put back the watermarks of a snapshot."""
        if not isinstance(state, dict):
            raise TypeError("not a snapshot of an EventClock")
        self._partitions = dict(state)
