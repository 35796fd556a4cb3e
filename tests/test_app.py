"""The faust edge's own logic: what happens to a batch that keeps failing."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from worker.app import build_store, handle_or_dead_letter
from worker.clock import EventClock
from worker.processor import BatchStats, Processor
from worker.protocols import Record, Rejection
from worker.rules import load_rules
from worker.settings import Settings
from worker.tasks import Task

RULES = load_rules(Path(__file__).resolve().parents[1] / "rules" / "kddcup.yaml")


class CollectingSink:
    """Keeps what would be published."""

    def __init__(self) -> None:
        self.rejections: list[Rejection] = []

    async def publish_task(self, task: Task) -> None:
        raise AssertionError("no task expected")

    async def dead_letters(self, rejections: Sequence[Rejection]) -> None:
        self.rejections += rejections


class BuggyProcessor(Processor):
    """A processor with a bug that trips on every batch."""

    calls = 0

    async def _handle(self, records: Sequence[Record]) -> BatchStats:
        self.calls += 1
        raise RuntimeError("a bug")


@pytest.fixture(autouse=True)
def _no_pulse_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("PULSE_")]:
        monkeypatch.delenv(name)


async def test_batch_that_keeps_failing_is_dead_lettered_not_skipped() -> None:
    settings = Settings()
    sink = CollectingSink()
    store = build_store(settings, RULES)
    proc = BuggyProcessor(settings, RULES, store, EventClock(), sink)
    records = [
        Record(b'{"x": 1}', "events", 0, 7, b"acme"),
        Record(b"{}", "events", 0, 8),
    ]

    await handle_or_dead_letter(proc, sink, records)

    assert proc.calls == 3
    assert [(r.record.offset, r.reason) for r in sink.rejections] == [
        (7, "processing_failed"),
        (8, "processing_failed"),
    ]
    assert "a bug" in sink.rejections[0].detail
    await store.client.aclose()
