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

    Partitions are consumed at different speeds, and by different workers, so
    the clock is the minimum over every partition known to have had events of
    its highest event time. An event from a partition that lags behind is then
    not mistaken for a late one, and no day closes before every partition has
    passed it. Workers share their partitions' times through Redis (`merge`).
    """

    def __init__(self) -> None:
        self._partitions: dict[int, datetime] = {}

    def now(self) -> datetime | None:
        """The watermark; None before any event."""
        return min(self._partitions.values(), default=None)

    def latest(self) -> datetime | None:
        """The highest event time seen on any partition."""
        return max(self._partitions.values(), default=None)

    def partitions(self) -> dict[int, datetime]:
        """Each partition's highest event time."""
        return dict(self._partitions)

    def merge(self, times: dict[int, datetime]) -> None:
        """Take in partition times seen by other workers or before a restart."""
        for partition, ts in times.items():
            self.observe(ts, partition)

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
