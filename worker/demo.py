"""`pulse demo`: the main job on a real event log, end to end, with a report.

Imports the KDD Cup 2015 activity log (or, where it is absent, the project's
synthetic log), publishes it to fresh topics on the real broker, runs the real
worker over it on the log's own event time from a clean Redis namespace,
reads every task back from the touchpoints topic and prints what happened.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

import redis.asyncio as aioredis
from tqdm import tqdm

from worker import kddcup, synthetic
from worker.app import build_store
from worker.errors import ConfigError
from worker.events import parse_timestamp
from worker.kafka_io import (
    delete_topics,
    ensure_topics,
    publish_lines,
    read_lines,
    read_topic,
)
from worker.logs import get_logger
from worker.metrics import AccountSummary, account_summary
from worker.report import LabelScore, read_tasks, render, score_labels
from worker.rules import Rules, load_rules
from worker.settings import Settings, load_settings
from worker.tiers import Tier, day_of

DEFAULT_DATA = Path("../shared/datasets/kddcup2015-daily/trainCourse1038.csv")
RULES = Path("rules/kddcup.yaml")
DATA_VARIABLE = "PULSE_DEMO_DATA"
PREFIX = "pulse-demo"
WAIT_LIMIT_S = 900
log = get_logger("demo")


def demo_settings(base: Settings, run: str) -> Settings:
    """The operator's settings, with the demo's own topics, namespace and clock."""
    return base.model_copy(
        update={
            "events_topic": f"{PREFIX}.{run}.product.events",
            "dlq_topic": f"{PREFIX}.{run}.product.events.dlq",
            "touchpoints_topic": f"{PREFIX}.{run}.cs.touchpoints",
            "group_id": f"{PREFIX}-{run}",
            "redis_prefix": PREFIX,
            "rules_path": RULES,
            "clock": "event",
        }
    )


def worker_env(settings: Settings) -> dict[str, str]:
    """Environment that makes `pulse worker` run with these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
    for name, value in settings.model_dump(mode="json").items():
        env[f"PULSE_{name.upper()}"] = str(value)
    return env


