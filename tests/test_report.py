"""The demo report: scoring alerts against labels, and the rendered text."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from worker.metrics import AccountSummary
from worker.report import LabelScore, read_tasks, render, score_labels
from worker.rules import Kind
from worker.state import MonthActivity
from worker.tasks import Task
from worker.tiers import Tier

END = date(2024, 3, 31).toordinal()
END_OF_WINDOW = datetime(2024, 4, 1, tzinfo=UTC)
LABELS = {"u1": 1, "u2": 1, "u3": 0, "u4": 1, "u5": 1, "u6": 0}
EVER_POWER = ["u1", "u2", "u3", "u4", "ghost"]


def task(user: str, days_before_end: float, kind: Kind = Kind.POWER_TO_PASSIVE) -> Task:
    opened = END_OF_WINDOW - timedelta(days=days_before_end)
    return Task(
        task_id=f"{kind.value}-{user}-{days_before_end}",
        kind=kind,
        account_id="course1",
        user_id=user,
        opened_at=opened,
        due_at=opened + timedelta(hours=48),
        priority="high",
        summary=f"User {user} of account course1 changed.",
        evidence={},
        playbook=kind.value,
    )


TASKS = [
    task("u1", 3, Kind.POWER_TO_DORMANT),
    task("u2", 4.5),
    task("u1", 10),
    task("u3", 6),
    task("u5", 8),
]


def test_score_counts_ever_power_users_dropouts_and_alerts() -> None:
    score = score_labels(TASKS, LABELS, EVER_POWER, END)
    assert (score.ever_power, score.dropouts) == (4, 3)
    assert (score.alerted, score.alerted_dropouts) == (3, 2)


def test_score_rates_follow_from_the_counts() -> None:
    score = score_labels(TASKS, LABELS, EVER_POWER, END)
    assert score.base_rate == pytest.approx(3 / 4)
    assert score.precision == pytest.approx(2 / 3)
    assert score.recall == pytest.approx(2 / 3)


def test_lead_time_runs_from_each_dropouts_first_alert_to_the_window_end() -> None:
    score = score_labels(TASKS, LABELS, EVER_POWER, END)
    assert sorted(score.lead_days) == pytest.approx([4.5, 10.0])


def test_score_with_nothing_to_count_is_zero_not_an_error() -> None:
    score = score_labels([], {}, [], END)
    assert score == LabelScore(0, 0, 0, 0, [])
    assert (score.base_rate, score.precision, score.recall) == (0.0, 0.0, 0.0)


def test_read_tasks_parses_what_the_worker_published() -> None:
    lines = [t.to_json().encode() for t in TASKS]
    assert read_tasks(lines) == TASKS


def report(score: LabelScore | None, tasks: list[Task] = TASKS) -> list[str]:
    text = render(
        source="KDD Cup 2015",
        counters={"accepted": 12_345, "duplicate": 7, "rejected": 2, "ignored": 30},
        published=12_384,
        accounts=[
            AccountSummary(
                "course1",
                MonthActivity(day=END, dau=40, mau=160, average_dau=32),
                Counter({Tier.POWER: 5, Tier.ACTIVE: 9, Tier.NONE: 2}),
            )
        ],
        tasks=tasks,
        score=score,
        tasks_file="var/tasks.jsonl",
    )
    return text.splitlines()


def test_report_shows_event_counts_account_activity_and_touchpoints() -> None:
    lines = report(None)
    assert lines[0] == "Pulse demo — KDD Cup 2015"
    assert "  published      12,384" in lines
    assert "  accepted       12,345" in lines
    assert "  duplicates          7" in lines
    assert "  rejected            2  (to the dead-letter topic)" in lines
    assert "  ignored            30  (no rule gives them a tier)" in lines
    assert "Account course1 on 2024-03-31" in lines
    assert "  users by window tier: power 5, active 9, passive 0, dormant 2" in lines
    assert "  Active or Power: 8.8% of MAU (below the 40% target)" in lines
    assert "  DAU 40, MAU 160, average DAU 32.0, DAU/MAU 20.0%" in lines
    assert "Touchpoints opened: 5  (all written to var/tasks.jsonl)" in lines
    assert "  power_to_dormant        1" in lines
    assert "  power_to_passive        4" in lines


def test_report_gives_at_most_three_examples_per_kind() -> None:
    tasks = [task(f"u{i}", i) for i in range(1, 6)]
    examples = [line for line in report(None, tasks) if line.startswith("    e.g.")]
    assert len(examples) == 3
    assert examples[0] == (
        "    e.g. User u1 of account course1 changed. Due 2024-04-02 00:00 UTC."
    )


def test_report_without_labels_has_no_score_section() -> None:
    assert not any("dropout labels" in line for line in report(None))


def test_report_with_labels_shows_rates_and_lead_time() -> None:
    lines = report(score_labels(TASKS, LABELS, EVER_POWER, END))
    assert "Against the dropout labels (users ever in the Power tier)" in lines
    assert "  ever-Power users                 4" in lines
    assert "  of whom dropped out              3  (base rate 75.0%)" in lines
    assert "  alerted for a drop               3" in lines
    assert (
        "  alerted and dropped out          2  (precision 66.7%, recall 66.7%)" in lines
    )
    assert "  alert lead before window end: median 7.2 days, range 4.5-10.0" in lines


def test_report_lead_time_is_na_without_alerted_dropouts() -> None:
    lines = report(score_labels([], LABELS, EVER_POWER, END))
    assert "  alert lead before window end: n/a" in lines
