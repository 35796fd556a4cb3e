"""Fixtures for tests on the real Kafka broker and Redis server.

`make test` starts both with scripts/; these fixtures only find them, and fail
loudly (never skip) when they are not there.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import pytest
import redis
import redis.asyncio as aioredis
from aiokafka.admin import AIOKafkaAdminClient

from worker.app import build_store
from worker.demo import spawn_worker
from worker.kafka_io import delete_topics, ensure_topics
from worker.rules import Rules, load_rules
from worker.settings import Settings
from worker.state import Store

KAFKA = os.environ.get("TEST_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ROOT = Path(__file__).resolve().parents[2]
KDD_RULES = ROOT / "rules" / "kddcup.yaml"


async def _kafka_answers() -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA, request_timeout_ms=5000)
    try:
        await admin.start()
        await admin.list_topics()
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def services() -> None:
    """The real broker and Redis server are reachable."""
    try:
        redis.Redis.from_url(REDIS, socket_timeout=3).ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is not reachable at {REDIS} ({exc}); run `make up`")
    try:
        asyncio.run(asyncio.wait_for(_kafka_answers(), 15))
    except Exception as exc:  # any failure means the broker is unusable
        pytest.fail(f"Kafka is not reachable at {KAFKA} ({exc!r}); run `make up`")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("PULSE_"):
            monkeypatch.delenv(name)


@pytest.fixture
def namespace(services: None) -> Iterator[str]:
    """A unique name for this test's topics, consumer group and Redis keys."""
    name = f"it-{uuid.uuid4().hex[:10]}"
    yield name
    client = redis.Redis.from_url(REDIS)
    for key in client.scan_iter(match=f"{name}:*", count=1000):
        client.delete(key)
    client.close()
    # No dot: faust also makes `<group id>-__assignor-__leader`.
    asyncio.run(delete_topics(KAFKA, name))


@pytest.fixture
def settings(namespace: str) -> Settings:
    """Settings isolated to this test, on the KDD rules and the event clock."""
    return Settings(
        kafka_bootstrap=KAFKA,
        redis_url=REDIS,
        redis_prefix=namespace,
        group_id=namespace,
        events_topic=f"{namespace}.product.events",
        dlq_topic=f"{namespace}.product.events.dlq",
        touchpoints_topic=f"{namespace}.cs.touchpoints",
        topic_partitions=2,
        rules_path=KDD_RULES,
        clock="event",
        future_skew_seconds=86_400,
        batch_seconds=0.05,
    )


@pytest.fixture
def rules() -> Rules:
    """The KDD Cup tier mapping: discussion/wiki power, video/problem active."""
    return load_rules(KDD_RULES)


@pytest.fixture
async def store(settings: Settings, rules: Rules) -> AsyncIterator[Store]:
    """A Redis store under this test's namespace."""
    built = build_store(settings, rules)
    yield built
    await built.client.aclose()


class RunningWorker:
    """A real `pulse worker` process and its log."""

    def __init__(self, proc: subprocess.Popen[bytes], log: Path, handle: IO[bytes]):
        self.proc = proc
        self.log = log
        self.handle = handle

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.proc.poll() is None

    def stop(self) -> None:
        """Terminate the process and close its log."""
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.handle.close()

    def output(self) -> str:
        """Everything it logged so far."""
        return self.log.read_text(errors="replace")


@pytest.fixture
def start_worker(
    settings: Settings, tmp_path: Path
) -> Iterator[Callable[[], RunningWorker]]:
    """Factory that starts `pulse worker` on this test's settings; stops it after."""
    started: list[RunningWorker] = []
    asyncio.run(
        ensure_topics(
            KAFKA,
            [settings.events_topic, settings.dlq_topic, settings.touchpoints_topic],
            settings.topic_partitions,
        )
    )

    def start() -> RunningWorker:
        log = tmp_path / f"worker-{len(started)}.log"
        handle = log.open("wb")
        datadir = tmp_path / f"faust-{len(started)}"
        proc = spawn_worker(settings, datadir, handle, cwd=ROOT)
        worker = RunningWorker(proc, log, handle)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def envelope(
    event_id: str,
    user: str,
    event: str,
    ts: datetime,
    account: str = "acct-1",
    **extra: Any,
) -> bytes:
    """One canonical event as the bytes a producer would send."""
    body = {
        "event_id": event_id,
        "account_id": account,
        "user_id": user,
        "event": event,
        "timestamp": ts.isoformat(),
        "properties": {},
        **extra,
    }
    return json.dumps(body).encode()


async def wait_for(
    store: Store, counter: str, value: int, worker: RunningWorker, limit_s: float = 90
) -> dict[str, int]:
    """Wait until a running counter reaches `value`; fail with the worker's log."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        counters = await store.counters()
        if counters.get(counter, 0) >= value:
            return counters
        if not worker.alive():
            pytest.fail(f"worker exited early:\n{worker.output()[-4000:]}")
        await asyncio.sleep(0.2)
    pytest.fail(
        f"{counter} never reached {value}: {await store.counters()}\n"
        f"{worker.output()[-4000:]}"
    )


async def raw_redis(url: str = REDIS) -> aioredis.Redis:
    """A plain async Redis client."""
    return aioredis.from_url(url)