def spawn_worker(
    settings: Settings, datadir: Path, log: IO[bytes], cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start a real `pulse worker` process on these settings, logging to `log`."""
    return subprocess.Popen(
        [sys.executable, "-m", "worker", "worker", "--datadir", str(datadir)],
        cwd=cwd,
        env=worker_env(settings),
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def demo_data(
    data: Path | None, environ: Mapping[str, str], default: Path = DEFAULT_DATA
) -> Path:
    """The KDD file to import; `ConfigError` if one named explicitly is missing."""
    if data is not None:
        named, origin = data, "--data"
    elif environ.get(DATA_VARIABLE):
        named, origin = Path(environ[DATA_VARIABLE]), DATA_VARIABLE
    else:
        # Only the default path may be absent: the synthetic log stands in.
        return default
    if not named.exists():
        raise ConfigError(f"{named}: no such file (given by {origin})")
    if not named.is_file():
        raise ConfigError(f"{named}: not a file (given by {origin})")
    return named


def prepare_events(source: Path, out: Path) -> tuple[Path, dict[str, int], str]:
    """Events file, labels and a description of the source."""
    events = out / "events.jsonl"
    if source.is_file():
        summary = kddcup.import_file(source, events)
        labels_file = source.parent / "truth_train.csv"
        labels = kddcup.read_labels(labels_file) if labels_file.is_file() else {}
        return (
            events,
            labels,
            (
                f"KDD Cup 2015 activity log {source.name}: {summary.rows:,} rows, "
                f"{summary.enrollments:,} enrollments, {summary.first_day} to "
                f"{summary.last_day}"
            ),
        )
    generated = synthetic.generate(events)
    return (
        events,
        kddcup.read_labels(generated.labels_path),
        (
            f"SYNTHETIC stand-in data ({source} not found): {len(generated.users)} "
            f"generated users, {generated.first_day} to {generated.last_day}"
        ),
    )


def ever_power(events: Path, rules: Rules) -> tuple[set[str], int]:
    """Users who reached the Power tier on any day, and the log's last day."""
    users: set[str] = set()
    last = 0
    for line in read_lines(events):
        event = json.loads(line)
        last = max(last, day_of(parse_timestamp(event["timestamp"])))
        if rules.classify(event["event"], event.get("properties") or {}) is Tier.POWER:
            users.add(event["user_id"])
    return users, last


async def clean_state(settings: Settings) -> None:
    """Remove the previous demo's topics and Redis keys."""
    # No dot after the prefix: faust's `<group_id>-__assignor-__leader` topics
    # (group id `pulse-demo-<run>`) would otherwise pile up, one per run.
    await delete_topics(settings.kafka_bootstrap, PREFIX)
    await delete_keys(settings.redis_url, PREFIX)


async def delete_keys(redis_url: str, prefix: str) -> None:
    """Delete every Redis key under `prefix`."""
    client = aioredis.from_url(redis_url)
    try:
        async for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            await client.delete(key)
    finally:
        await client.aclose()


async def wait_for_worker(
    settings: Settings, total: int, proc: subprocess.Popen[bytes], log_path: Path
) -> bool:
    """Wait until the worker has handled every published record."""
    store = build_store(settings, load_rules(RULES))
    started = time.monotonic()
    try:
        with tqdm(total=total, unit="ev", desc="worker", file=sys.stderr) as bar:
            while True:
                done = (await store.counters()).get("records", 0)
                bar.update(done - bar.n)
                if done >= total:
                    return True
                if proc.poll() is not None or time.monotonic() - started > WAIT_LIMIT_S:
                    return False
                await asyncio.sleep(0.5)
    finally:
        await store.client.aclose()


async def final_state(
    settings: Settings, rules: Rules, day: int
) -> tuple[dict[str, int], list[AccountSummary]]:
    """Counters and every account's metrics, read from Redis."""
    store = build_store(settings, rules)
    try:
        accounts = [
            await account_summary(store, rules, account, day)
            for account in await store.accounts()
        ]
        return await store.counters(), accounts
    finally:
        await store.client.aclose()


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the worker gently, then firmly."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def tail(path: Path, lines: int = 40) -> str:
    """The last lines of a log file."""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def run_demo(data: Path | None, out: Path) -> int:
    """Run the demo; 0 when it completed and opened at least one task."""
    settings = demo_settings(load_settings(), time.strftime("%Y%m%d%H%M%S"))
    rules = load_rules(RULES)
    source_file = demo_data(data, os.environ)
    out.mkdir(parents=True, exist_ok=True)

    events, labels, source = prepare_events(source_file, out)
    asyncio.run(clean_state(settings))
    topics = (settings.events_topic, settings.dlq_topic, settings.touchpoints_topic)
    asyncio.run(
        ensure_topics(settings.kafka_bootstrap, topics, settings.topic_partitions)
    )
    total = sum(1 for _ in read_lines(events))
    with tqdm(total=total, unit="ev", desc="publish", file=sys.stderr) as bar:
        asyncio.run(
            publish_lines(
                settings.kafka_bootstrap,
                settings.events_topic,
                read_lines(events),
                bar.update,
            )
        )

    log_path = out / "worker.log"
    with log_path.open("wb") as log_file:
        proc = spawn_worker(settings, out / "faust", log_file)
        try:
            finished = asyncio.run(wait_for_worker(settings, total, proc, log_path))
            records = asyncio.run(
                read_topic(settings.kafka_bootstrap, settings.touchpoints_topic)
            )
        finally:
            stop(proc)
    if not finished:
        print(
            f"pulse demo: the worker did not finish; its log:\n{tail(log_path)}",
            file=sys.stderr,
        )
        return 1

    tasks = read_tasks(r.value for r in records)
    tasks_file = out / "touchpoints.jsonl"
    tasks_file.write_text("".join(t.to_json() + "\n" for t in tasks))
    power, last_day = ever_power(events, rules)
    counters, accounts = asyncio.run(final_state(settings, rules, last_day))
    score: LabelScore | None = (
        score_labels(tasks, labels, power, last_day) if labels else None
    )
    report = render(
        source=source,
        counters=counters,
        published=total,
        accounts=accounts,
        tasks=tasks,
        score=score,
        tasks_file=str(tasks_file),
    )
    (out / "report.txt").write_text(report + "\n")
    print(report)
    return 0 if tasks else 1
