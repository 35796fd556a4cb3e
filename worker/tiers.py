"""Engagement tiers and the calendar they are counted on."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from enum import IntEnum

SECONDS_PER_DAY = 86_400


class Tier(IntEnum):
    """A user's engagement level; higher is more engaged."""

    NONE = 0
    PASSIVE = 1
    ACTIVE = 2
    POWER = 3

    @property
    def label(self) -> str:
        """Name as used in rules files and task evidence."""
        return "dormant" if self is Tier.NONE else self.name.lower()


TIER_NAMES = {t.label: t for t in (Tier.PASSIVE, Tier.ACTIVE, Tier.POWER)}


def day_of(ts: datetime) -> int:
    """Proleptic ordinal of the UTC calendar day holding `ts`."""
    return ts.astimezone(UTC).date().toordinal()


def day_start(day: int) -> datetime:
    """Midnight UTC at the start of ordinal `day`."""
    return datetime.combine(date.fromordinal(day), datetime.min.time(), UTC)


def day_iso(day: int) -> str:
    """ISO date of ordinal `day`."""
    return date.fromordinal(day).isoformat()


def closed_day(now: datetime, lateness: timedelta) -> int:
    """Last day whose events can no longer arrive: its end is `lateness` behind now."""
    return day_of(now - lateness) - 1
