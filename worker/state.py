"""Per-user and per-account state in Redis (DESIGN §6).

Each event is applied by one server-side script that checks its `event_id`
against the day's dedupe set and, only if it is new, raises the user's day
tier and marks the user active that day. Redelivered events therefore change
nothing. Every key carries a TTL, and a user's day hash is pruned to the days
a window can still reach, so memory per user stays flat.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from worker.errors import StateError
from worker.keys import Keys, due_member, split_due_member
from worker.tiers import SECONDS_PER_DAY, Tier

MONTH_DAYS = 30

# KEYS: seen set, user days hash, active set, users zset
# ARGV: event id, day, tier, user, seen ttl, days ttl, month ttl, oldest day kept
APPLY_EVENT = """
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return {0} end
redis.call('EXPIRE', KEYS[1], ARGV[5])
local tier = tonumber(ARGV[3])
if tier == 0 or ARGV[4] == '' then return {1} end
local day = ARGV[2]
local previous = tonumber(redis.call('HGET', KEYS[2], day) or '0')
if tier <= previous then return {1} end
redis.call('HSET', KEYS[2], day, tier)
redis.call('EXPIRE', KEYS[2], ARGV[6])
if previous == 0 then
  local oldest = tonumber(ARGV[8])
  for _, field in ipairs(redis.call('HKEYS', KEYS[2])) do
    if tonumber(field) < oldest then redis.call('HDEL', KEYS[2], field) end
  end
  redis.call('SADD', KEYS[3], ARGV[4])
  redis.call('EXPIRE', KEYS[3], ARGV[7])
  redis.call('ZADD', KEYS[4], 'GT', day, ARGV[4])
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. (tonumber(day) - 31))
  redis.call('EXPIRE', KEYS[4], ARGV[7])
end
return {2, unpack(redis.call('HGETALL', KEYS[2]))}
"""

# KEYS: task marker, cooldown; ARGV: task json, opened epoch, cooldown until, ttl
CLAIM_TASK = """
local marker = redis.call('GET', KEYS[1])
if marker then return marker end
local until_ = tonumber(redis.call('GET', KEYS[2]) or '0')
if until_ > tonumber(ARGV[2]) then return 'cooldown' end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[4])
redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[4])
return 'new'
"""

# KEYS: scratch, then the month's active sets; returns MAU then each day's DAU
MONTH_ACTIVITY = """
redis.call('SUNIONSTORE', KEYS[1], unpack(KEYS, 2))
local out = {redis.call('SCARD', KEYS[1])}
redis.call('DEL', KEYS[1])
for i = 2, #KEYS do out[#out + 1] = redis.call('SCARD', KEYS[i]) end
return out
"""

# KEYS: clock; ARGV: candidate epoch seconds; keeps the maximum
ADVANCE_CLOCK = """
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
local candidate = tonumber(ARGV[1])
if candidate > current then
  redis.call('SET', KEYS[1], ARGV[1])
  return ARGV[1]
end
return tostring(current)
"""

SENT = "sent"


@dataclass(frozen=True)
class Ttl:
    """Lifetimes of state, in seconds of wall time."""

    seen: int
    user_days: int
    month: int
    task: int

    @classmethod
    def for_window(cls, window_days: int, lateness_s: float, task_days: int) -> Ttl:
        """TTLs long enough for every window and the lateness allowance."""
        slack = int(lateness_s) + 2 * SECONDS_PER_DAY
        return cls(
            seen=slack,
            user_days=2 * window_days * SECONDS_PER_DAY + slack,
            month=(MONTH_DAYS + 2) * SECONDS_PER_DAY,
            task=task_days * SECONDS_PER_DAY,
        )


@dataclass(frozen=True)
class Applied:
    """What applying one event did: a duplicate, no change, or a new history."""

    duplicate: bool
    days: dict[int, Tier] | None


@dataclass(frozen=True)
class MonthActivity:
    """An account's DAU, MAU and stickiness for the 30 days ending on a day."""

    day: int
    dau: int
    mau: int
    average_dau: float

    @property
    def stickiness(self) -> float:
        """Average DAU over the month divided by MAU (0 when nobody was active)."""
        return self.average_dau / self.mau if self.mau else 0.0


@dataclass(frozen=True)
class Update:
    """One accepted event reduced to what state needs."""

    event_id: str
    account: str
    user: str | None
    day: int
    tier: Tier


