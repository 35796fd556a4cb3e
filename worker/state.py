"""Per-user and per-account state in Redis (DESIGN §6).

Each event is applied by one server-side script that checks its `event_id`
against the day's dedupe set and, only if it is new, raises the user's day
tier and marks the user active that day. Redelivered events therefore change
nothing. Every key carries a TTL, and a user's day hash is pruned to the days
a window can still reach, so memory per user stays flat.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from worker.errors import StateError
from worker.keys import Keys, due_member, split_due_member
from worker.tiers import SECONDS_PER_DAY, Tier

MONTH_DAYS = 30

# One account's events in arrival order, atomically. KEYS: the account's users
# zset, its counters, then every other key the events touch. ARGV[1]: JSON list of
# [event id, day, tier, user, seen key, days key, active key] (key positions in
# KEYS); then TTLs of the seen sets, day hashes and monthly keys, and how many
# the first day of history to keep. Returns one entry per event: {0} duplicate,
# {1} applied without changing the user's history, {2, day, tier, ...} changed.
APPLY_EVENTS = """
local seen_ttl, days_ttl, month_ttl = ARGV[2], ARGV[3], ARGV[4]
local prune_before = tonumber(ARGV[5])
local users, stats = KEYS[1], KEYS[2]
local out = {}
local counts = {accepted = 0, duplicate = 0, ignored = 0}
for i, e in ipairs(cjson.decode(ARGV[1])) do
  local id, day, tier, user = e[1], e[2], tonumber(e[3]), e[4]
  local seen, days, active = KEYS[e[5]], KEYS[e[6]], KEYS[e[7]]
  if redis.call('SADD', seen, id) == 0 then
    counts.duplicate = counts.duplicate + 1
    -- A redelivery returns the history too, so that whatever the first
    -- delivery did not finish (a schedule entry) is done again.
    if tier > 0 and user ~= '' then
      out[i] = {0, unpack(redis.call('HGETALL', days))}
    else
      out[i] = {0}
    end
  else
    counts.accepted = counts.accepted + 1
    if tier == 0 then counts.ignored = counts.ignored + 1 end
    redis.call('EXPIRE', seen, seen_ttl)
    local previous = 0
    if tier > 0 and user ~= '' then
      previous = tonumber(redis.call('HGET', days, day) or '0')
    end
    if tier == 0 or user == '' or tier <= previous then
      out[i] = {1}
    else
      redis.call('HSET', days, day, tier)
      redis.call('EXPIRE', days, days_ttl)
      if previous == 0 then
        for _, field in ipairs(redis.call('HKEYS', days)) do
          if tonumber(field) < prune_before then redis.call('HDEL', days, field) end
        end
        redis.call('SADD', active, user)
        redis.call('EXPIRE', active, month_ttl)
        redis.call('ZADD', users, 'GT', day, user)
        redis.call('ZREMRANGEBYSCORE', users, '-inf', '(' .. (tonumber(day) - 31))
        redis.call('EXPIRE', users, month_ttl)
      end
      out[i] = {2, unpack(redis.call('HGETALL', days))}
    end
  end
end
for name, count in pairs(counts) do
  if count > 0 then redis.call('HINCRBY', stats, name, count) end
end
redis.call('EXPIRE', stats, month_ttl)
return out
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

