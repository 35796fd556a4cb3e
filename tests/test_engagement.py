"""The engagement model (DESIGN §3): window tiers, drops and when to look for them."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.engagement import (
    DayTiers,
    Drop,
    detect_drop,
    evaluate,
    next_check,
    retained_days,
    tier_counts,
    window_tier,
)
from worker.rules import Kind, MinDays, Window
from worker.tiers import Tier

D0 = date(2024, 3, 1).toordinal()
WEEK = Window()
NONE, PASSIVE, ACTIVE, POWER = Tier.NONE, Tier.PASSIVE, Tier.ACTIVE, Tier.POWER

days_st = st.integers(min_value=D0, max_value=D0 + 30)
histories = st.dictionaries(days_st, st.sampled_from(Tier), max_size=20)
histories_without_power = st.dictionaries(
    days_st, st.sampled_from([NONE, PASSIVE, ACTIVE]), max_size=20
)


def merge_day(days: DayTiers, day: int, tier: Tier) -> dict[int, Tier]:
    """The apply script's rule, as a model: a day keeps its highest tier."""
    merged = dict(days)
    merged[day] = max(merged.get(day, Tier.NONE), tier)
    return merged


def prune(days: DayTiers, today: int, keep: int) -> dict[int, Tier]:
    """The apply script's pruning, as a model: drop days older than `keep`."""
    return {day: tier for day, tier in days.items() if day > today - keep}


@st.composite
def windows(draw: st.DrawFn) -> Window:
    days = draw(st.integers(min_value=1, max_value=8))
    least = st.integers(min_value=1, max_value=days)
    return Window(
        days=days,
        min_days=MinDays(passive=draw(least), active=draw(least), power=draw(least)),
    )


def history(**offsets: Tier) -> dict[int, Tier]:
    """Days given as `d<offset from D0>=tier`."""
    return {D0 + int(key[1:]): tier for key, tier in offsets.items()}


def brute_force(
    days: DayTiers, first: int, last: int, window: Window
) -> dict[int, Drop]:
    found = {end: detect_drop(days, end, window) for end in range(first, last + 1)}
    return {end: drop for end, drop in found.items() if drop is not None}


@pytest.mark.parametrize(
    ("days", "min_days", "expected"),
    [
        pytest.param({}, MinDays(), NONE, id="no-history"),
        pytest.param(history(d6=POWER), MinDays(), POWER, id="power-on-end-day"),
        pytest.param(history(d0=POWER), MinDays(), POWER, id="power-on-first-day"),
        pytest.param(history(d7=POWER), MinDays(), NONE, id="after-end-ignored"),
        pytest.param({D0 - 1: POWER}, MinDays(), NONE, id="before-start-ignored"),
        pytest.param(
            history(d1=PASSIVE, d2=ACTIVE, d3=PASSIVE), MinDays(), ACTIVE, id="highest"
        ),
        pytest.param(
            history(d1=POWER, d2=ACTIVE), MinDays(power=2), ACTIVE, id="power-short"
        ),
        pytest.param(
            history(d1=POWER, d5=POWER), MinDays(power=2), POWER, id="power-enough"
        ),
        pytest.param(
            history(d1=POWER, d2=POWER),
            MinDays(active=2, power=3),
            ACTIVE,
            id="power-days-count-as-active",
        ),
        pytest.param(
            history(d1=PASSIVE), MinDays(passive=2), NONE, id="passive-short-is-dormant"
        ),
        pytest.param(
            history(d1=NONE, d2=NONE), MinDays(), NONE, id="none-days-count-for-nothing"
        ),
    ],
)
def test_window_tier_is_highest_tier_reached_on_min_days(
    days: DayTiers, min_days: MinDays, expected: Tier
) -> None:
    window = Window(days=7, min_days=min_days)
    assert window_tier(days, D0 + 6, window) is expected


def test_tier_counts_count_window_days_by_tier() -> None:
    days = history(d0=POWER, d1=POWER, d3=PASSIVE, d4=NONE, d7=ACTIVE)
    assert tier_counts(days, D0 + 6, WEEK) == {"passive": 1, "active": 0, "power": 2}


