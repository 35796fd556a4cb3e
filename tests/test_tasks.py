"""Touchpoint tasks built from drops (DESIGN §5)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from worker.engagement import Drop, detect_drop
from worker.rules import Kind, Rules, parse_rules
from worker.tasks import Task, drop_task, opened_at, task_id
from worker.tiers import Tier, closed_day

D0 = date(2024, 3, 1).toordinal()
LATENESS = timedelta(hours=1)
RULES = parse_rules(
    """
tiers:
  - {event: login, tier: passive}
  - {event: export, tier: power}
touchpoints:
  power_to_dormant: {due_hours: 72, priority: urgent, playbook: silent-outreach}
""",
    "test.yaml",
)


def drop_of(days: dict[int, Tier], end: int, rules: Rules = RULES) -> Drop:
    drop = detect_drop(days, end, rules.window)
    assert drop is not None
    return drop


PASSIVE_DROP = drop_of(
    {D0 + 2: Tier.POWER, D0 + 4: Tier.POWER, D0 + 9: Tier.PASSIVE}, D0 + 13
)
DORMANT_DROP = drop_of({D0 + 4: Tier.POWER}, D0 + 13)


def test_task_id_is_stable_and_names_its_kind() -> None:
    first = task_id(Kind.POWER_TO_PASSIVE, "acct-1", "user:u1", "2024-03-05")
    assert first == task_id(Kind.POWER_TO_PASSIVE, "acct-1", "user:u1", "2024-03-05")
    assert re.fullmatch(r"power_to_passive-[0-9a-f]{24}", first)


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(
            (Kind.POWER_TO_DORMANT, "acct-1", "user:u1", "2024-03-05"), id="kind"
        ),
        pytest.param(
            (Kind.POWER_TO_PASSIVE, "acct-2", "user:u1", "2024-03-05"), id="account"
        ),
        pytest.param(
            (Kind.POWER_TO_PASSIVE, "acct-1", "user:u2", "2024-03-05"), id="subject"
        ),
        pytest.param(
            (Kind.POWER_TO_PASSIVE, "acct-1", "user:u1", "2024-03-06"), id="window"
        ),
    ],
)
def test_task_id_differs_when_any_part_differs(
    other: tuple[Kind, str, str, str],
) -> None:
    base = task_id(Kind.POWER_TO_PASSIVE, "acct-1", "user:u1", "2024-03-05")
    assert task_id(*other) != base


def test_reprocessing_a_drop_yields_the_same_task() -> None:
    first = drop_task(PASSIVE_DROP, "acct-1", "u1", RULES, LATENESS)
    again = drop_task(PASSIVE_DROP, "acct-1", "u1", RULES, LATENESS)
    assert first == again
    assert first.to_json() == again.to_json()


def test_same_power_spell_seen_from_a_later_window_keeps_its_task_id() -> None:
    days = {D0 + 4: Tier.POWER, D0 + 8: Tier.PASSIVE}
    earlier = drop_task(drop_of(days, D0 + 11), "acct-1", "u1", RULES, LATENESS)
    later = drop_task(drop_of(days, D0 + 12), "acct-1", "u1", RULES, LATENESS)
    assert earlier.task_id == later.task_id


def test_task_id_is_derived_from_kind_account_user_and_last_power_day() -> None:
    task = drop_task(PASSIVE_DROP, "acct-1", "u1", RULES, LATENESS)
    assert task.task_id == task_id(
        Kind.POWER_TO_PASSIVE, "acct-1", "user:u1", "2024-03-05"
    )


@pytest.mark.parametrize(
    ("end", "lateness", "expected"),
    [
        pytest.param(
            D0, timedelta(0), datetime(2024, 3, 2, tzinfo=UTC), id="no-lateness"
        ),
        pytest.param(D0, LATENESS, datetime(2024, 3, 2, 1, tzinfo=UTC), id="one-hour"),
        pytest.param(
            D0 + 28, timedelta(days=2), datetime(2024, 4, 1, tzinfo=UTC), id="month-end"
        ),
    ],
)
def test_opened_at_is_start_of_the_next_day_plus_lateness(
    end: int, lateness: timedelta, expected: datetime
) -> None:
    assert opened_at(end, lateness) == expected


@pytest.mark.parametrize(
    "lateness",
    [timedelta(0), timedelta(seconds=1), LATENESS, timedelta(hours=36)],
    ids=str,
)
def test_opened_at_is_the_first_moment_the_window_is_closed(
    lateness: timedelta,
) -> None:
    at = opened_at(D0, lateness)
    assert closed_day(at, lateness) == D0
    assert closed_day(at - timedelta(microseconds=1), lateness) == D0 - 1


@pytest.mark.parametrize(
    ("drop", "hours"),
    [
        pytest.param(PASSIVE_DROP, 48, id="default-48h"),
        pytest.param(DORMANT_DROP, 72, id="from-rules"),
    ],
)
def test_due_at_is_opened_at_plus_the_kinds_due_hours(drop: Drop, hours: int) -> None:
    task = drop_task(drop, "acct-1", "u1", RULES, LATENESS)
    assert task.opened_at == opened_at(drop.end, LATENESS)
    assert task.due_at - task.opened_at == timedelta(hours=hours)


def test_fractional_due_hours_are_kept_exactly() -> None:
    rules = parse_rules(
        "tiers: [{event: x, tier: power}]\n"
        "touchpoints: {power_to_passive: {due_hours: 0.5}}\n",
        "test.yaml",
    )
    task = drop_task(PASSIVE_DROP, "acct-1", "u1", rules, LATENESS)
    assert task.due_at - task.opened_at == timedelta(minutes=30)


def test_task_fields_come_from_the_drop_and_the_rules() -> None:
    task = drop_task(DORMANT_DROP, "acct-1", "u1", RULES, LATENESS)
    assert (task.kind, task.account_id, task.user_id) == (
        Kind.POWER_TO_DORMANT,
        "acct-1",
        "u1",
    )
    assert (task.priority, task.playbook) == ("urgent", "silent-outreach")
    passive = drop_task(PASSIVE_DROP, "acct-1", "u1", RULES, LATENESS)
    assert (passive.priority, passive.playbook) == ("high", "power_to_passive")


@pytest.mark.parametrize(
    ("drop", "change"),
    [
        pytest.param(PASSIVE_DROP, "fell from Power to Passive", id="passive"),
        pytest.param(DORMANT_DROP, "went silent", id="dormant"),
    ],
)
def test_summary_says_who_what_changed_and_since_when(drop: Drop, change: str) -> None:
    summary = drop_task(drop, "acct-7", "user-42", RULES, LATENESS).summary
    assert summary.startswith("User user-42 of account acct-7 ")
    assert change in summary
    assert "7 days to 2024-03-14" in summary
    assert summary.endswith("last power-tier day was 2024-03-05.")


def test_evidence_has_both_windows_their_tiers_and_counts() -> None:
    task = drop_task(PASSIVE_DROP, "acct-1", "u1", RULES, LATENESS)
    assert task.evidence == {
        "window_days": 7,
        "previous_window": {
            "start": "2024-03-01",
            "end": "2024-03-07",
            "tier": "power",
            "days_by_tier": {"passive": 0, "active": 0, "power": 2},
        },
        "current_window": {
            "start": "2024-03-08",
            "end": "2024-03-14",
            "tier": "passive",
            "days_by_tier": {"passive": 1, "active": 0, "power": 0},
        },
        "last_power_day": "2024-03-05",
    }


def test_dormant_evidence_names_the_dormant_tier() -> None:
    task = drop_task(DORMANT_DROP, "acct-1", "u1", RULES, LATENESS)
    assert task.evidence["current_window"]["tier"] == "dormant"
    assert task.evidence["current_window"]["days_by_tier"] == {
        "passive": 0,
        "active": 0,
        "power": 0,
    }


def test_task_survives_a_json_round_trip() -> None:
    task = drop_task(PASSIVE_DROP, "acct-1", "u1", RULES, LATENESS)
    assert Task.model_validate_json(task.to_json()) == task


def test_live_task_found_late_opens_when_detected_so_its_deadline_is_ahead() -> None:
    detected = opened_at(PASSIVE_DROP.end, LATENESS) + timedelta(days=3)
    task = drop_task(PASSIVE_DROP, "acme", "u-1", RULES, LATENESS, detected=detected)
    assert task.opened_at == detected
    assert task.due_at == detected + timedelta(hours=48)


def test_task_detected_on_time_opens_when_its_window_became_final() -> None:
    final = opened_at(PASSIVE_DROP.end, LATENESS)
    task = drop_task(
        PASSIVE_DROP,
        "acme",
        "u-1",
        RULES,
        LATENESS,
        detected=final - timedelta(minutes=5),
    )
    assert task.opened_at == final