# KEYS: clock hash; ARGV: partition, epoch pairs; keeps each partition's
# maximum and returns every partition's
ADVANCE_CLOCK = """
for i = 1, #ARGV, 2 do
  local current = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '-1')
  if tonumber(ARGV[i + 1]) > current then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
return redis.call('HGETALL', KEYS[1])
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
        self._apply = client.register_script(APPLY_EVENTS)
        self._claim = client.register_script(CLAIM_TASK)
        self._month = client.register_script(MONTH_ACTIVITY)
        self._clock = client.register_script(ADVANCE_CLOCK)

    async def apply(
        self, updates: Sequence[Update], closed: int | None = None
    ) -> list[Applied]:
        """Apply events in order: one atomic script per account, one round trip.

        History older than any check still due after the `closed` day is
        pruned; it is measured from the clock, not from each event's own day,
        because one partition may run far ahead of the others in a replay.
        """
        prune_before = 0 if closed is None else closed - self.keep_days + 1
        if not updates:
            return []
        by_account: dict[str, list[int]] = {}
        for position, update in enumerate(updates):
            by_account.setdefault(update.account, []).append(position)
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for account, positions in by_account.items():
                    keys, args = self._apply_call(
                        prune_before, account, [updates[i] for i in positions]
                    )
                    await self._apply(keys=keys, args=args, client=pipe)
                pipe.sadd(self.keys.accounts, *by_account)
                replies = await pipe.execute()
        except RedisError as exc:
            raise StateError(f"applying {len(updates)} events failed: {exc}") from exc

        applied: dict[int, Applied] = {}
        scripts = replies[: len(by_account)]
        for positions, reply in zip(by_account.values(), scripts, strict=True):
            for position, r in zip(positions, reply, strict=True):
                applied[position] = Applied(
                    duplicate=r[0] == 0, days=_days(r[1:]) if len(r) > 1 else None
                )
        return [applied[i] for i in range(len(updates))]

    def _apply_call(
        self, prune_before: int, account: str, updates: Sequence[Update]
    ) -> tuple[list[str], list[str | int]]:
        keys = [self.keys.users(account), self.keys.account_stats(account)]
        index: dict[str, int] = {}

        def position(key: str) -> int:
            if key not in index:
                keys.append(key)
                index[key] = len(keys)
            return index[key]

        events = [
            [
                u.event_id,
                str(u.day),
                int(u.tier),
                u.user or "",
                position(self.keys.seen(account, u.day)),
                position(self.keys.user_days(account, u.user or "")),
                position(self.keys.active(account, u.day)),
            ]
            for u in updates
        ]
        args: list[str | int] = [
            json.dumps(events),
            self.ttl.seen,
            self.ttl.user_days,
            self.ttl.month,
            prune_before,
        ]
        return keys, args

    async def ping(self) -> None:
        """Check that Redis answers."""
        await self._call(self.client.ping())

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

    async def sync_clock(self, partitions: dict[int, float]) -> dict[int, float]:
        """Raise the shared per-partition watermarks; returns all of them."""
        args = [x for p, epoch in partitions.items() for x in (p, epoch)]
        flat = await self._call(self._clock(keys=[self.keys.clock], args=args))
        return {int(flat[i]): float(flat[i + 1]) for i in range(0, len(flat), 2)}

    async def clock(self) -> float | None:
        """The stored event-time watermark: the slowest partition's, if any."""
        return min((await self.sync_clock({})).values(), default=None)

    async def count(self, **increments: int) -> None:
        """Add to the running counters."""
        async with self.client.pipeline(transaction=False) as pipe:
            for name, amount in increments.items():
                if amount:
                    pipe.hincrby(self.keys.stats, name, amount)
            await self._call(pipe.execute())

    async def counters(self) -> dict[str, int]:
        """The running counters: the global ones plus every account's, summed.

        `accepted`, `duplicate` and `ignored` are counted by the apply script
        itself, so a redelivered event can never be counted as accepted twice.
        """
        accounts = await self.accounts()
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.keys.stats)
            for account in accounts:
                pipe.hgetall(self.keys.account_stats(account))
            replies = await self._call(pipe.execute())
        totals: dict[str, int] = {}
        for reply in replies:
            for name, value in reply.items():
                totals[_text(name)] = totals.get(_text(name), 0) + int(value)
        return totals

    async def _call(self, awaitable: Any) -> Any:
        try:
            return await awaitable
        except RedisError as exc:
            raise StateError(str(exc)) from exc