@pytest.mark.parametrize(
    ("days", "kind", "after"),
    [
        pytest.param(
            history(d3=POWER, d10=PASSIVE),
            Kind.POWER_TO_PASSIVE,
            PASSIVE,
            id="power-to-passive",
        ),
        pytest.param(
            history(d3=POWER), Kind.POWER_TO_DORMANT, NONE, id="power-to-dormant"
        ),
        pytest.param(
            history(d3=POWER, d7=PASSIVE, d13=PASSIVE),
            Kind.POWER_TO_PASSIVE,
            PASSIVE,
            id="passive-on-window-edges",
        ),
    ],
)
def test_power_user_whose_window_falls_to_passive_or_below_drops(
    days: DayTiers, kind: Kind, after: Tier
) -> None:
    drop = detect_drop(days, D0 + 13, WEEK)
    assert drop is not None
    assert (drop.kind, drop.end, drop.before, drop.after) == (
        kind,
        D0 + 13,
        POWER,
        after,
    )
    assert drop.last_power_day == D0 + 3


@pytest.mark.parametrize(
    "days",
    [
        pytest.param({}, id="no-history"),
        pytest.param(history(d3=POWER, d10=ACTIVE), id="power-to-active"),
        pytest.param(history(d3=POWER, d13=POWER), id="still-power"),
        pytest.param(history(d3=ACTIVE, d10=PASSIVE), id="active-before"),
        pytest.param(history(d3=PASSIVE), id="passive-before"),
        pytest.param(history(d7=POWER), id="power-only-in-current-window"),
        pytest.param({D0 - 1: POWER}, id="power-before-previous-window"),
    ],
)
def test_no_drop_unless_power_before_and_passive_or_less_now(days: DayTiers) -> None:
    assert detect_drop(days, D0 + 13, WEEK) is None


def test_drop_carries_last_power_day_of_previous_window_and_counts() -> None:
    days = history(d0=POWER, d2=POWER, d4=POWER, d5=ACTIVE, d9=PASSIVE, d11=PASSIVE)
    days[D0 - 1] = POWER
    drop = detect_drop(days, D0 + 13, WEEK)
    assert drop is not None
    assert drop.last_power_day == D0 + 4
    assert drop.previous_counts == {"passive": 0, "active": 1, "power": 3}
    assert drop.current_counts == {"passive": 2, "active": 0, "power": 0}


def test_min_days_decide_whether_the_previous_window_was_power() -> None:
    window = Window(days=7, min_days=MinDays(power=2))
    assert detect_drop(history(d3=POWER, d10=PASSIVE), D0 + 13, window) is None
    drop = detect_drop(history(d2=POWER, d3=POWER, d10=PASSIVE), D0 + 13, window)
    assert drop is not None
    assert drop.kind is Kind.POWER_TO_PASSIVE


def test_user_with_activity_below_min_days_is_not_reported_as_gone_silent() -> None:
    """DESIGN §3: dormant means no activity at all in the current window."""
    window = Window(days=7, min_days=MinDays(passive=2))
    drop = detect_drop(history(d0=POWER, d3=PASSIVE), D0 + 7, window)
    assert drop is None or drop.kind is not Kind.POWER_TO_DORMANT


@pytest.mark.parametrize(
    ("days", "after", "expected"),
    [
        pytest.param({}, D0, None, id="no-history"),
        pytest.param(history(d0=POWER), D0, D0 + 7, id="power-ages-out"),
        pytest.param(history(d0=POWER), D0 + 6, D0 + 7, id="day-before"),
        pytest.param(history(d0=POWER), D0 + 7, None, id="strictly-after"),
        pytest.param(
            history(d0=PASSIVE, d1=ACTIVE, d2=ACTIVE), D0, None, id="never-power"
        ),
        pytest.param(history(d0=POWER, d2=PASSIVE), D0 + 7, D0 + 9, id="later-day"),
        pytest.param(history(d0=POWER, d2=PASSIVE), D0 + 9, None, id="after-last"),
        pytest.param(
            history(d0=POWER, d10=ACTIVE),
            D0 + 7,
            None,
            id="power-gone-from-previous-window",
        ),
        pytest.param(
            history(d0=PASSIVE, d3=POWER), D0, D0 + 10, id="skip-days-without-power"
        ),
    ],
)
def test_next_check_is_first_day_a_drop_could_appear(
    days: DayTiers, after: int, expected: int | None
) -> None:
    assert next_check(days, after, WEEK) == expected


def test_evaluate_runs_every_due_check_up_to_the_closed_day() -> None:
    days = history(d0=POWER, d2=PASSIVE)
    drops, following = evaluate(days, D0, D0 + 20, WEEK)
    assert [(d.kind, d.end) for d in drops] == [
        (Kind.POWER_TO_PASSIVE, D0 + 7),
        (Kind.POWER_TO_DORMANT, D0 + 9),
    ]
    assert following is None


def test_evaluate_stops_at_the_closed_day_and_returns_the_next_check() -> None:
    days = history(d0=POWER, d2=PASSIVE)
    drops, following = evaluate(days, D0, D0 + 8, WEEK)
    assert [d.end for d in drops] == [D0 + 7]
    assert following == D0 + 9