def _days(flat: Sequence[Any]) -> dict[int, Tier]:
    return {int(flat[i]): Tier(int(flat[i + 1])) for i in range(0, len(flat), 2)}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Store:
    """Redis-backed state; every Redis failure surfaces as `StateError`."""

    def __init__(self, client: aioredis.Redis, keys: Keys, ttl: Ttl, keep_days: int):
        self.client = client
        self.keys = keys
        self.ttl = ttl
        self.keep_days = keep_days
        self._apply = client.register_script(APPLY_EVENT)
        self._claim = client.register_script(CLAIM_TASK)
        self._month = client.register_script(MONTH_ACTIVITY)
        self._clock = client.register_script(ADVANCE_CLOCK)

    async def apply(self, updates: Sequence[Update]) -> list[Applied]:
        """Apply events in order, one atomic script each, in one round trip."""
        if not updates:
            return []
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for u in updates:
                    await self._apply(
                        keys=[
                            self.keys.seen(u.account, u.day),
                            self.keys.user_days(u.account, u.user or ""),
                            self.keys.active(u.account, u.day),
                            self.keys.users(u.account),
                        ],
                        args=[
                            u.event_id,
                            u.day,
                            int(u.tier),
                            u.user or "",
                            self.ttl.seen,
                            self.ttl.user_days,
                            self.ttl.month,
                            u.day - self.keep_days + 1,
                        ],
                        client=pipe,
                    )
                pipe.sadd(self.keys.accounts, *{u.account for u in updates})
                results = await pipe.execute()
        except RedisError as exc:
            raise StateError(f"applying {len(updates)} events failed: {exc}") from exc
        return [
            Applied(duplicate=r[0] == 0, days=_days(r[1:]) if r[0] == 2 else None)
            for r in results[: len(updates)]
        ]

    async def was_seen(self, account: str, day: int, event_id: str) -> bool:
        """Whether an event id was already applied (used for late redeliveries)."""
        return bool(
            await self._call(
                self.client.sismember(self.keys.seen(account, day), event_id)
            )
        )

    async def user_days(self, account: str, user: str) -> dict[int, Tier]:
        """A user's day tiers."""
        raw = await self._call(self.client.hgetall(self.keys.user_days(account, user)))
        return {int(k): Tier(int(v)) for k, v in raw.items()}

    async def many_user_days(
        self, subjects: Sequence[tuple[str, str]]
    ) -> list[dict[int, Tier]]:
        """Day tiers of several (account, user) pairs in one round trip."""
        async with self.client.pipeline(transaction=False) as pipe:
            for account, user in subjects:
                pipe.hgetall(self.keys.user_days(account, user))
            rows = await self._call(pipe.execute())
        return [{int(k): Tier(int(v)) for k, v in raw.items()} for raw in rows]

    async def users(self, account: str) -> list[str]:
        """The account's users active in the last month of state."""
        return [
            _text(m)
            for m in await self._call(
                self.client.zrange(self.keys.users(account), 0, -1)
            )
        ]

    async def accounts(self) -> list[str]:
        """Every account seen."""
        return sorted(
            _text(m) for m in await self._call(self.client.smembers(self.keys.accounts))
        )

    async def month_activity(self, account: str, day: int) -> MonthActivity:
        """DAU on `day`, MAU over the 30 days ending `day`, and the month's mean DAU."""
        days = range(day - MONTH_DAYS + 1, day + 1)
        keys = [self.keys.union(account), *(self.keys.active(account, d) for d in days)]
        out = await self._call(self._month(keys=keys))
        daily = [int(x) for x in out[1:]]
        return MonthActivity(
            day=day, dau=daily[-1], mau=int(out[0]), average_dau=sum(daily) / MONTH_DAYS
        )

    async def schedule(self, entries: Iterable[tuple[str, str, int]]) -> None:
        """Make each user's next check no later than the given day."""
        mapping = {due_member(a, u): day for a, u, day in entries}
        if mapping:
            await self._call(self.client.zadd(self.keys.due, mapping, lt=True))

    async def reschedule(self, entries: Iterable[tuple[str, str, int | None]]) -> None:
        """Set each user's next check, or drop it when none is needed."""
        done = [(due_member(a, u), day) for a, u, day in entries]
        later = {member: day for member, day in done if day is not None}
        finished = [member for member, day in done if day is None]
        async with self.client.pipeline(transaction=False) as pipe:
            if later:
                pipe.zadd(self.keys.due, later)
            if finished:
                pipe.zrem(self.keys.due, *finished)
            await self._call(pipe.execute())

    async def due(self, until: int, limit: int) -> list[tuple[str, str, int]]:
        """Users whose next check falls on or before `until`, earliest first."""
        rows = await self._call(
            self.client.zrangebyscore(
                self.keys.due, "-inf", until, start=0, num=limit, withscores=True
            )
        )
        return [(*split_due_member(_text(m)), int(s)) for m, s in rows]

    async def claim_task(
        self,
        account: str,
        task_id: str,
        subject: str,
        body: str,
        opened: float,
        cooldown_until: float,
    ) -> str:
        """Reserve a task: 'new', 'cooldown', 'sent', or the pending JSON to resend."""
        keys = [self.keys.task(account, task_id), self.keys.cooldown(account, subject)]
        out = await self._call(
            self._claim(keys=keys, args=[body, opened, cooldown_until, self.ttl.task])
        )
        return _text(out)

    async def mark_sent(self, account: str, task_id: str) -> None:
        """Record that a claimed task reached Kafka."""
        await self._call(
            self.client.set(self.keys.task(account, task_id), SENT, keepttl=True)
        )

    async def advance_clock(self, epoch: float) -> float:
        """Raise the stored event-time watermark; returns the stored value."""
        return float(
            _text(await self._call(self._clock(keys=[self.keys.clock], args=[epoch])))
        )

    async def clock(self) -> float | None:
        """The stored event-time watermark, if any."""
        raw = await self._call(self.client.get(self.keys.clock))
        return None if raw is None else float(_text(raw))

    async def count(self, **increments: int) -> None:
        """Add to the running counters."""
        async with self.client.pipeline(transaction=False) as pipe:
            for name, amount in increments.items():
                if amount:
                    pipe.hincrby(self.keys.stats, name, amount)
            await self._call(pipe.execute())

    async def counters(self) -> dict[str, int]:
        """The running counters."""
        raw = await self._call(self.client.hgetall(self.keys.stats))
        return {_text(k): int(v) for k, v in raw.items()}

    async def _call(self, awaitable: Any) -> Any:
        try:
            return await awaitable
        except RedisError as exc:
            raise StateError(str(exc)) from exc
