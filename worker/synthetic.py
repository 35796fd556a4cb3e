"""Seeded, deterministic synthetic usage data in the shape of the KDD importer.

Stands in for the KDD Cup 2015 file when it is absent. The output uses the same
event names (access, navigate, page_close are passive; video, problem active;
discussion, wiki power), the same envelope fields and the same time-sorted JSON
lines. Ids are made up and contain no personal data: accounts `acct-01`,
users `user-01-001`, events `syn-<account>-<user>-<YYYYMMDD>-<event>-<i>`.

Every user follows one persona, dealt per account in a fixed repeating cycle
(2 steady power, 3 steady active, 3 passive, 1 power-to-passive and
1 power-to-silent in every 10, the first five of the cycle all different) and
then shuffled:

- steady power: discussion or wiki on most days, plus active and passive events;
- steady active: video or problem on most days, plus passive events;
- passive: only access, navigate and page_close;
- power to passive: power until its drop day, then keeps logging in with
  passive events only;
- power to silent: power until its drop day, then nothing at all.

The drop day lies in the middle third of the window and is recorded in the
summary. A labels CSV (`user_id,label`, readable by `worker.kddcup.read_labels`)
is written next to the events: label 1 means the user dropped, i.e. one of the
two drop personas.

All randomness comes from `random.Random` seeded with strings built from the
seed and the account or user id, so the output is byte-identical for the same
arguments on the same Python version, and one user's activity does not depend
on how many other users are generated.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path

from worker.kddcup import Envelope, day_timestamp, write_jsonl
from worker.tiers import SECONDS_PER_DAY, Tier

SOURCE = "synthetic"
MS_PER_DAY = SECONDS_PER_DAY * 1000
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()

PASSIVE_EVENTS = ("access", "navigate", "page_close")
ACTIVE_EVENTS = ("video", "problem")
POWER_EVENTS = ("discussion", "wiki")


class Persona(StrEnum):
    """How a synthetic user behaves over the window."""

    STEADY_POWER = "steady_power"
    STEADY_ACTIVE = "steady_active"
    PASSIVE = "passive"
    POWER_TO_PASSIVE = "power_to_passive"
    POWER_TO_SILENT = "power_to_silent"

    @property
    def drops(self) -> bool:
        """True for the personas that fall out of the power tier at a drop day."""
        return self in (Persona.POWER_TO_PASSIVE, Persona.POWER_TO_SILENT)


PERSONA_CYCLE = (
    Persona.STEADY_POWER,
    Persona.STEADY_ACTIVE,
    Persona.PASSIVE,
    Persona.POWER_TO_PASSIVE,
    Persona.POWER_TO_SILENT,
    Persona.STEADY_ACTIVE,
    Persona.PASSIVE,
    Persona.STEADY_POWER,
    Persona.STEADY_ACTIVE,
    Persona.PASSIVE,
)
MIN_USERS_PER_ACCOUNT = len(set(PERSONA_CYCLE))
MIN_DAYS = 2

# Inclusive ranges of a day's count per event type, by the tier that adds them;
# a day at some tier also gets the events of every tier below it.
COUNT_RANGES: dict[Tier, dict[str, tuple[int, int]]] = {
    Tier.PASSIVE: {"access": (1, 6), "navigate": (0, 3), "page_close": (0, 3)},
    Tier.ACTIVE: {"video": (1, 4), "problem": (0, 3)},
    Tier.POWER: {"discussion": (1, 3), "wiki": (0, 2)},
}
# Probability that a user shows up at all on a day of the given tier.
PRESENCE = {Tier.POWER: 0.9, Tier.ACTIVE: 0.8, Tier.PASSIVE: 0.7, Tier.NONE: 0.0}
THROUGHPUT_EVENTS = (*PASSIVE_EVENTS, *ACTIVE_EVENTS, *POWER_EVENTS)
THROUGHPUT_WEIGHTS = (30, 20, 15, 15, 10, 6, 4)


@dataclass(frozen=True)
class SyntheticUser:
    """One generated user and the ground truth about it."""

    account_id: str
    user_id: str
    persona: Persona
    drop_day: date | None

    @property
    def label(self) -> int:
        """1 if the user dropped during the window, else 0."""
        return 1 if self.persona.drops else 0


@dataclass(frozen=True)
class GeneratedSummary:
    """What `generate` wrote."""

    events: int
    first_day: date
    last_day: date
    labels_path: Path
    users: tuple[SyntheticUser, ...]

    def persona_counts(self) -> dict[Persona, int]:
        """Number of users per persona, over all accounts."""
        return dict(Counter(u.persona for u in self.users))


def account_id(account: int) -> str:
    """Id of the account numbered `account` (from 1): `acct-03`."""
    return f"acct-{account:02d}"


def user_id(account: int, user: int) -> str:
    """Id of user number `user` (from 1) of an account: `user-03-017`."""
    return f"user-{account:02d}-{user:03d}"


def labels_path_for(path: str | Path) -> Path:
    """Where `generate` writes the labels next to events at `path`."""
    events = Path(path)
    return events.with_name(f"{events.stem}.labels.csv")


def _drop_offset(rng: random.Random, days: int) -> int:
    low = max(1, days // 3)
    high = max(low, days - 1 - days // 3)
    return rng.randint(low, high)


def make_users(
    account: int, users_per_account: int, days: int, start: date, seed: int
) -> list[SyntheticUser]:
    """Deal personas to an account's users and pick drop days, all seeded."""
    rng = random.Random(f"{seed}:{account_id(account)}")
    personas = [PERSONA_CYCLE[i % len(PERSONA_CYCLE)] for i in range(users_per_account)]
    rng.shuffle(personas)
    users = []
    for number, persona in enumerate(personas, start=1):
        drop = None
        if persona.drops:
            drop = start + timedelta(days=_drop_offset(rng, days))
        ids = (account_id(account), user_id(account, number))
        users.append(SyntheticUser(*ids, persona, drop))
    return users


