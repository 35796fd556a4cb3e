"""The faust-streaming application: Kafka in, the processor, Kafka out."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import faust
import redis.asyncio as aioredis

from worker.clock import EventClock, WallClock
from worker.engagement import retained_days
from worker.errors import DeliveryError, StateError
from worker.keys import Keys
from worker.logs import get_logger
from worker.processor import Processor
from worker.protocols import Clock, Record, Rejection
from worker.rules import Rules
from worker.settings import Settings
from worker.state import Store, Ttl
from worker.tasks import Task
from worker.tiers import SECONDS_PER_DAY

log = get_logger("app")
T = TypeVar("T")
MAX_BACKOFF_S = 30.0


class KafkaSink:
    """Publishes tasks and dead letters through faust's producer, waiting for acks."""

    def __init__(self, tasks: Any, dlq: Any) -> None:
        self.tasks = tasks
        self.dlq = dlq

    async def publish_task(self, task: Task) -> None:
        """Publish a task keyed by account."""
        key, value = task.account_id.encode(), task.to_json().encode()
        await self._send(self.tasks, key, value, [])

    async def dead_letter(self, rejection: Rejection) -> None:
        """Publish the original bytes, with the reason and source in headers."""
        record = rejection.record
        headers = [
            ("pulse.reason", rejection.reason.encode()),
            ("pulse.error", rejection.detail.encode()[:2048]),
            ("pulse.source.topic", record.topic.encode()),
            ("pulse.source.partition", str(record.partition).encode()),
            ("pulse.source.offset", str(record.offset).encode()),
        ]
        await self._send(self.dlq, None, record.value or b"", headers)

    async def _send(
        self,
        topic: Any,
        key: bytes | None,
        value: bytes,
        headers: list[tuple[str, bytes]],
    ) -> None:
        try:
            pending = await topic.send(key=key, value=value, headers=headers)
            await pending
        except Exception as exc:  # aiokafka raises many unrelated types
            name = topic.get_topic_name()
            raise DeliveryError(f"publish to {name} failed: {exc}") from exc


async def retrying(action: Callable[[], Awaitable[T]], what: str) -> T:
    """Run `action` until it succeeds, backing off while Redis or Kafka is away.

    Safe because every step is idempotent: a retried batch finds its events
    already applied and its tasks already claimed.
    """
    delay = 0.5
    while True:
        try:
            return await action()
        except (StateError, DeliveryError) as exc:
            log.critical(
                "dependency_unavailable", step=what, error=str(exc), retry_in_s=delay
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF_S)


def build_store(settings: Settings, rules: Rules) -> Store:
    """A Redis store configured for these settings and rules."""
    client = aioredis.from_url(settings.redis_url)
    ttl = Ttl.for_window(
        rules.window.days, settings.allowed_lateness_seconds, settings.task_memory_days
    )
    lateness_days = int(settings.allowed_lateness_seconds // SECONDS_PER_DAY) + 1
    keep = retained_days(rules.window) + rules.window.days + lateness_days
    return Store(client, Keys(settings.redis_prefix), ttl, keep)


async def starting_clock(settings: Settings, store: Store) -> Clock:
    """The wall clock, or the event clock resumed from its stored watermark."""
    if settings.clock == "wall":
        return WallClock()
    stored = await store.clock()
    if stored is None:
        return EventClock()
    return EventClock(datetime.fromtimestamp(stored, UTC))


def raw_topic(app: faust.App, name: str) -> Any:
    """A topic whose keys and values stay bytes: Pulse validates them itself."""
    return app.topic(
        name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )


def build_app(settings: Settings, rules: Rules, datadir: Path) -> faust.App:
    """The faust app with its ingest agent and sweep timer."""
    app = faust.App(
        settings.group_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        datadir=str(datadir),
        web_enabled=False,
        topic_partitions=settings.topic_partitions,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
    )
    events = raw_topic(app, settings.events_topic)
    sink = KafkaSink(
        raw_topic(app, settings.touchpoints_topic), raw_topic(app, settings.dlq_topic)
    )
    holder: dict[str, Processor] = {}

    async def processor() -> Processor:
        if "p" not in holder:
            store = build_store(settings, rules)
            clock = await retrying(
                partial(starting_clock, settings, store), "load_clock"
            )
            holder["p"] = Processor(settings, rules, store, clock, sink)
            log.info(
                "worker_ready",
                clock=settings.clock,
                topic=settings.events_topic,
                group_id=settings.group_id,
            )
        return holder["p"]

    @app.agent(events)
    async def ingest(stream: Any) -> None:
        proc = await processor()
        async for batch in stream.take_events(
            settings.batch_size, within=settings.batch_seconds
        ):
            records = [
                Record(
                    e.message.value,
                    e.message.topic,
                    e.message.partition,
                    e.message.offset,
                )
                for e in batch
            ]
            await retrying(partial(proc.handle, records), "handle_batch")

    @app.timer(interval=settings.sweep_interval_seconds)  # type: ignore[untyped-decorator]
    async def sweep() -> None:
        if settings.clock == "wall":
            proc = await processor()
            await retrying(proc.sweep, "sweep")

    return app
