"""Touchpoint task records (DESIGN §5), built from detector output."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict

from worker.engagement import Drop
from worker.rules import Kind, Rules
from worker.tiers import day_iso, day_start


class Task(BaseModel):
    """One touchpoint a CSM should act on before `due_at`."""

    model_config = ConfigDict(frozen=True)

    task_id: str
    kind: Kind
    account_id: str
    user_id: str | None
    opened_at: datetime
    due_at: datetime
    priority: str
    summary: str
    evidence: dict[str, Any]
    playbook: str

    def to_json(self) -> str:
        """Serialised form published to Kafka."""
        return self.model_dump_json()


def task_id(kind: Kind, account: str, subject: str, window: str) -> str:
    """Stable id from what the task is about, so reprocessing yields the same id."""
    digest = hashlib.sha256(f"{kind}|{account}|{subject}|{window}".encode())
    return f"{kind.value}-{digest.hexdigest()[:24]}"


def opened_at(end: int, lateness: timedelta) -> datetime:
    """When the window ending on day `end` became final: its close plus the lateness."""
    return day_start(end + 1) + lateness


def _summary(drop: Drop, account: str, user: str, window_days: int) -> str:
    since = day_iso(drop.last_power_day)
    if drop.kind is Kind.POWER_TO_DORMANT:
        change = f"went silent: no activity at all in the {window_days} days to"
    else:
        change = (
            f"fell from Power to Passive: only passive use in the {window_days} days to"
        )
    return (
        f"User {user} of account {account} {change} {day_iso(drop.end)}; "
        f"last power-tier day was {since}."
    )


def _window(end: int, days: int, tier: str, counts: dict[str, int]) -> dict[str, Any]:
    return {
        "start": day_iso(end - days + 1),
        "end": day_iso(end),
        "tier": tier,
        "days_by_tier": counts,
    }


def drop_task(
    drop: Drop,
    account: str,
    user: str,
    rules: Rules,
    lateness: timedelta,
    detected: datetime | None = None,
) -> Task:
    """The touchpoint for one power-user drop.

    It opens when its window became final, or at `detected` if that is later
    (a live worker catching up after downtime), so its deadline is never
    already past when it is published.
    """
    config = rules.touchpoints[drop.kind]
    days = rules.window.days
    opened = opened_at(drop.end, lateness)
    if detected is not None:
        opened = max(opened, detected)
    return Task(
        task_id=task_id(
            drop.kind, account, f"user:{user}", day_iso(drop.last_power_day)
        ),
        kind=drop.kind,
        account_id=account,
        user_id=user,
        opened_at=opened,
        due_at=opened + timedelta(hours=config.due_hours),
        priority=config.priority,
        summary=_summary(drop, account, user, days),
        evidence={
            "window_days": days,
            "previous_window": _window(
                drop.end - days, days, drop.before.label, drop.previous_counts
            ),
            "current_window": _window(
                drop.end, days, drop.after.label, drop.current_counts
            ),
            "last_power_day": day_iso(drop.last_power_day),
        },
        playbook=config.playbook,
    )
