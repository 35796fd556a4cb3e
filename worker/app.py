"""The faust-streaming application: Kafka in, the processor, Kafka out."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
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
from worker.protocols import Clock, Record, Rejection, Sink
from worker.rules import Rules
from worker.settings import Settings
from worker.state import Store, Ttl
from worker.tasks import Task
from worker.tiers import SECONDS_PER_DAY

log = get_logger("app")
T = TypeVar("T")
MAX_BACKOFF_S = 30.0
REDIS_TIMEOUT_S = 10.0
ATTEMPTS_BEFORE_DEAD_LETTER = 3
# A killed worker's partitions wait this long for its session to lapse.
SESSION_TIMEOUT_S = 10.0
HEARTBEAT_S = 3.0


class KafkaSink:
    """Publishes tasks and dead letters through faust's producer, waiting for acks."""

    def __init__(self, tasks: Any, dlq: Any) -> None:
        self.tasks = tasks
        self.dlq = dlq

    async def publish_task(self, task: Task) -> None:
        """Publish a task keyed by account."""
        key, value = task.account_id.encode(), task.to_json().encode()
        await self._send(self.tasks, key, value, [])

    async def dead_letters(self, rejections: Sequence[Rejection]) -> None:
        """Publish original keys and bytes, with reason and source in headers."""
        try:
            pending = [
                await self.dlq.send(
                    key=r.record.key, value=r.record.value or b"", headers=_headers(r)
                )
                for r in rejections
            ]
            await asyncio.gather(*pending)
        except Exception as exc:  # aiokafka raises many unrelated types
            raise DeliveryError(
                f"publish to the dead-letter topic failed: {exc}"
            ) from exc

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


def _headers(rejection: Rejection) -> list[tuple[str, bytes]]:
    record = rejection.record
    return [
        ("pulse.reason", rejection.reason.encode()),
        ("pulse.error", rejection.detail.encode()[:2048]),
        ("pulse.source.topic", record.topic.encode()),
        ("pulse.source.partition", str(record.partition).encode()),
        ("pulse.source.offset", str(record.offset).encode()),
    ]


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


async def handle_or_dead_letter(
    proc: Processor, sink: Sink, records: list[Record]
) -> None:
    """Process a batch; dead-letter it if it keeps failing for another reason.

    Redis or Kafka being away is waited out. Anything else (a bug) is tried a
    few times, then the batch goes to the dead-letter topic rather than stall
    the partition or be skipped unseen. Replaying it from there later is safe:
    events already applied are recognised as duplicates.
    """
    error = ""
    for attempt in range(1, ATTEMPTS_BEFORE_DEAD_LETTER + 1):
        try:
            await retrying(partial(proc.handle, records), "handle_batch")
            return
        except Exception as exc:  # an unexpected bug must not kill the agent
            log.error(
                "batch_failed",
                attempt=attempt,
                records=len(records),
                first_offset=records[0].offset,
                exc_info=True,
            )
            error = repr(exc)
    rejections = [Rejection(r, "processing_failed", error) for r in records]
    await retrying(partial(sink.dead_letters, rejections), "dead_letter_batch")


def build_store(settings: Settings, rules: Rules) -> Store:
    """A Redis store configured for these settings and rules."""
    # Timeouts turn a hung Redis into errors that are logged and retried.
    client = aioredis.from_url(
        settings.redis_url,
        socket_timeout=REDIS_TIMEOUT_S,
        socket_connect_timeout=REDIS_TIMEOUT_S,
    )
    ttl = Ttl.for_window(
        rules.window.days, settings.allowed_lateness_seconds, settings.task_memory_days
    )
    lateness_days = int(settings.allowed_lateness_seconds // SECONDS_PER_DAY) + 1
    keep = retained_days(rules.window) + rules.window.days + lateness_days
    return Store(client, Keys(settings.redis_prefix), ttl, keep)


def starting_clock(settings: Settings) -> Clock:
    """The wall clock, or an event clock (which resumes from Redis as it runs)."""
    return WallClock() if settings.clock == "wall" else EventClock()


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
        broker_session_timeout=SESSION_TIMEOUT_S,
        broker_heartbeat_interval=HEARTBEAT_S,
    )
    events = raw_topic(app, settings.events_topic)
    sink = KafkaSink(
        raw_topic(app, settings.touchpoints_topic), raw_topic(app, settings.dlq_topic)
    )
    holder: dict[str, Processor] = {}

    async def processor() -> Processor:
        if "p" not in holder:
            store = build_store(settings, rules)
            await retrying(store.ping, "connect_redis")
            clock = starting_clock(settings)
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
                    e.message.key,
                )
                for e in batch
            ]
            await handle_or_dead_letter(proc, sink, records)

    @app.timer(interval=settings.sweep_interval_seconds)  # type: ignore[untyped-decorator]
    async def sweep() -> None:
        if settings.clock == "wall":
            proc = await processor()
            await retrying(proc.sweep, "sweep")

    return app
