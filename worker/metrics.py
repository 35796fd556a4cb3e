"""Account metrics read from state: DAU, MAU, stickiness and users per tier."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from worker.engagement import window_tier
from worker.rules import Rules
from worker.state import MonthActivity, Store
from worker.tiers import Tier

ACTIVE_SHARE_TARGET = 0.40


@dataclass(frozen=True)
class AccountSummary:
    """One account on one day."""

    account: str
    month: MonthActivity
    tiers: Counter[Tier]

    @property
    def active_share(self) -> float:
        """Share of the month's users whose window tier is Active or Power."""
        engaged = self.tiers[Tier.ACTIVE] + self.tiers[Tier.POWER]
        return engaged / self.month.mau if self.month.mau else 0.0

    @property
    def meets_active_target(self) -> bool:
        """Whether at least 40% of MAU are Active or above."""
        return self.active_share >= ACTIVE_SHARE_TARGET


async def account_summary(
    store: Store, rules: Rules, account: str, day: int
) -> AccountSummary:
    """Metrics of `account` for the window and month ending on `day`."""
    users = await store.users(account)
    histories = await store.many_user_days([(account, u) for u in users])
    tiers = Counter(window_tier(days, day, rules.window) for days in histories)
    month = await store.month_activity(account, day)
    # Dormant counts the month's users with nothing in the window, so the
    # tiers add up to MAU whichever day is asked about.
    tiers[Tier.NONE] = max(0, month.mau - sum(tiers[t] for t in tiers if t))
    return AccountSummary(account, month, tiers)
