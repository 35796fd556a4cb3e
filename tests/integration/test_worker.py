"""The real worker on the real broker and Redis: events in, tasks and DLQ out."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from worker.kafka_io import publish_lines, read_topic
from worker.settings import Settings
from worker.state import Store

from .conftest import RunningWorker, envelope, wait_for

pytestmark = pytest.mark.integration
START = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def at(day: int, hour: int = 0) -> datetime:
    """Event time on day `day` of the scenario."""
    return START + timedelta(days=day, hours=hour)


def power_user_fades(user: str = "fader") -> list[bytes]:
    """A power user who keeps logging in but stops posting, and a passive peer."""
    lines = [envelope(f"{user}-post", user, "discussion", at(0))]
    lines += [
        envelope(f"{user}-login-{d}", user, "access", at(d)) for d in range(1, 12)
    ]
    lines += [envelope(f"peer-{d}", "peer", "access", at(d, 2)) for d in range(0, 12)]
    return sorted(lines, key=lambda raw: json.loads(raw)["timestamp"])


async def test_power_user_who_stops_posting_gets_one_touchpoint_on_the_topic(
    settings: Settings, store: Store, start_worker: type[RunningWorker]
) -> None:
    # given a running worker
    worker = start_worker()
    lines = power_user_fades()

    # when a power user's log shows only logins for more than a window
    await publish_lines(settings.kafka_bootstrap, settings.events_topic, lines)
    counters = await wait_for(store, "records", len(lines), worker)

    # then exactly one power_to_passive task is on the topic, keyed by account
    assert counters["tasks_opened"] == 1
    records = await read_topic(settings.kafka_bootstrap, settings.touchpoints_topic)
    tasks = [json.loads(r.value) for r in records]
    assert [(t["kind"], t["user_id"]) for t in tasks] == [("power_to_passive", "fader")]
    assert records[0].key == b"acct-1"
    opened = datetime.fromisoformat(tasks[0]["opened_at"])
    assert datetime.fromisoformat(tasks[0]["due_at"]) - opened == timedelta(hours=48)
    assert tasks[0]["evidence"]["previous_window"]["tier"] == "power"
    assert tasks[0]["evidence"]["current_window"]["tier"] == "passive"


async def test_redelivered_events_change_no_count_and_open_no_second_task(
    settings: Settings, store: Store, start_worker: type[RunningWorker]
) -> None:
    # given a worker that has processed a log once
    worker = start_worker()
    lines = power_user_fades()
    await publish_lines(settings.kafka_bootstrap, settings.events_topic, lines)
    first = await wait_for(store, "records", len(lines), worker)
    month = await store.month_activity("acct-1", (at(11)).date().toordinal())

    # when the whole log is delivered again, and a prefix a third time
    await publish_lines(settings.kafka_bootstrap, settings.events_topic, lines)
    await publish_lines(settings.kafka_bootstrap, settings.events_topic, lines[:5])
    after = await wait_for(store, "records", 2 * len(lines) + 5, worker)

    # then counts, metrics and tasks are as they were
    assert after["accepted"] == first["accepted"] == len(lines)
    assert after["duplicate"] == len(lines) + 5
    assert after.get("rejected", 0) == 0
    assert await store.month_activity("acct-1", at(11).date().toordinal()) == month
    records = await read_topic(settings.kafka_bootstrap, settings.touchpoints_topic)
    assert len(records) == 1


async def test_malformed_records_go_to_the_dlq_with_reasons_and_consuming_goes_on(
    settings: Settings, store: Store, start_worker: type[RunningWorker]
) -> None:
    # given a worker and a stream that mixes garbage with good events
    worker = start_worker()
    good = [envelope(f"ok-{d}", "u1", "video", at(d)) for d in range(3)]
    bad = {
        b"this is not json": "not_json",
        b"[1, 2, 3]": "not_object",
        b'{"event_id": "x1", "account_id": "acct-1"}': "invalid_envelope",
        envelope(
            "far-future", "u1", "video", datetime(2999, 1, 1, tzinfo=UTC)
        ): "in_future",
        envelope("naive", "u1", "video", at(1)).replace(
            b"+00:00", b""
        ): "invalid_envelope",
        envelope("x" * 10, "u1", "video", at(1), padding="y" * 70_000): "too_large",
        envelope("bad{id}", "u1", "video", at(1)): "invalid_envelope",
    }
    late = envelope("very-late", "u1", "video", at(-5))

    # when they are published, the late one after time has moved on
    await publish_lines(
        settings.kafka_bootstrap,
        settings.events_topic,
        [good[0], *bad, good[1], good[2]],
    )
    await wait_for(store, "records", len(bad) + 3, worker)
    await publish_lines(settings.kafka_bootstrap, settings.events_topic, [late])
    counters = await wait_for(store, "records", len(bad) + 4, worker)

    # then each bad record is on the DLQ with its reason, bytes and source offset
    assert counters["accepted"] == 3
    dlq = await read_topic(settings.kafka_bootstrap, settings.dlq_topic)
    reasons = {r.value: r.headers["pulse.reason"].decode() for r in dlq}
    assert reasons == {**bad, late: "too_late"}
    for record in dlq:
        assert record.headers["pulse.source.topic"] == settings.events_topic.encode()
        assert int(record.headers["pulse.source.offset"]) >= 0
        assert record.headers["pulse.error"]
    assert worker.alive()


async def test_silent_power_user_is_found_dormant_by_the_sweep(
    settings: Settings, store: Store, start_worker: type[RunningWorker]
) -> None:
    # given a power user who posts once and then sends nothing at all
    worker = start_worker()
    lines = [envelope("silent-post", "silent", "wiki", at(0))]
    lines += [envelope(f"busy-{d}", "busy", "problem", at(d)) for d in range(0, 12)]

    # when only other users' events move time on past a full window
    await publish_lines(settings.kafka_bootstrap, settings.events_topic, lines)
    await wait_for(store, "records", len(lines), worker)

    # then the silent user gets a power_to_dormant task
    records = await read_topic(settings.kafka_bootstrap, settings.touchpoints_topic)
    tasks = [json.loads(r.value) for r in records]
    assert [(t["kind"], t["user_id"]) for t in tasks] == [
        ("power_to_dormant", "silent")
    ]
    assert tasks[0]["evidence"]["last_power_day"] == at(0).date().isoformat()