def tier_on(user: SyntheticUser, day: date) -> Tier:
    """The tier a user's persona acts at on `day`; `Tier.NONE` when silent."""
    dropped = user.drop_day is not None and day >= user.drop_day
    match user.persona:
        case Persona.STEADY_POWER:
            return Tier.POWER
        case Persona.STEADY_ACTIVE:
            return Tier.ACTIVE
        case Persona.PASSIVE:
            return Tier.PASSIVE
        case Persona.POWER_TO_PASSIVE:
            return Tier.PASSIVE if dropped else Tier.POWER
        case Persona.POWER_TO_SILENT:
            return Tier.NONE if dropped else Tier.POWER


def _day_counts(rng: random.Random, tier: Tier) -> dict[str, int]:
    counts: dict[str, int] = {}
    for level, ranges in COUNT_RANGES.items():
        if level <= tier:
            for event, (low, high) in ranges.items():
                counts[event] = rng.randint(low, high)
    return counts


def _envelope(user: SyntheticUser, event_id: str, event: str, stamp: str) -> Envelope:
    return {
        "event_id": event_id,
        "account_id": user.account_id,
        "user_id": user.user_id,
        "event": event,
        "timestamp": stamp,
        "properties": {"source": SOURCE},
    }


def user_envelopes(
    user: SyntheticUser, days: int, start: date, seed: int
) -> Iterator[Envelope]:
    """Yield one user's envelopes over the window, day by day (not time-sorted)."""
    rng = random.Random(f"{seed}:{user.user_id}")
    for offset in range(days):
        day = start + timedelta(days=offset)
        tier = tier_on(user, day)
        if rng.random() >= PRESENCE[tier]:
            continue
        prefix = f"syn-{user.account_id}-{user.user_id}-{day:%Y%m%d}"
        for event, count in _day_counts(rng, tier).items():
            for index in range(count):
                stamp = day_timestamp(day, rng.randrange(SECONDS_PER_DAY))
                yield _envelope(user, f"{prefix}-{event}-{index}", event, stamp)


def _check_shape(accounts: int, users_per_account: int, days: int) -> None:
    if accounts < 1:
        raise ValueError("accounts must be at least 1")
    if users_per_account < MIN_USERS_PER_ACCOUNT:
        raise ValueError(f"users_per_account must be at least {MIN_USERS_PER_ACCOUNT}")
    if days < MIN_DAYS:
        raise ValueError(f"days must be at least {MIN_DAYS}")


def _write_labels(path: Path, users: list[SyntheticUser]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        out.write("user_id,label\n")
        out.writelines(f"{u.user_id},{u.label}\n" for u in users)


def generate(
    path: str | Path,
    *,
    accounts: int = 5,
    users_per_account: int = 40,
    days: int = 30,
    start: date = date(2014, 5, 25),
    seed: int = 7,
) -> GeneratedSummary:
    """Write seeded synthetic envelopes to `path` in time order, labels alongside."""
    _check_shape(accounts, users_per_account, days)
    users = [
        user
        for account in range(1, accounts + 1)
        for user in make_users(account, users_per_account, days, start, seed)
    ]
    envelopes = [e for u in users for e in user_envelopes(u, days, start, seed)]
    envelopes.sort(key=lambda e: (e["timestamp"], e["event_id"]))
    write_jsonl(envelopes, path)
    labels = labels_path_for(path)
    _write_labels(labels, users)
    return GeneratedSummary(
        events=len(envelopes),
        first_day=start,
        last_day=start + timedelta(days=days - 1),
        labels_path=labels,
        users=tuple(users),
    )


def _iso_ms(ms: int) -> str:
    days, rest = divmod(ms, MS_PER_DAY)
    seconds, millis = divmod(rest, 1000)
    day = date.fromordinal(EPOCH_ORDINAL + days)
    return f"{day_timestamp(day, seconds)[:-1]}.{millis:03d}Z"


def iter_throughput_events(
    n: int,
    accounts: int = 5,
    users_per_account: int = 40,
    seed: int = 7,
    start: date = date(2014, 5, 25),
    *,
    per_day: int = 20_000,
) -> Iterator[Envelope]:
    """Yield `n` time-ordered envelopes with unique ids, `per_day` to a UTC day."""
    if n < 0 or accounts < 1 or users_per_account < 1 or per_day < 1:
        raise ValueError("n must be >= 0; accounts, users_per_account, per_day >= 1")
    rng = random.Random(f"{seed}:throughput")
    population = [
        (account_id(a), user_id(a, u))
        for a in range(1, accounts + 1)
        for u in range(1, users_per_account + 1)
    ]
    base_ms = (start.toordinal() - EPOCH_ORDINAL) * MS_PER_DAY
    chunk = 4096
    for first in range(0, n, chunk):
        size = min(chunk, n - first)
        who = rng.choices(population, k=size)
        what = rng.choices(THROUGHPUT_EVENTS, weights=THROUGHPUT_WEIGHTS, k=size)
        for offset, ((account, user), event) in enumerate(zip(who, what, strict=True)):
            index = first + offset
            yield {
                "event_id": f"thr-{seed}-{index}",
                "account_id": account,
                "user_id": user,
                "event": event,
                "timestamp": _iso_ms(base_ms + index * MS_PER_DAY // per_day),
                "properties": {"source": SOURCE},
            }
