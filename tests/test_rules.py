"""Engagement rules files: validation, errors that name the field, classification."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from worker.errors import RulesError
from worker.rules import Kind, MinDays, Rules, describe, load_rules, parse_rules
from worker.tiers import Tier

RULES_DIR = Path(__file__).resolve().parent.parent / "rules"
SOURCE = "test.yaml"
MINIMAL = "tiers:\n  - event: login\n    tier: passive\n"
BEYOND_FLOAT = 10**400
ENGAGEMENT = load_rules(RULES_DIR / "engagement.yaml")

HUGE_INTEGERS = st.builds(
    lambda digits, sign: sign * 10**digits,
    st.integers(min_value=300, max_value=1_000),
    st.sampled_from([1, -1]),
)
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | HUGE_INTEGERS
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
PROPERTY_NAMES = st.sampled_from(["calls", "scheduled"]) | st.text(max_size=8)
# One name each rule of the shipped file matches, so every condition is tried.
RULE_EXAMPLES = tuple(rule.event.replace("*", "x") for rule in ENGAGEMENT.tiers)


def rules_from(data: dict[str, Any]) -> Rules:
    return parse_rules(yaml.safe_dump(data, sort_keys=False), SOURCE)


def one_rule(where: dict[str, Any]) -> Rules:
    return rules_from({"tiers": [{"event": "e", "where": where, "tier": "power"}]})


def rules_error(text: str) -> RulesError:
    with pytest.raises(RulesError) as caught:
        parse_rules(text, SOURCE)
    return caught.value


def test_valid_yaml_gives_rules_with_every_setting() -> None:
    rules = parse_rules(
        """
version: 1
window:
  days: 14
  min_days: {passive: 2, active: 3, power: 4}
unmapped: passive
tiers:
  - event: "report.*"
    where: {scheduled: true}
    tier: passive
  - event: "report.*"
    tier: active
touchpoints:
  power_to_passive: {due_hours: 24, priority: normal, playbook: pb, cooldown_days: 7}
