"""The clocks that drive windows: wall time live, event time in replay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from worker.clock import EventClock, WallClock

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def test_event_clock_has_no_time_before_its_first_event() -> None:
    assert EventClock().now() is None


def test_event_clock_follows_the_slowest_partition() -> None:
    clock = EventClock()
    clock.observe(T0 + timedelta(hours=5), partition=0)
    clock.observe(T0 + timedelta(hours=1), partition=1)
    assert clock.now() == T0 + timedelta(hours=1)
    assert clock.latest() == T0 + timedelta(hours=5)


def test_event_clock_never_goes_back() -> None:
    clock = EventClock()
    clock.observe(T0 + timedelta(hours=2), partition=0)
    clock.observe(T0, partition=0)
    assert clock.now() == T0 + timedelta(hours=2)


def test_event_clock_resumed_from_storage_does_not_fall_behind_it() -> None:
    clock = EventClock(start=T0 + timedelta(days=1))
    clock.observe(T0, partition=3)
    assert clock.now() == T0 + timedelta(days=1)


def test_wall_clock_ignores_events() -> None:
    clock = WallClock()
    clock.observe(T0, partition=0)
    now = clock.now()
    assert now is not None and now > T0