def test_evaluate_with_nothing_due_yet_changes_nothing() -> None:
    assert evaluate(history(d0=POWER), D0 + 7, D0 + 6, WEEK) == ([], D0 + 7)


def test_prune_keeps_only_days_a_window_can_still_reach() -> None:
    days = history(d0=POWER, d1=PASSIVE, d14=ACTIVE)
    assert prune(days, D0 + 14, retained_days(WEEK)) == history(d1=PASSIVE, d14=ACTIVE)


@given(
    updates=st.lists(st.tuples(days_st, st.sampled_from(Tier)), max_size=30),
    data=st.data(),
)
def test_merging_day_tiers_ignores_order_and_repetition(
    updates: list[tuple[int, Tier]], data: st.DataObject
) -> None:
    """Pure counterpart of the Redis apply script: a day keeps its highest tier."""
    replay = data.draw(st.permutations(updates))
    if updates:
        replay += data.draw(st.lists(st.sampled_from(updates), max_size=30))

    def merged(sequence: list[tuple[int, Tier]]) -> dict[int, Tier]:
        days: dict[int, Tier] = {}
        for day, tier in sequence:
            days = merge_day(days, day, tier)
        return days

    once = merged(updates)
    assert merged(replay) == once
    assert once == {day: max(t for d, t in updates if d == day) for day, _ in updates}


@given(
    days=histories,
    window=windows(),
    closed=st.integers(min_value=D0, max_value=D0 + 60),
    splits=st.lists(st.integers(min_value=D0, max_value=D0 + 60), max_size=5),
)
def test_evaluating_in_steps_finds_the_same_drops_as_one_run(
    days: DayTiers, window: Window, closed: int, splits: list[int]
) -> None:
    """The sweep's result must not depend on how often it ran."""
    start = D0 - 1
    once = evaluate(days, start, closed, window)

    stepped: list[Drop] = []
    due: int | None = start
    for step in [*sorted(s for s in splits if s < closed), closed]:
        if due is None:
            break
        drops, due = evaluate(days, due, step, window)
        stepped += drops
    assert (stepped, due) == once


@given(
    days=histories,
    window=windows(),
    closed=st.integers(min_value=D0, max_value=D0 + 60),
)
def test_evaluate_finds_the_first_day_of_every_drop(
    days: DayTiers, window: Window, closed: int
) -> None:
    """Skipping to candidate days never misses a drop a day-by-day scan would open."""
    start = D0 - 1
    scan = brute_force(days, start, closed, window)
    found = {drop.end: drop for drop in evaluate(days, start, closed, window)[0]}
    firsts = {end: drop for end, drop in scan.items() if end - 1 not in scan}
    assert firsts.items() <= found.items()
    assert found.items() <= scan.items()


@given(
    days=histories,
    window=windows(),
    closed=st.integers(min_value=D0, max_value=D0 + 60),
)
def test_every_drop_is_from_power_to_passive_or_below(
    days: DayTiers, window: Window, closed: int
) -> None:
    drops, _ = evaluate(days, D0 - 1, closed, window)
    for drop in drops:
        assert drop.before is POWER
        assert drop.after <= PASSIVE
        assert (drop.kind is Kind.POWER_TO_DORMANT) is (
            not any(drop.current_counts.values())
        )
        previous_start = drop.end - 2 * window.days + 1
        assert previous_start <= drop.last_power_day <= drop.end - window.days
        assert days[drop.last_power_day] is POWER


@given(
    days=histories_without_power,
    window=windows(),
    due=st.integers(min_value=D0 - 10, max_value=D0 + 60),
    closed=st.integers(min_value=D0, max_value=D0 + 60),
)
def test_user_never_in_power_tier_never_drops(
    days: DayTiers, window: Window, due: int, closed: int
) -> None:
    assert next_check(days, due, window) is None
    drops, _ = evaluate(days, due, closed, window)
    assert drops == []


@given(
    days=histories,
    window=windows(),
    today=st.integers(min_value=D0, max_value=D0 + 40),
    ahead=st.integers(min_value=0, max_value=20),
)
def test_pruned_history_gives_the_same_answers_from_today_on(
    days: DayTiers, window: Window, today: int, ahead: int
) -> None:
    pruned = prune(days, today, retained_days(window))
    end = today + ahead
    assert detect_drop(pruned, end, window) == detect_drop(days, end, window)
    assert next_check(pruned, end - 1, window) == next_check(days, end - 1, window)
