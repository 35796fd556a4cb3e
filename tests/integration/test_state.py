"""Redis state and the processor on the real Redis server: idempotence and bounds."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

import pytest
import redis
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from worker.app import build_store
from worker.clock import EventClock
from worker.errors import StateError
from worker.metrics import account_summary
from worker.processor import Processor
from worker.protocols import Record, Rejection
from worker.rules import Rules
from worker.settings import Settings
from worker.state import Applied, Store, Update
from worker.tasks import Task
from worker.tiers import Tier

from .conftest import REDIS, envelope

pytestmark = pytest.mark.integration
START = datetime(2024, 3, 1, tzinfo=UTC)
EVENTS = {Tier.PASSIVE: "access", Tier.ACTIVE: "video", Tier.POWER: "discussion"}


class CollectingSink:
    """Keeps what the processor publishes, for assertions."""

    def __init__(self) -> None:
        self.tasks: list[Task] = []
        self.rejections: list[Rejection] = []

    async def publish_task(self, task: Task) -> None:
        self.tasks.append(task)

    async def dead_letters(self, rejections: Sequence[Rejection]) -> None:
        self.rejections += rejections


def records(lines: list[bytes]) -> list[Record]:
    """Lines as records of one partition, offsets in order."""
    return [Record(line, "events", 0, i) for i, line in enumerate(lines)]


async def snapshot(store: Store, users: set[str]) -> dict[str, object]:
    """Everything a replay must not change."""
    counters = await store.counters()
    return {
        "days": {u: await store.user_days("acct-1", u) for u in sorted(users)},
        "month": await store.month_activity("acct-1", START.date().toordinal() + 40),
        "accepted": counters.get("accepted", 0),
        "due": await store.due(10**7, 1000),
    }


async def run_stream(
    settings: Settings, rules: Rules, batches: list[list[bytes]]
) -> tuple[dict[str, object], list[str]]:
    """Feed batches through a fresh processor under a fresh namespace."""
    prefix = f"it-{uuid.uuid4().hex[:10]}"
    scoped = settings.model_copy(update={"redis_prefix": prefix})
    store = build_store(scoped, rules)
    sink = CollectingSink()
    proc = Processor(scoped, rules, store, EventClock(), sink)
    users: set[str] = set()
    try:
        for batch in batches:
            await proc.handle(records(batch))
            users |= {json.loads(line)["user_id"] for line in batch}
        return await snapshot(store, users), sorted(t.task_id for t in sink.tasks)
    finally:
        async for key in store.client.scan_iter(match=f"{prefix}:*"):
            await store.client.delete(key)
        await store.client.aclose()


event_lists = st.lists(
    st.tuples(
        st.sampled_from(["ann", "bob", "cy"]),
        st.integers(0, 24),
        st.integers(0, 23),
        st.sampled_from(list(EVENTS.values())),
    ),
    min_size=1,
    max_size=40,
    unique_by=lambda e: (e[0], e[1], e[2]),
)


def to_lines(events: list[tuple[str, int, int, str]]) -> list[bytes]:
    """Time-ordered envelopes for (user, day, hour, event) tuples."""
    ordered = sorted(events, key=lambda e: (e[1], e[2], e[0]))
    return [
        envelope(f"{u}-{d}-{h}", u, name, START + timedelta(days=d, hours=h))
        for u, d, h, name in ordered
    ]


@hsettings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(events=event_lists, cut=st.integers(0, 40))
def test_replaying_any_prefix_changes_no_state_and_opens_no_task(
    settings: Settings, rules: Rules, events: list[tuple[str, int, int, str]], cut: int
) -> None:
    lines = to_lines(events)
    once = asyncio.run(run_stream(settings, rules, [lines]))
    replayed = asyncio.run(run_stream(settings, rules, [lines, lines[:cut], lines]))
    assert replayed == once


@hsettings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(events=event_lists, data=st.data())
def test_reordering_within_the_lateness_bound_gives_the_same_state_and_tasks(
    settings: Settings,
    rules: Rules,
    events: list[tuple[str, int, int, str]],
    data: st.DataObject,
) -> None:
    lines = to_lines(events)
    shuffled = list(lines)
    for i in range(len(shuffled) - 1):
        a, b = (
            datetime.fromisoformat(json.loads(x)["timestamp"])
            for x in shuffled[i : i + 2]
        )
        if b - a < settings.lateness and data.draw(st.booleans()):
            shuffled[i], shuffled[i + 1] = shuffled[i + 1], shuffled[i]
    assert asyncio.run(run_stream(settings, rules, [shuffled])) == asyncio.run(
        run_stream(settings, rules, [lines])
    )


async def test_every_account_key_has_a_ttl(
    settings: Settings, rules: Rules, store: Store
) -> None:
    proc = Processor(settings, rules, store, EventClock(), CollectingSink())
    lines = [
        envelope(
            f"e{d}",
            "ann",
            "discussion" if d == 0 else "access",
            START + timedelta(days=d),
        )
        for d in range(12)
    ]
    await proc.handle(records(lines))

    client = redis.Redis.from_url(REDIS)
    keys = list(client.scan_iter(match=f"{settings.redis_prefix}:{{*"))
    assert keys
    assert all(client.ttl(k) > 0 for k in keys), [k for k in keys if client.ttl(k) <= 0]
    client.close()


async def test_a_users_history_stays_bounded_however_long_the_stream_runs(
    settings: Settings, rules: Rules, store: Store
) -> None:
    updates = [
        Update(f"e{d}", "acct-1", "ann", 738_000 + d, Tier.ACTIVE) for d in range(200)
    ]
    for update in updates:
        await store.apply([update], closed=update.day - 1)
    # the days still open sit on top of the closed days a check may need
    assert len(await store.user_days("acct-1", "ann")) <= store.keep_days + 1


async def test_dau_and_mau_are_read_from_state(
    settings: Settings, rules: Rules, store: Store
) -> None:
    day = 738_000
    updates = [
        Update(f"{u}-{d}", "acct-1", u, day - d, Tier.PASSIVE)
        for u, days in {"ann": range(30), "bob": [0], "cy": [40]}.items()
        for d in days
    ]
    await store.apply(updates)

    month = await store.month_activity("acct-1", day)
    assert (month.dau, month.mau) == (2, 2)
    assert month.average_dau == pytest.approx(31 / 30)
    assert month.stickiness == pytest.approx(31 / 30 / 2)


async def test_account_summary_splits_the_months_users_by_window_tier(
    settings: Settings, rules: Rules, store: Store
) -> None:
    day = 738_000
    await store.apply(
        [
            Update("p", "acct-1", "ann", day, Tier.POWER),
            Update("a", "acct-1", "bob", day - 2, Tier.ACTIVE),
            Update("q", "acct-1", "cy", day - 20, Tier.PASSIVE),
        ]
    )

    summary = await account_summary(store, rules, "acct-1", day)
    assert summary.month.mau == 3
    assert summary.tiers == Counter({Tier.POWER: 1, Tier.ACTIVE: 1, Tier.NONE: 1})
    assert summary.active_share == pytest.approx(2 / 3)
    assert summary.meets_active_target


class SettableClock:
    """A wall clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime | None:
        return self.current

    def latest(self) -> datetime | None:
        return self.current

    def observe(self, ts: datetime, partition: int) -> None:
        """Events do not move a wall clock."""

    def snapshot(self) -> object:
        return None

    def restore(self, state: object) -> None:
        """Nothing to restore."""


