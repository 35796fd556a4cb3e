"""The seeded synthetic data generator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from worker.events import parse_event
from worker.kddcup import read_labels
from worker.synthetic import (
    ACTIVE_EVENTS,
    PASSIVE_EVENTS,
    POWER_EVENTS,
    GeneratedSummary,
    Persona,
    SyntheticUser,
    generate,
    iter_throughput_events,
)

KDD_EVENTS = {
    "access",
    "navigate",
    "page_close",
    "video",
    "problem",
    "discussion",
    "wiki",
}
START = date(2014, 5, 25)


@pytest.fixture(scope="module")
def default_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, GeneratedSummary]:
    path = tmp_path_factory.mktemp("synthetic") / "events.jsonl"
    return path, generate(path)


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def days_by_user(events: list[dict[str, Any]]) -> dict[str, dict[date, set[str]]]:
    out: dict[str, dict[date, set[str]]] = defaultdict(lambda: defaultdict(set))
    for e in events:
        out[e["user_id"]][date.fromisoformat(e["timestamp"][:10])].add(e["event"])
    return out


def users_of(summary: GeneratedSummary, persona: Persona) -> list[SyntheticUser]:
    return [u for u in summary.users if u.persona is persona]


def test_same_seed_gives_byte_identical_events_and_labels(tmp_path: Path) -> None:
    first = generate(tmp_path / "a.jsonl", accounts=2, users_per_account=10, days=12)
    second = generate(tmp_path / "b.jsonl", accounts=2, users_per_account=10, days=12)
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert first.labels_path.read_bytes() == second.labels_path.read_bytes()
    assert first.users == second.users


def test_output_does_not_depend_on_the_interpreter_hash_seed(tmp_path: Path) -> None:
    script = (
        "import sys; from worker.synthetic import generate; "
        "generate(sys.argv[1], accounts=1, users_per_account=5, days=6)"
    )
    for name, hash_seed in (("a.jsonl", "1"), ("b.jsonl", "2")):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        cmd = [sys.executable, "-c", script, str(tmp_path / name)]
        subprocess.run(cmd, check=True, env=env)
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()


def test_a_different_seed_gives_different_events(tmp_path: Path) -> None:
    generate(tmp_path / "a.jsonl", accounts=1, users_per_account=5, days=6, seed=1)
    generate(tmp_path / "b.jsonl", accounts=1, users_per_account=5, days=6, seed=2)
    assert (tmp_path / "a.jsonl").read_bytes() != (tmp_path / "b.jsonl").read_bytes()


def test_every_account_contains_every_persona(
    default_run: tuple[Path, GeneratedSummary],
) -> None:
    _, summary = default_run
    by_account: dict[str, set[Persona]] = defaultdict(set)
    for user in summary.users:
        by_account[user.account_id].add(user.persona)
    assert len(by_account) == 5
    assert all(personas == set(Persona) for personas in by_account.values())


def test_the_persona_mix_is_the_documented_cycle(
    default_run: tuple[Path, GeneratedSummary],
) -> None:
    _, summary = default_run
    assert summary.persona_counts() == {
        Persona.STEADY_POWER: 40,
        Persona.STEADY_ACTIVE: 60,
        Persona.PASSIVE: 60,
        Persona.POWER_TO_PASSIVE: 20,
        Persona.POWER_TO_SILENT: 20,
    }


def test_the_smallest_account_still_has_every_persona(tmp_path: Path) -> None:
    summary = generate(tmp_path / "e.jsonl", accounts=1, users_per_account=5, days=4)
    assert {u.persona for u in summary.users} == set(Persona)


def test_every_line_parses_as_a_pulse_event_in_kdd_shape(
    default_run: tuple[Path, GeneratedSummary],
) -> None:
    path, summary = default_run
    lines = path.read_bytes().splitlines()
    assert len(lines) == summary.events > 0
    events = [parse_event(line, max_bytes=65536) for line in lines]
    assert {e.event for e in events} == KDD_EVENTS
    assert len({e.event_id for e in events}) == len(events)
    assert all(e.properties == {"source": "synthetic"} for e in events)
    keys = [(e.timestamp, e.event_id) for e in events]
    assert keys == sorted(keys)


def test_ids_follow_the_account_and_user_numbering(
    default_run: tuple[Path, GeneratedSummary],
) -> None:
    path, _ = default_run
    events = load(path)
    for e in events:
        account_no = e["account_id"].removeprefix("acct-")
        assert e["user_id"].startswith(f"user-{account_no}-")
        assert e["event_id"].startswith(f"syn-{e['account_id']}-{e['user_id']}-")
    assert {e["account_id"] for e in events} == {f"acct-0{i}" for i in range(1, 6)}


def test_events_stay_inside_the_window(
    default_run: tuple[Path, GeneratedSummary],
) -> None:
    path, summary = default_run
    days = {date.fromisoformat(e["timestamp"][:10]) for e in load(path)}
    assert (summary.first_day, summary.last_day) == (START, date(2014, 6, 23))
    assert min(days) >= summary.first_day
    assert max(days) <= summary.last_day


def test_silent_droppers_are_power_before_the_drop_and_absent_after(
    default_run: tuple[Path, GeneratedSummary],
) -> None:
    path, summary = default_run
    activity = days_by_user(load(path))
    for user in users_of(summary, Persona.POWER_TO_SILENT):
        assert user.drop_day is not None
        before = [ev for d, ev in activity[user.user_id].items() if d < user.drop_day]
        assert any(ev & set(POWER_EVENTS) for ev in before)
        assert max(activity[user.user_id]) < user.drop_day


def test_passive_droppers_keep_logging_in_without_power_events(
    default_run: tuple[Path, GeneratedSummary],
) -> None:
    path, summary = default_run
    activity = days_by_user(load(path))
    for user in users_of(summary, Persona.POWER_TO_PASSIVE):
        assert user.drop_day is not None
        days = activity[user.user_id]
        after = [ev for d, ev in days.items() if d >= user.drop_day]
        assert after
        assert all(ev <= set(PASSIVE_EVENTS) for ev in after)
        before = [ev for d, ev in days.items() if d < user.drop_day]
        assert any(ev & set(POWER_EVENTS) for ev in before)


def test_drop_days_fall_in_the_middle_of_the_window(
    default_run: tuple[Path, GeneratedSummary],
) -> None:
    _, summary = default_run
    for user in summary.users:
        if user.persona.drops:
            assert user.drop_day is not None
            assert 10 <= (user.drop_day - START).days <= 19
        else:
            assert user.drop_day is None


def test_steady_personas_stay_in_their_tier_all_window(
    default_run: tuple[Path, GeneratedSummary],
) -> None:
    path, summary = default_run
    activity = days_by_user(load(path))
    tiers = {
        Persona.STEADY_POWER: set(POWER_EVENTS),
        Persona.STEADY_ACTIVE: set(ACTIVE_EVENTS),
    }
    for persona, marker in tiers.items():
        for user in users_of(summary, persona):
            days = activity[user.user_id]
            assert sum(1 for ev in days.values() if ev & marker) >= 15
            assert max(days) >= date(2014, 6, 16)
    for user in users_of(summary, Persona.STEADY_ACTIVE):
        assert all(not ev & set(POWER_EVENTS) for ev in activity[user.user_id].values())
    for user in users_of(summary, Persona.PASSIVE):
        assert all(ev <= set(PASSIVE_EVENTS) for ev in activity[user.user_id].values())


def test_labels_file_marks_exactly_the_droppers(
    default_run: tuple[Path, GeneratedSummary],
) -> None:
    _, summary = default_run
    assert summary.labels_path.name == "events.labels.csv"
    labels = read_labels(summary.labels_path)
    assert labels == {u.user_id: int(u.persona.drops) for u in summary.users}
    assert sum(labels.values()) == 40


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"accounts": 0}, id="no-accounts"),
        pytest.param({"users_per_account": 4}, id="too-few-users-for-every-persona"),
        pytest.param({"days": 1}, id="too-short-for-a-drop"),
    ],
)
def test_impossible_shapes_are_refused(tmp_path: Path, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        generate(tmp_path / "x.jsonl", **kwargs)


def test_throughput_events_are_unique_time_ordered_and_valid() -> None:
    events = list(iter_throughput_events(5000, accounts=3, users_per_account=7))
    assert len(events) == 5000
    assert len({e["event_id"] for e in events}) == 5000
    parsed = [parse_event(json.dumps(e).encode(), max_bytes=65536) for e in events]
    stamps = [p.timestamp for p in parsed]
    assert stamps == sorted(stamps)
    assert {e["event"] for e in events} <= KDD_EVENTS
    assert len({e["user_id"] for e in events}) == 21


def test_throughput_events_are_deterministic_for_a_seed() -> None:
    first = list(iter_throughput_events(1000, seed=3))
    assert first == list(iter_throughput_events(1000, seed=3))
    assert first != list(iter_throughput_events(1000, seed=4))


def test_throughput_events_roll_over_utc_days_at_the_given_rate() -> None:
    events = list(iter_throughput_events(5, start=START, per_day=2))
    assert [e["timestamp"] for e in events] == [
        "2014-05-25T00:00:00.000Z",
        "2014-05-25T12:00:00.000Z",
        "2014-05-26T00:00:00.000Z",
        "2014-05-26T12:00:00.000Z",
        "2014-05-27T00:00:00.000Z",
    ]


def test_zero_throughput_events_yields_nothing() -> None:
    assert list(iter_throughput_events(0)) == []
