"""The stream processor: records in, state updated, touchpoints out.

Kafka-free on purpose: the faust agent hands it batches of records and a sink,
tests can do the same. Per batch it validates every record, applies the
accepted ones to Redis in one round trip, and evaluates the users whose
history changed. Checks that are due because time passed run in `sweep`,
which the event clock triggers inline whenever a day closes and the wall
clock triggers from a timer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from worker.clock import EventClock
from worker.engagement import DayTiers, Drop, evaluate, next_check
from worker.errors import InputError
from worker.events import Event, check_late, check_not_future, parse_event
from worker.logs import get_logger
from worker.protocols import Clock, Record, Rejection, Sink
from worker.rules import Rules
from worker.settings import Settings
from worker.state import Store, Update
from worker.tasks import Task, drop_task
from worker.tiers import Tier, closed_day

SWEEP_PAGE = 500
log = get_logger("processor")


@dataclass
class BatchStats:
    """What one batch did."""

    accepted: int = 0
    duplicate: int = 0
    late_duplicate: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    opened: list[Task] = field(default_factory=list)


class Processor:
    """Validate, apply and evaluate; every decision comes from the pure core."""

    def __init__(
        self, settings: Settings, rules: Rules, store: Store, clock: Clock, sink: Sink
    ) -> None:
        self.settings = settings
        self.rules = rules
        self.store = store
        self.clock = clock
        self.sink = sink
        self.swept: int | None = None
        self.clock_loaded = False
        self.lock = asyncio.Lock()

    @property
    def event_time(self) -> bool:
        """Whether the stream's own event time drives the clock."""
        return isinstance(self.clock, EventClock)

    def closed(self) -> int | None:
        """The last day whose windows are final under the current clock."""
        now = self.clock.now()
        return None if now is None else closed_day(now, self.settings.lateness)

    async def handle(self, records: Sequence[Record]) -> BatchStats:
        """Process one batch of records from the input topic.

        If it fails part-way the clock is put back, so that processing the
        same batch again (as the caller does) judges every record as before.
        """
        async with self.lock:
            saved = self.clock.snapshot(), self.swept, self.clock_loaded
            try:
                stats = await self._handle(records)
            except BaseException:
                self.clock.restore(saved[0])
                self.swept, self.clock_loaded = saved[1], saved[2]
                raise
        await self.store.count(
            duplicate=stats.late_duplicate,
            rejected=len(stats.rejections),
            records=len(records),
        )
        return stats

    async def _handle(self, records: Sequence[Record]) -> BatchStats:
        stats = BatchStats()
        if not self.clock_loaded:
            # Resume from what this and other workers reached before judging
            # any record as late; after that, each batch's end brings it in.
            await self._share_clock()
            self.clock_loaded = True
        pending: list[Update] = []
        for record in records:
            update = await self._admit(record, stats)
            if update is not None:
                pending.append(update)
            if self.event_time and self._day_closed():
                await self._apply(pending, stats)
                pending = []
                stats.opened += await self._sweep()
        await self._apply(pending, stats)
        if stats.rejections:
            await self.sink.dead_letters(stats.rejections)
        await self._share_clock()
        return stats

    async def _share_clock(self) -> None:
        """Publish this worker's partition times and take in everyone else's."""
        if not isinstance(self.clock, EventClock):
            return
        mine = {p: ts.timestamp() for p, ts in self.clock.partitions().items()}
        shared = await self.store.sync_clock(mine)
        self.clock.merge({p: datetime.fromtimestamp(t, UTC) for p, t in shared.items()})

    async def sweep(self) -> list[Task]:
        """Run every check that time passing has made due; returns tasks opened."""
        async with self.lock:
            return await self._sweep()

    async def _admit(self, record: Record, stats: BatchStats) -> Update | None:
        try:
            event = parse_event(record.value, self.settings.max_event_bytes)
            self._check_time(event)
            tier = self.rules.classify(event.event, event.properties)
        except InputError as exc:
            if exc.reason == "too_late" and await self._already_applied(record):
                stats.late_duplicate += 1
                return None
            stats.rejections.append(self._rejected(record, exc.reason, exc.detail))
            return None
        except Exception as exc:  # a bug in validation must not stop the stream
            log.exception(
                "event_unprocessable",
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
            )
            stats.rejections.append(self._rejected(record, "unprocessable", repr(exc)))
            return None

        self.clock.observe(event.timestamp, record.partition)
        return Update(
            event.event_id,
            event.account_id,
            event.user_id,
            event.timestamp.date().toordinal(),
            tier or Tier.NONE,
        )

    def _check_time(self, event: Event) -> None:
        # Nothing can come from the real future, whichever clock is in use.
        check_not_future(event, datetime.now(UTC), self.settings.skew)
        latest, now = self.clock.latest(), self.clock.now()
        if latest is not None and self.event_time:
            check_not_future(event, latest, self.settings.event_skew)
        if now is not None:
            check_late(event, now, self.settings.lateness)

    async def _already_applied(self, record: Record) -> bool:
        event = parse_event(record.value, self.settings.max_event_bytes)
        return await self.store.was_seen(
            event.account_id, event.timestamp.date().toordinal(), event.event_id
        )

    @staticmethod
    def _rejected(record: Record, reason: str, detail: str) -> Rejection:
        log.warning(
            "event_rejected",
            reason=reason,
            detail=detail,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
        )
        return Rejection(record, reason, detail)

    def _day_closed(self) -> bool:
        closed = self.closed()
        return closed is not None and (self.swept is None or closed > self.swept)

    async def _apply(self, pending: list[Update], stats: BatchStats) -> None:
        if not pending:
            return
        closed = self.closed()
        results = await self.store.apply(pending, closed)
        schedule: list[tuple[str, str, int]] = []
        for update, applied in zip(pending, results, strict=True):
            if applied.duplicate:
                stats.duplicate += 1
            else:
                stats.accepted += 1
            if applied.days is None or update.user is None or closed is None:
                continue
            stats.opened += await self._recheck(
                update.account, update.user, applied.days, closed
            )
            due = next_check(applied.days, closed, self.rules.window)
            if due is not None:
                schedule.append((update.account, update.user, due))
        await self.store.schedule(schedule)

    async def _recheck(
        self, account: str, user: str, days: DayTiers, closed: int
    ) -> list[Task]:
        """Re-run the checks a user's retained history allows (a safety net)."""
        first = next_check(days, closed - 2 * self.rules.window.days, self.rules.window)
        if first is None or first > closed:
            return []
        drops, _ = evaluate(days, first, closed, self.rules.window)
        return await self._open_all(account, user, drops)

    async def _sweep(self) -> list[Task]:
        closed = self.closed()
        if closed is None:
            return []
        opened: list[Task] = []
        checked = 0
        while True:
            due = await self.store.due(closed, SWEEP_PAGE)
            histories = await self.store.many_user_days([(a, u) for a, u, _ in due])
            following: list[tuple[str, str, int | None]] = []
            for (account, user, day), days in zip(due, histories, strict=True):
                drops, after = evaluate(days, day, closed, self.rules.window)
                opened += await self._open_all(account, user, drops)
                following.append((account, user, after))
            await self.store.reschedule(following)
            checked += len(due)
            if len(due) < SWEEP_PAGE:
                break
        if self.swept != closed:
            log.debug("day_closed", day=closed, checked=checked, opened=len(opened))
        self.swept = closed
        return opened

    async def _open_all(
        self, account: str, user: str, drops: Sequence[Drop]
    ) -> list[Task]:
        opened = []
        for drop in drops:
            task = drop_task(
                drop,
                account,
                user,
                self.rules,
                self.settings.lateness,
                detected=None if self.event_time else self.clock.now(),
            )
            if await self._open(task, f"user:{user}"):
                opened.append(task)
        return opened

    async def _open(self, task: Task, subject: str) -> bool:
        cooldown = self.rules.touchpoints[task.kind].cooldown_days
        opened = task.opened_at.timestamp()
        body = task.to_json()
        claim = await self.store.claim_task(
            task.account_id,
            task.task_id,
            subject,
            body,
            opened,
            opened + cooldown * 86_400,
        )
        if claim in ("cooldown", "sent"):
            return False
        if claim != "new":
            task = Task.model_validate_json(claim)
        await self.sink.publish_task(task)
        await self.store.mark_sent(task.account_id, task.task_id)
        await self.store.count(tasks_opened=1)
        log.info(
            "task_opened",
            task_id=task.task_id,
            kind=task.kind.value,
            account_id=task.account_id,
            user_id=task.user_id,
            opened_at=task.opened_at.isoformat(),
        )
        return True
