"""The shapes the core depends on, so tests and the Kafka edge can plug in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from worker.tasks import Task


class Clock(Protocol):
    """Where the current time comes from: wall time or the stream's event time."""

    def now(self) -> datetime | None:
        """The current time, or None when an event clock has seen no event yet."""

    def latest(self) -> datetime | None:
        """The furthest time seen: what an event is checked against for the future."""

    def observe(self, ts: datetime, partition: int) -> None:
        """Take note of an accepted event's time and the partition it came from."""

    def snapshot(self) -> object:
        """The clock's state, to put back if a batch has to be processed again."""

    def restore(self, state: object) -> None:
        """Return to a state taken by `snapshot`."""


@dataclass(frozen=True)
class Record:
    """One Kafka record as consumed: raw value and where it came from."""

    value: bytes | None
    topic: str
    partition: int
    offset: int
    key: bytes | None = None


@dataclass(frozen=True)
class Rejection:
    """A record that could not become an event, and why."""

    record: Record
    reason: str
    detail: str


class Sink(Protocol):
    """Where the core's output goes."""

    async def publish_task(self, task: Task) -> None:
        """Publish a touchpoint task; return only once the broker has it."""

    async def dead_letters(self, rejections: Sequence[Rejection]) -> None:
        """Publish rejected records with their reasons; return once all are acked."""
