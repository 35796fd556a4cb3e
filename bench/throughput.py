"""Sustained throughput of a real `pulse worker` against the broker's raw consume rate.

Publishes N synthetic events (many accounts and users) to a fresh topic on the
local broker, starts one worker process on the event clock, and samples its
progress from Redis. In the same run, a bare aiokafka consumer reads the same
topic end to end, which bounds what any consumer could do on this machine.

    .venv/bin/python bench/throughput.py --events 200000 --accounts 200 --users 50

Needs `make up`. Prints its figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

from worker.app import build_store
from worker.demo import delete_keys, demo_settings, spawn_worker
from worker.kafka_io import delete_topics, ensure_topics, partitions, publish_lines
from worker.rules import load_rules
from worker.settings import Settings, load_settings
from worker.synthetic import iter_throughput_events


async def raw_consume_rate(settings: Settings, total: int) -> float:
    """Events per second a plain consumer reads the topic at, from the beginning."""
    topic = settings.events_topic
    assigned = [
        TopicPartition(topic, p)
        for p in await partitions(settings.kafka_bootstrap, topic)
    ]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 << 20,
    )
    await consumer.start()
    try:
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        seen, started = 0, time.perf_counter()
        while seen < total:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            seen += sum(len(b) for b in batches.values())
        return seen / (time.perf_counter() - started)
    finally:
        await consumer.stop()


async def follow_worker(
    settings: Settings, total: int, proc: subprocess.Popen[bytes]
) -> tuple[float, float]:
    """Sustained events/s (first record to last) and the seconds it took."""
    store = build_store(settings, load_rules(settings.rules_path))
    first_at: float | None = None
    first_count = 0
    try:
        while True:
            done = (await store.counters()).get("records", 0)
            now = time.perf_counter()
            if done and first_at is None:
                first_at, first_count = now, done
            if done >= total:
                assert first_at is not None
                elapsed = max(now - first_at, 1e-9)
                return (done - first_count) / elapsed, elapsed
            if proc.poll() is not None:
                raise SystemExit("worker exited early; see var/bench/worker.log")
            await asyncio.sleep(0.1)
    finally:
        await store.client.aclose()


def rss_mib(pid: int) -> float:
    """Resident memory of a process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--users", type=int, default=50, help="users per account")
    args = parser.parse_args()

    run = f"bench{uuid.uuid4().hex[:6]}"
    settings = demo_settings(load_settings(), run).model_copy(
        update={"redis_prefix": f"pulse-bench-{run}", "group_id": f"pulse-bench-{run}"}
    )
    out = Path("var/bench")
    out.mkdir(parents=True, exist_ok=True)

    lines = [
        json.dumps(e).encode()
        for e in iter_throughput_events(
            args.events, accounts=args.accounts, users_per_account=args.users
        )
    ]
    topics = (settings.events_topic, settings.dlq_topic, settings.touchpoints_topic)
    asyncio.run(
        ensure_topics(settings.kafka_bootstrap, topics, settings.topic_partitions)
    )
    started = time.perf_counter()
    asyncio.run(publish_lines(settings.kafka_bootstrap, settings.events_topic, lines))
    publish_rate = len(lines) / (time.perf_counter() - started)

    with (out / "worker.log").open("wb") as log:
        proc = spawn_worker(settings, out / "faust", log)
        try:
            rate, seconds = asyncio.run(follow_worker(settings, len(lines), proc))
            memory = rss_mib(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    raw = asyncio.run(raw_consume_rate(settings, len(lines)))
    asyncio.run(delete_topics(settings.kafka_bootstrap, f"pulse-demo.{run}."))
    asyncio.run(delete_topics(settings.kafka_bootstrap, settings.group_id))
    asyncio.run(delete_keys(settings.redis_url, settings.redis_prefix))

    print(
        f"events             {len(lines):,} "
        f"({args.accounts} accounts x {args.users} users)"
    )
    print(
        f"partitions         {settings.topic_partitions}, batch {settings.batch_size}"
    )
    print(f"publish rate       {publish_rate:,.0f} events/s")
    print(f"worker sustained   {rate:,.0f} events/s over {seconds:.1f} s")
    print(
        f"broker raw consume {raw:,.0f} events/s (plain aiokafka consumer, same topic)"
    )
    print(
        f"worker RSS at end  {memory:.0f} MiB (pid {proc.pid}, cpus {os.cpu_count()})"
    )


if __name__ == "__main__":
    main()
