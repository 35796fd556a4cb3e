"""The engagement model (DESIGN §3) as pure functions over day tiers.

A user's history is a mapping of UTC day ordinal to the highest tier reached
that day. Windows are judged only once a day is closed (its end plus the
allowed lateness has passed), so a verdict never changes after it is made and
does not depend on the order events arrived in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from worker.rules import Kind, Window
from worker.tiers import Tier

DayTiers = Mapping[int, Tier]


def window_tier(days: DayTiers, end: int, window: Window) -> Tier:
    """Highest tier reached on at least its `min_days` days of the window to `end`."""
    start = end - window.days + 1
    in_window = [tier for day, tier in days.items() if start <= day <= end]
    for tier in (Tier.POWER, Tier.ACTIVE, Tier.PASSIVE):
        reached = sum(1 for t in in_window if t >= tier)
        if reached >= window.min_days.of(tier):
            return tier
    return Tier.NONE


@dataclass(frozen=True)
class Drop:
    """A power user whose window tier fell: the facts behind one touchpoint."""

    kind: Kind
    end: int
    before: Tier
    after: Tier
    last_power_day: int
    previous_counts: dict[str, int]
    current_counts: dict[str, int]


def tier_counts(days: DayTiers, end: int, window: Window) -> dict[str, int]:
    """Days in the window ending `end` whose tier was each label."""
    start = end - window.days + 1
    counts = {t.label: 0 for t in (Tier.PASSIVE, Tier.ACTIVE, Tier.POWER)}
    for day, tier in days.items():
        if start <= day <= end and tier > Tier.NONE:
            counts[tier.label] += 1
    return counts


def detect_drop(days: DayTiers, end: int, window: Window) -> Drop | None:
    """The drop visible when the window ending `end` closes, if there is one."""
    before = window_tier(days, end - window.days, window)
    after = window_tier(days, end, window)
    if before is not Tier.POWER or after > Tier.PASSIVE:
        return None

    previous_start = end - 2 * window.days + 1
    last_power = max(
        day
        for day, tier in days.items()
        if tier is Tier.POWER and previous_start <= day <= end - window.days
    )
    current = tier_counts(days, end, window)
    # Dormant means no activity at all, not merely too few days to rate passive.
    silent = not any(current.values())
    kind = Kind.POWER_TO_DORMANT if silent else Kind.POWER_TO_PASSIVE
    return Drop(
        kind=kind,
        end=end,
        before=before,
        after=after,
        last_power_day=last_power,
        previous_counts=tier_counts(days, end - window.days, window),
        current_counts=current,
    )


def next_check(days: DayTiers, after: int, window: Window) -> int | None:
    """First window end after `after` at which a drop could appear, if any.

    A window's tier only falls when a day leaves it, so the candidates are the
    days each active day ages out; only those with a power day still in the
    previous window can hold a drop.
    """
    power_days = [day for day, tier in days.items() if tier is Tier.POWER]
    candidates = sorted(
        {day + window.days for day in days if day + window.days > after}
    )
    for end in candidates:
        if any(p + window.days <= end < p + 2 * window.days for p in power_days):
            return end
    return None


def evaluate(
    days: DayTiers, due: int, closed: int, window: Window
) -> tuple[list[Drop], int | None]:
    """Run the checks from `due` to the closed day: the drops and the next check."""
    drops: list[Drop] = []
    end: int | None = due
    while end is not None and end <= closed:
        drop = detect_drop(days, end, window)
        if drop is not None:
            drops.append(drop)
        end = next_check(days, end, window)
    return drops, end


def retained_days(window: Window) -> int:
    """How many days of history a user's windows can still look at."""
    return 2 * window.days