""",
        SOURCE,
    )
    assert rules.window.days == 14
    assert rules.window.min_days == MinDays(passive=2, active=3, power=4)
    assert rules.unmapped == "passive"
    assert [(r.event, r.tier) for r in rules.tiers] == [
        ("report.*", "passive"),
        ("report.*", "active"),
    ]
    assert rules.touchpoints[Kind.POWER_TO_PASSIVE].model_dump() == {
        "due_hours": 24,
        "priority": "normal",
        "playbook": "pb",
        "cooldown_days": 7,
    }


def test_omitted_settings_take_their_defaults() -> None:
    rules = parse_rules(MINIMAL, SOURCE)
    assert rules.version == 1
    assert rules.window.days == 7
    assert rules.window.min_days == MinDays()
    assert rules.unmapped == "ignore"
    for kind in Kind:
        touchpoint = rules.touchpoints[kind]
        assert (touchpoint.due_hours, touchpoint.priority) == (48, "high")
        assert (touchpoint.playbook, touchpoint.cooldown_days) == (kind.value, 14)


def test_missing_touchpoint_kind_is_filled_with_defaults() -> None:
    rules = rules_from(
        {
            "tiers": [{"event": "login", "tier": "passive"}],
            "touchpoints": {"power_to_passive": {"priority": "low"}},
        }
    )
    assert set(rules.touchpoints) == set(Kind)
    assert rules.touchpoints[Kind.POWER_TO_PASSIVE].priority == "low"
    assert rules.touchpoints[Kind.POWER_TO_PASSIVE].playbook == "power_to_passive"
    assert rules.touchpoints[Kind.POWER_TO_DORMANT].playbook == "power_to_dormant"
    assert rules.touchpoints[Kind.POWER_TO_DORMANT].priority == "high"


def test_empty_playbook_means_the_kind_name() -> None:
    rules = rules_from(
        {
            "tiers": [{"event": "login", "tier": "passive"}],
            "touchpoints": {"power_to_dormant": {"playbook": ""}},
        }
    )
    assert rules.touchpoints[Kind.POWER_TO_DORMANT].playbook == "power_to_dormant"


def test_first_matching_rule_wins_so_an_exception_can_sit_above_a_glob() -> None:
    rules = rules_from(
        {
            "tiers": [
                {
                    "event": "report.run",
                    "where": {"scheduled": True},
                    "tier": "passive",
                },
                {"event": "report.*", "tier": "active"},
                {"event": "report.run", "tier": "power"},
            ]
        }
    )
    assert rules.classify("report.run", {"scheduled": True}) is Tier.PASSIVE
    assert rules.classify("report.run", {"scheduled": False}) is Tier.ACTIVE
    assert rules.classify("report.run", {}) is Tier.ACTIVE


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [
        pytest.param("login", "login", True, id="exact"),
        pytest.param("login", "login.ok", False, id="exact-is-whole-name"),
        pytest.param("login", "Login", False, id="case-sensitive"),
        pytest.param("session.*", "session.started", True, id="star"),
        pytest.param("session.*", "session.a.b", True, id="star-crosses-dots"),
        pytest.param("session.*", "session", False, id="star-needs-the-dot"),
        pytest.param("session.*", "xsession.started", False, id="anchored-at-start"),
        pytest.param("v?", "v2", True, id="question-mark"),
        pytest.param("v?", "v10", False, id="question-mark-is-one-char"),
        pytest.param("[ab].done", "b.done", True, id="class"),
        pytest.param("[ab].done", "c.done", False, id="class-excludes"),
        pytest.param("*", "anything.at.all", True, id="catch-all"),
    ],
)
def test_event_name_globs(pattern: str, name: str, matches: bool) -> None:
    rules = rules_from({"tiers": [{"event": pattern, "tier": "power"}]})
    assert (rules.classify(name, {}) is Tier.POWER) is matches


@pytest.mark.parametrize(
    ("where", "properties", "matches"),
    [
        pytest.param({"plan": "pro"}, {"plan": "pro"}, True, id="scalar-equal"),
        pytest.param({"plan": "pro"}, {"plan": "free"}, False, id="scalar-differs"),
        pytest.param({"plan": "pro"}, {}, False, id="scalar-missing"),
        pytest.param({"seats": 5}, {"seats": 5.0}, True, id="int-equals-float"),
        pytest.param({"plan": None}, {"plan": None}, True, id="scalar-null"),
        pytest.param({"plan": {"eq": "pro"}}, {"plan": "pro"}, True, id="eq"),
        pytest.param({"plan": {"eq": "pro"}}, {"plan": "team"}, False, id="eq-not"),
        pytest.param({"plan": {"ne": "free"}}, {"plan": "pro"}, True, id="ne"),
        pytest.param({"plan": {"ne": "free"}}, {"plan": "free"}, False, id="ne-not"),
        pytest.param({"plan": {"ne": "free"}}, {}, False, id="ne-missing"),
        pytest.param(
            {"plan": {"in": ["pro", "team"]}}, {"plan": "team"}, True, id="in"
        ),
        pytest.param(
            {"plan": {"in": ["pro", "team"]}}, {"plan": "free"}, False, id="in-not"
        ),
        pytest.param(
            {"plan": {"not_in": ["free"]}}, {"plan": "pro"}, True, id="not-in"
        ),
        pytest.param(
            {"plan": {"not_in": ["free"]}}, {"plan": "free"}, False, id="not-in-not"
        ),
        pytest.param({"calls": {"gt": 100}}, {"calls": 101}, True, id="gt"),
        pytest.param({"calls": {"gt": 100}}, {"calls": 100}, False, id="gt-boundary"),
        pytest.param({"calls": {"gte": 100}}, {"calls": 100}, True, id="gte-boundary"),
        pytest.param({"calls": {"gte": 100}}, {"calls": 99.5}, False, id="gte-below"),
        pytest.param({"calls": {"lt": 10}}, {"calls": 9}, True, id="lt"),
        pytest.param({"calls": {"lt": 10}}, {"calls": 10}, False, id="lt-boundary"),
        pytest.param({"calls": {"lte": 10}}, {"calls": 10}, True, id="lte-boundary"),
        pytest.param({"calls": {"lte": 10}}, {"calls": 10.5}, False, id="lte-above"),
        pytest.param(
            {"calls": {"gte": 100}}, {"calls": "150"}, False, id="string-not-number"
        ),
        pytest.param({"calls": {"gte": 100}}, {"calls": None}, False, id="null"),
        pytest.param({"calls": {"gte": 1}}, {"calls": True}, False, id="true-not-1"),
        pytest.param(
            {"calls": {"gte": 100}},
            {"calls": BEYOND_FLOAT},
            False,
            id="int-beyond-float-is-not-a-number",
        ),
        pytest.param(
            {"calls": {"lt": 0}},
            {"calls": -BEYOND_FLOAT},
            False,
            id="negative-int-beyond-float",
        ),
        pytest.param(
            {"calls": BEYOND_FLOAT}, {"calls": BEYOND_FLOAT}, True, id="eq-huge-int"
        ),
        pytest.param({"calls": {"lt": 1}}, {"calls": False}, False, id="false-not-0"),
        pytest.param(
            {"calls": {"gte": 10, "lt": 20}}, {"calls": 15}, True, id="range-inside"
        ),
        pytest.param(
            {"calls": {"gte": 10, "lt": 20}}, {"calls": 20}, False, id="range-outside"
        ),
        pytest.param(
            {"sso": {"exists": True}}, {"sso": None}, True, id="exists-null-value"
        ),
        pytest.param({"sso": {"exists": True}}, {}, False, id="exists-missing"),
        pytest.param({"sso": {"exists": False}}, {}, True, id="absent-missing"),
        pytest.param(
            {"sso": {"exists": False}}, {"sso": "okta"}, False, id="absent-present"
        ),
        pytest.param({"sso": {}}, {"sso": 0}, True, id="empty-test-means-present"),
        pytest.param({"sso": {}}, {}, False, id="empty-test-missing"),
        pytest.param(
            {"meta.source.kind": "api"},
            {"meta": {"source": {"kind": "api"}}},
            True,
            id="nested-path",
        ),
        pytest.param(
            {"meta.source.kind": "api"},
            {"meta": {"source": "api"}},
            False,
            id="nested-path-through-scalar",
        ),
        pytest.param(
            {"meta.source.kind": {"exists": False}},
            {"meta": {"other": 1}},
            True,
            id="nested-path-absent",
        ),
        pytest.param(
            {"plan": "pro", "calls": {"gte": 100}},
            {"plan": "pro", "calls": 50},
            False,
            id="every-property-must-hold",
        ),
    ],
)
def test_where_conditions(
    where: dict[str, Any], properties: dict[str, Any], matches: bool
) -> None:
    assert (one_rule(where).classify("e", properties) is Tier.POWER) is matches


@pytest.mark.parametrize(
    ("where", "properties", "matches"),
    [
        pytest.param({"seats": 1}, {"seats": True}, False, id="eq-1-vs-true"),
        pytest.param({"seats": 0}, {"seats": False}, False, id="eq-0-vs-false"),
        pytest.param({"scheduled": True}, {"scheduled": 1}, False, id="true-vs-1"),
        pytest.param({"seats": {"in": [1, 2]}}, {"seats": True}, False, id="in"),
        pytest.param({"flag": {"ne": True}}, {"flag": 1}, True, id="ne"),
    ],
)
def test_bool_and_number_are_never_equal(
    where: dict[str, Any], properties: dict[str, Any], matches: bool
) -> None:
    """JSON `true` and `1` are different values, as they are for gt/gte/lt/lte."""
    assert (one_rule(where).classify("e", properties) is Tier.POWER) is matches


@pytest.mark.parametrize(
    ("unmapped", "expected"),
    [
        pytest.param("ignore", None, id="ignore"),
        pytest.param("passive", Tier.PASSIVE, id="passive"),
    ],
)
def test_unmapped_events(unmapped: str, expected: Tier | None) -> None:
    rules = rules_from(
        {"unmapped": unmapped, "tiers": [{"event": "login", "tier": "power"}]}
    )
    assert rules.classify("page.viewed", {}) is expected


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        pytest.param(
            MINIMAL + "unmaped: passive\n", "unmaped", "Extra inputs", id="top-level"
        ),
        pytest.param(
            "tiers:\n  - {event: login, tier: Power}\n",
            "tiers[0].tier",
            "'passive', 'active' or 'power'",
            id="tier-name",
        ),
        pytest.param(
            MINIMAL + "  - {event: x, tier: power, wehre: {a: 1}}\n",
            "tiers[1].wehre",
            "Extra inputs",
            id="rule-key",
        ),
        pytest.param(
            "tiers:\n  - {event: api.*, tier: power, where: {calls: {gtee: 1}}}\n",
            "tiers[0].where.calls.gtee",
            "Extra inputs",
            id="operator",
        ),
        pytest.param(
            MINIMAL + "window: {days: 7, min_day: {power: 1}}\n",
            "window.min_day",
            "Extra inputs",
            id="window-key",
        ),
        pytest.param(
            MINIMAL + "window: {days: 7, min_days: {powr: 1}}\n",
            "window.min_days.powr",
            "Extra inputs",
            id="min-days-key",
        ),
        pytest.param(
            MINIMAL + "touchpoints:\n  power_to_passive: {due: 4}\n",
            "touchpoints.power_to_passive.due",
            "Extra inputs",
            id="touchpoint-key",
        ),
        pytest.param(
            MINIMAL + "window: {days: 3, min_days: {power: 4}}\n",
            "window",
            "min_days.power is larger than days (3)",
            id="min-days-over-days",
        ),
        pytest.param(
            MINIMAL + "window: {days: 0}\n",
            "window.days",
            "greater than or equal to 1",
            id="zero-days",
        ),
        pytest.param(
            MINIMAL + "touchpoints:\n  power_to_churn: {}\n",
            "touchpoints.power_to_churn",
            "'power_to_passive' or 'power_to_dormant'",
            id="touchpoint-kind",
        ),
        pytest.param(
            MINIMAL + "touchpoints:\n  power_to_passive: {due_hours: 0}\n",
            "touchpoints.power_to_passive.due_hours",
            "greater than 0",
            id="due-hours",
        ),
        pytest.param(
            MINIMAL + "touchpoints:\n  power_to_passive: {priority: asap}\n",
            "touchpoints.power_to_passive.priority",
            "'urgent'",
            id="priority",
        ),
        pytest.param(MINIMAL + "version: 2\n", "version", "1", id="version"),
        pytest.param(MINIMAL + "unmapped: drop\n", "unmapped", "'ignore'", id="mode"),
        pytest.param("version: 1\n", "tiers", "Field required", id="no-tiers"),
        pytest.param("tiers: []\n", "tiers", "at least 1 item", id="empty-tiers"),
        pytest.param(
            "tiers:\n  - {event: '', tier: power}\n",
            "tiers[0].event",
            "at least 1 character",
            id="empty-event",
        ),
        pytest.param("", "(top level)", "mapping", id="empty-file"),
        pytest.param("- login\n", "(top level)", "mapping", id="list-file"),
    ],
)
def test_invalid_rules_name_the_field_and_reason(
    text: str, field: str, reason: str
) -> None:
    error = rules_error(text)
    assert error.path == SOURCE
    assert error.field.startswith(field)
    assert reason in error.reason
    assert str(error).startswith(f"{SOURCE}: {error.field}: ")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        pytest.param("version: 1\n\ttiers: []\n", 2, id="tab"),
        pytest.param(
            "version: 1\nunmapped: ignore\ntiers:\n  - event: a\n     tier: power\n",
            5,
            id="bad-indent",
        ),
    ],
)
def test_bad_yaml_is_reported_with_its_line_number(text: str, line: int) -> None:
    error = rules_error(text)
    assert error.field == f"line {line}"
    assert error.reason.startswith("not valid YAML")


# Huge integers also at the top level, where the shipped `gte` rule reads them.
@given(
    name=st.text(max_size=20),
    properties=st.dictionaries(PROPERTY_NAMES, HUGE_INTEGERS | JSON_VALUES),
)
def test_classify_never_raises_on_json_properties(
    name: str, properties: dict[str, Any]
) -> None:
    for event in (name, *RULE_EXAMPLES):
        assert ENGAGEMENT.classify(event, properties) in (*Tier, None)


def test_api_call_with_a_count_beyond_float_range_is_not_power() -> None:
    assert ENGAGEMENT.classify("api.call", {"calls": 10**401}) is None


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("[" * 20_000, id="sequences"),
        pytest.param("{a: " * 20_000, id="mappings"),
        pytest.param("tiers: " + "[" * 20_000 + "]" * 20_000, id="closed-under-key"),
    ],
)
def test_deeply_nested_yaml_is_a_rules_error_not_a_crash(text: str) -> None:
    error = rules_error(text)
    assert (error.field, error.reason) == ("yaml", "not valid YAML: nested too deeply")


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("? [1]\n: 2\n", id="sequence-key"),
        pytest.param("? {a: 1}\n: 2\n", id="mapping-key"),
    ],
)
def test_unhashable_yaml_key_is_a_rules_error_naming_its_line(text: str) -> None:
    error = rules_error(text)
    assert error.field == "line 1"
    assert "unhashable key" in error.reason


def test_binary_rules_file_is_a_rules_error(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_bytes(b"tiers:\n  - event: \xff\xfe\x00\x81\n")
    with pytest.raises(RulesError) as caught:
        load_rules(path)
    assert (caught.value.path, caught.value.field) == (str(path), "(file)")
    assert caught.value.reason.startswith("not UTF-8 text")


def test_loading_a_missing_file_raises_rules_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(RulesError) as caught:
        load_rules(path)
    assert (caught.value.path, caught.value.field) == (str(path), "(file)")


def test_load_rules_names_the_file_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("tiers: []\n", encoding="utf-8")
    with pytest.raises(RulesError) as caught:
        load_rules(path)
    assert caught.value.path == str(path)


@pytest.mark.parametrize(
    ("name", "event", "properties", "tier"),
    [
        pytest.param("engagement.yaml", "report.run", {}, Tier.ACTIVE, id="report"),
        pytest.param(
            "engagement.yaml",
            "report.run",
            {"scheduled": True},
            Tier.PASSIVE,
            id="scheduled-report",
        ),
        pytest.param("engagement.yaml", "session.started", {}, Tier.PASSIVE, id="s"),
        pytest.param("engagement.yaml", "dashboard.shared", {}, Tier.POWER, id="d"),
        pytest.param(
            "engagement.yaml", "api.call", {"calls": 100}, Tier.POWER, id="api-heavy"
        ),
        pytest.param("engagement.yaml", "api.call", {"calls": 99}, None, id="api"),
        pytest.param("engagement.yaml", "billing.viewed", {}, None, id="unmapped"),
        pytest.param("kddcup.yaml", "access", {}, Tier.PASSIVE, id="kdd-access"),
        pytest.param("kddcup.yaml", "problem", {}, Tier.ACTIVE, id="kdd-problem"),
        pytest.param("kddcup.yaml", "wiki", {}, Tier.POWER, id="kdd-wiki"),
    ],
)
def test_shipped_rules_files_load_and_classify(
    name: str, event: str, properties: dict[str, Any], tier: Tier | None
) -> None:
    assert load_rules(RULES_DIR / name).classify(event, properties) is tier


@pytest.mark.parametrize(
    ("name", "passive", "dormant"),
    [
        pytest.param(
            "engagement.yaml",
            "power-user-reengagement",
            "silent-power-user-outreach",
            id="engagement",
        ),
        pytest.param(
            "kddcup.yaml", "learner-reengagement", "silent-learner-outreach", id="kdd"
        ),
    ],
)
def test_shipped_rules_files_name_their_playbooks(
    name: str, passive: str, dormant: str
) -> None:
    touchpoints = load_rules(RULES_DIR / name).touchpoints
    assert touchpoints[Kind.POWER_TO_PASSIVE].playbook == passive
    assert touchpoints[Kind.POWER_TO_DORMANT].playbook == dormant


def test_describe_spells_out_rules_in_order_with_conditions() -> None:
    lines = describe(load_rules(RULES_DIR / "engagement.yaml")).splitlines()
    assert "    1. 'report.run' where scheduled eq True -> passive" in lines
    assert "    9. 'api.*' where calls gte 100.0 -> power" in lines
    assert any(line.startswith("  power_to_dormant: due in 48 h") for line in lines)


def test_a_key_given_twice_is_an_error_naming_its_line() -> None:
    text = (
        "version: 1\ntiers:\n  - {event: a, tier: power}\n"
        "unmapped: ignore\nunmapped: passive\n"
    )
    with pytest.raises(RulesError, match="line 5") as caught:
        parse_rules(text, "dup.yaml")
    assert "appears twice" in str(caught.value)
