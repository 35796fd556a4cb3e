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


def test_event_clock_held_back_by_a_partition_another_worker_reported() -> None:
    clock = EventClock()
    clock.observe(T0 + timedelta(days=3), partition=0)
    clock.merge({0: T0, 1: T0 + timedelta(hours=2)})
    assert clock.now() == T0 + timedelta(hours=2)
    assert clock.partitions() == {0: T0 + timedelta(days=3), 1: T0 + timedelta(hours=2)}


def test_wall_clock_ignores_events() -> None:
    clock = WallClock()
    clock.observe(T0, partition=0)
    now = clock.now()
    assert now is not None and now > T0
