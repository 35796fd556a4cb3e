"""Plain aiokafka edges outside the stream: topics, publishing files, reading back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from worker.errors import DeliveryError

CLIENT_ID = "pulse-cli"


async def ensure_topics(bootstrap: str, names: Iterable[str], partitions: int) -> None:
    """Create any of the topics that do not exist yet."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id=CLIENT_ID)
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        missing = [n for n in dict.fromkeys(names) if n not in existing]
        if missing:
            await admin.create_topics(
                [
                    NewTopic(n, num_partitions=partitions, replication_factor=1)
                    for n in missing
                ]
            )
    except TopicAlreadyExistsError:
        pass
    except KafkaError as exc:
        raise DeliveryError(f"cannot create topics on {bootstrap}: {exc}") from exc
    finally:
        await admin.close()


async def partitions(bootstrap: str, topic: str) -> list[int]:
    """Partition numbers of a topic; empty when it does not exist."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id=CLIENT_ID)
    try:
        await admin.start()
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    found = [d for d in described if d["topic"] == topic and d["error_code"] == 0]
    return sorted(p["partition"] for d in found for p in d["partitions"])


async def delete_topics(bootstrap: str, prefix: str) -> list[str]:
    """Delete every topic whose name starts with `prefix`; returns their names."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id=CLIENT_ID)
    try:
        await admin.start()
        doomed = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if doomed:
            await admin.delete_topics(doomed)
        return doomed
    finally:
        await admin.close()


def account_key(line: bytes) -> bytes | None:
    """Partition key of one JSON line: its account, or None when it has none."""
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    account = obj.get("account_id")
    if account is None:
        context = obj.get("context")
        account = context.get("groupId") if isinstance(context, dict) else None
    return account.encode() if isinstance(account, str) else None


def read_lines(path: Path) -> Iterator[bytes]:
    """Non-blank lines of a file, without their line endings."""
    with path.open("rb") as fh:
        for line in fh:
            stripped = line.rstrip(b"\r\n")
            if stripped.strip():
                yield stripped


@dataclass(frozen=True)
class Published:
    """How many records a file produced."""

    records: int
    without_key: int


async def publish_lines(
    bootstrap: str,
    topic: str,
    lines: Iterable[bytes],
    progress: Callable[[int], object] | None = None,
) -> Published:
    """Publish each line as one record keyed by its account; wait for every ack."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=CLIENT_ID,
        acks="all",
        linger_ms=20,
        max_batch_size=256 * 1024,
    )
    count = keyless = 0
    try:
        await producer.start()
        batch: list[asyncio.Future[object]] = []
        for line in lines:
            key = account_key(line)
            keyless += key is None
            batch.append(await producer.send(topic, value=line, key=key))
            count += 1
            if len(batch) >= 2000:
                await asyncio.gather(*batch)
                if progress:
                    progress(len(batch))
                batch = []
        await asyncio.gather(*batch)
        if progress:
            progress(len(batch))
    except KafkaError as exc:
        raise DeliveryError(f"publishing to {topic} failed: {exc}") from exc
    finally:
        await producer.stop()
    return Published(count, keyless)


@dataclass(frozen=True)
class Consumed:
    """One record read back from a topic."""

    key: bytes | None
    value: bytes
    headers: dict[str, bytes]
    partition: int
    offset: int


async def read_topic(
    bootstrap: str, topic: str, timeout_s: float = 30
) -> list[Consumed]:
    """Every record currently in a topic, from the beginning to the end offsets."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        client_id=CLIENT_ID,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    out: list[Consumed] = []
    try:
        assigned = [
            TopicPartition(topic, p) for p in await partitions(bootstrap, topic)
        ]
        await consumer.start()
        if not assigned:
            return out
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        end = await consumer.end_offsets(assigned)
        remaining = {tp for tp in assigned if end[tp] > 0}
        async with asyncio.timeout(timeout_s):
            while remaining:
                fetched = await consumer.getmany(timeout_ms=500)
                for tp, messages in fetched.items():
                    out += [
                        Consumed(
                            m.key,
                            m.value or b"",
                            dict(m.headers),
                            m.partition,
                            m.offset,
                        )
                        for m in messages
                    ]
                    if messages and messages[-1].offset + 1 >= end[tp]:
                        remaining.discard(tp)
    finally:
        await consumer.stop()
    return out