async def test_live_sweep_opens_dormant_task_when_time_passes_without_events(
    settings: Settings, rules: Rules, store: Store
) -> None:
    # given a live worker that saw a power user post, then nothing more
    clock = SettableClock(START + timedelta(minutes=30))
    sink = CollectingSink()
    proc = Processor(settings, rules, store, clock, sink)
    await proc.handle(records([envelope("post", "ann", "wiki", START)]))

    # when the clock moves a full window on and the timer sweeps
    clock.current = START + timedelta(days=6)
    assert await proc.sweep() == []
    clock.current = START + timedelta(days=9)
    opened = await proc.sweep()

    # then the user is found dormant, once, by the sweep alone
    assert [(t.kind.value, t.user_id) for t in opened] == [("power_to_dormant", "ann")]
    assert opened[0].opened_at == clock.current
    assert opened[0].due_at == clock.current + timedelta(hours=48)
    assert await proc.sweep() == []
    assert sink.tasks == opened


class FlakyStore(Store):
    """The real store, whose first write fails as if Redis dropped the link."""

    failed = False

    async def apply(
        self, updates: Sequence[Update], closed: int | None = None
    ) -> list[Applied]:
        if not self.failed:
            self.failed = True
            raise StateError("connection reset by peer")
        return await super().apply(updates, closed)


async def test_a_batch_retried_after_a_redis_failure_is_judged_as_the_first_time(
    settings: Settings, rules: Rules, store: Store
) -> None:
    # given a batch whose last event moves event time well past its first
    flaky = FlakyStore(store.client, store.keys, store.ttl, store.keep_days)
    sink = CollectingSink()
    proc = Processor(settings, rules, flaky, EventClock(), sink)
    lines = [
        envelope("early", "ann", "video", START),
        envelope("later", "ann", "video", START + timedelta(hours=5)),
    ]

    # when Redis fails during the first attempt and the batch is handled again
    with pytest.raises(StateError):
        await proc.handle(records(lines))
    stats = await proc.handle(records(lines))

    # then the early event is applied, not dead-lettered as late
    assert stats.accepted == 2
    assert sink.rejections == []


class LosesOneSchedule(Store):
    """The real store, whose first schedule write fails after the events applied."""

    failed = False

    async def schedule(self, entries: Iterable[tuple[str, str, int]]) -> None:
        if not self.failed:
            self.failed = True
            raise StateError("connection reset by peer")
        await super().schedule(entries)


async def test_a_redelivered_batch_restores_a_schedule_its_first_delivery_lost(
    settings: Settings, rules: Rules, store: Store
) -> None:
    # given a batch whose events applied but whose schedule write failed
    flaky = LosesOneSchedule(store.client, store.keys, store.ttl, store.keep_days)
    proc = Processor(settings, rules, flaky, EventClock(), CollectingSink())
    lines = [envelope("post", "ann", "wiki", START + timedelta(hours=2))]
    with pytest.raises(StateError):
        await proc.handle(records(lines))

    # when the batch is delivered again and every event is a duplicate
    stats = await proc.handle(records(lines))

    # then the user's check is scheduled all the same
    assert stats.duplicate == 1
    assert [(a, u) for a, u, _ in await store.due(10**7, 10)] == [("acct-1", "ann")]


async def test_workers_share_one_event_clock_through_redis(
    settings: Settings, rules: Rules, store: Store
) -> None:
    # given two workers' processors, each consuming one partition
    first = Processor(settings, rules, store, EventClock(), CollectingSink())
    second = Processor(settings, rules, store, EventClock(), CollectingSink())
    await first.handle([Record(envelope("a", "ann", "video", START), "t", 0, 0)])

    # when the second worker's partition runs days ahead
    later = START + timedelta(days=5)
    await second.handle([Record(envelope("b", "bob", "video", later), "t", 1, 0)])

    # then its clock is held back by the first worker's partition
    assert second.clock.now() == START
    assert await store.clock() == START.timestamp()
