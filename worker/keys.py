"""Every Redis key Pulse writes, in one place.

All keys of one account carry the account as a hash tag (`{account}`), so
each per-account script touches a single slot and runs unchanged on Redis
Cluster. The few global keys (schedule, clock, counters) are only ever used
by single commands, never inside an account's script.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    """Key names under one prefix; tests give each run its own prefix."""

    prefix: str = "pulse"

    def _account(self, account: str) -> str:
        return f"{self.prefix}:{{{account}}}"

    def seen(self, account: str, day: int) -> str:
        """Set of event ids already applied for an account's events of one day."""
        return f"{self._account(account)}:seen:{day}"

    def user_days(self, account: str, user: str) -> str:
        """Hash of day ordinal to the user's highest tier that day."""
        return f"{self._account(account)}:user:{user}:days"

    def active(self, account: str, day: int) -> str:
        """Set of the account's users active on one day (DAU)."""
        return f"{self._account(account)}:active:{day}"

    def users(self, account: str) -> str:
        """Sorted set of the account's users, scored by their last active day."""
        return f"{self._account(account)}:users"

    def union(self, account: str) -> str:
        """Scratch key for counting the month's distinct users (MAU)."""
        return f"{self._account(account)}:mau-scratch"

    def account_stats(self, account: str) -> str:
        """Hash of the account's event counters: accepted, duplicate, ignored."""
        return f"{self._account(account)}:stats"

    def task(self, account: str, task_id: str) -> str:
        """Marker of an opened task: its JSON while pending, 'sent' once published."""
        return f"{self._account(account)}:task:{task_id}"

    def cooldown(self, account: str, subject: str) -> str:
        """Until when no new touchpoint is opened for a subject (epoch seconds)."""
        return f"{self._account(account)}:cooldown:{subject}"

    @property
    def due(self) -> str:
        """Schedule: member `account<US>user`, score the day its next check is due."""
        return f"{self.prefix}:due"

    @property
    def accounts(self) -> str:
        """Set of every account seen."""
        return f"{self.prefix}:accounts"

    @property
    def clock(self) -> str:
        """The stream's event-time watermark (epoch seconds) when replaying."""
        return f"{self.prefix}:clock"

    @property
    def stats(self) -> str:
        """Hash of running counters: events accepted, duplicate, rejected, tasks."""
        return f"{self.prefix}:stats"


MEMBER_SEPARATOR = "\x1f"


def due_member(account: str, user: str) -> str:
    """Schedule member for one user."""
    return f"{account}{MEMBER_SEPARATOR}{user}"


def split_due_member(member: str) -> tuple[str, str]:
    """Account and user of a schedule member."""
    account, _, user = member.partition(MEMBER_SEPARATOR)
    return account, user
