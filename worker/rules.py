"""Declarative engagement rules (rules/engagement.yaml): load, validate, apply.

A rules file maps event names (exact or glob) and optional property conditions
to a tier. Rules are tried in file order and the first match wins, so a narrow
exception can sit above a broad glob. Every key is checked: an unknown or
misspelt key stops start-up with the file, the field and the reason.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from worker.errors import RulesError
from worker.tiers import TIER_NAMES, Tier

Scalar = str | int | float | bool | None


class Kind(StrEnum):
    """Kinds of touchpoint the detectors open."""

    POWER_TO_PASSIVE = "power_to_passive"
    POWER_TO_DORMANT = "power_to_dormant"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Condition(_Strict):
    """A test on one property; the fields given must all hold."""

    eq: Scalar = None
    ne: Scalar = None
    in_: list[Scalar] | None = Field(default=None, alias="in")
    not_in: list[Scalar] | None = None
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None
    exists: bool | None = None

    def holds(self, present: bool, value: Any) -> bool:
        """Whether a property with this presence and value meets every test."""
        if self.exists is not None and present != self.exists:
            return False
        if not present:
            return self.exists is False
        tests = self.model_fields_set - {"exists"}
        return all(_TESTS[name](value, getattr(self, name)) for name in tests)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return float(value)
    except OverflowError:
        # An integer beyond a float's range cannot be compared as a number.
        return None


def _compare(value: Any, bound: float, ok: Callable[[float, float], bool]) -> bool:
    number = _number(value)
    return number is not None and ok(number, bound)


def _equal(value: Any, arg: Any) -> bool:
    # YAML's `true` must not match a property of 1 (Python says True == 1).
    if isinstance(value, bool) != isinstance(arg, bool):
        return False
    return bool(value == arg)


_TESTS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": _equal,
    "ne": lambda value, arg: not _equal(value, arg),
    "in_": lambda value, arg: any(_equal(value, a) for a in arg),
    "not_in": lambda value, arg: not any(_equal(value, a) for a in arg),
    "gt": lambda value, arg: _compare(value, arg, lambda a, b: a > b),
    "gte": lambda value, arg: _compare(value, arg, lambda a, b: a >= b),
    "lt": lambda value, arg: _compare(value, arg, lambda a, b: a < b),
    "lte": lambda value, arg: _compare(value, arg, lambda a, b: a <= b),
}


def _as_condition(value: Any) -> Any:
    if isinstance(value, dict):
        return value
    return {"eq": value}


class TierRule(_Strict):
    """Events whose name matches `event` (and whose properties meet `where`)."""

    event: str = Field(min_length=1)
    tier: Literal["passive", "active", "power"]
    where: dict[str, Condition] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _scalars_mean_equality(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("where"), dict):
            data = {
                **data,
                "where": {k: _as_condition(v) for k, v in data["where"].items()},
            }
        return data

    _pattern: re.Pattern[str] = PrivateAttr()

    def model_post_init(self, context: Any, /) -> None:
        """Compile the event-name glob once."""
        self._pattern = re.compile(fnmatch.translate(self.event))

    def matches(self, name: str, properties: dict[str, Any]) -> bool:
        """Whether an event with this name and these properties falls under the rule."""
        if not self._pattern.match(name):
            return False
        for path, condition in self.where.items():
            present, value = _lookup(properties, path)
            if not condition.holds(present, value):
                return False
        return True


def _lookup(properties: dict[str, Any], path: str) -> tuple[bool, Any]:
    node: Any = properties
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


class MinDays(_Strict):
    """Days in the window a tier must be reached on to count."""

    passive: int = Field(default=1, ge=1)
    active: int = Field(default=1, ge=1)
    power: int = Field(default=1, ge=1)

    def of(self, tier: Tier) -> int:
        """Minimum days for `tier`."""
        return int(getattr(self, tier.label))


class Window(_Strict):
    """The rolling window a user's tier is judged over."""

    days: int = Field(default=7, ge=1, le=60)
    min_days: MinDays = Field(default_factory=MinDays)

    @model_validator(mode="after")
    def _min_days_fit(self) -> Window:
        for tier in (Tier.PASSIVE, Tier.ACTIVE, Tier.POWER):
            if self.min_days.of(tier) > self.days:
                raise ValueError(
                    f"min_days.{tier.label} is larger than days ({self.days})"
                )
        return self


class Touchpoint(_Strict):
    """How a kind of touchpoint is opened."""

    due_hours: float = Field(default=48, gt=0, le=24 * 90)
    priority: Literal["low", "normal", "high", "urgent"] = "high"
    playbook: str = Field(default="", max_length=200)
    cooldown_days: float = Field(default=14, ge=0, le=365)


def _default_touchpoints() -> dict[Kind, Touchpoint]:
    return {kind: Touchpoint(playbook=kind.value) for kind in Kind}


class Rules(_Strict):
    """A whole engagement rules file."""

    version: Literal[1] = 1
    window: Window = Field(default_factory=Window)
    unmapped: Literal["ignore", "passive"] = "ignore"
    tiers: list[TierRule] = Field(min_length=1)
    touchpoints: dict[Kind, Touchpoint] = Field(default_factory=_default_touchpoints)

    @model_validator(mode="after")
    def _every_kind_configured(self) -> Rules:
        for kind in Kind:
            if kind not in self.touchpoints:
                self.touchpoints[kind] = Touchpoint(playbook=kind.value)
            elif not self.touchpoints[kind].playbook:
                self.touchpoints[kind] = self.touchpoints[kind].model_copy(
                    update={"playbook": kind.value}
                )
        return self

    def classify(self, name: str, properties: dict[str, Any]) -> Tier | None:
        """Tier of one event under these rules, or None when it is ignored."""
        for rule in self.tiers:
            if rule.matches(name, properties):
                return TIER_NAMES[rule.tier]
        return Tier.PASSIVE if self.unmapped == "passive" else None


def _field_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += (
            f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
        )
    return out or "(top level)"


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML loader that refuses a key given twice (YAML would keep the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                repeated = key in seen
            except TypeError:
                # An unhashable key: the base class reports it with its line.
                continue
            if repeated:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def parse_rules(text: str, source: str) -> Rules:
    """Validate rules given as YAML text; `source` names the file in errors."""
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "yaml"
        raise RulesError(source, where, f"not valid YAML: {exc}") from exc
    except RecursionError:
        raise RulesError(source, "yaml", "not valid YAML: nested too deeply") from None
    if not isinstance(data, dict):
        raise RulesError(source, "(top level)", "expected a mapping of settings")

    try:
        return Rules.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise RulesError(source, _field_path(first["loc"]), first["msg"]) from exc


def load_rules(path: Path) -> Rules:
    """Read and validate a rules file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError(str(path), "(file)", exc.strerror or str(exc)) from exc
    except UnicodeDecodeError as exc:
        reason = f"not UTF-8 text (byte {exc.start}: {exc.reason})"
        raise RulesError(str(path), "(file)", reason) from exc
    return parse_rules(text, str(path))


def _condition_text(path: str, condition: Condition) -> str:
    parts = []
    for name in sorted(condition.model_fields_set):
        op = "in" if name == "in_" else name
        parts.append(f"{path} {op} {getattr(condition, name)!r}")
    return " and ".join(parts)


def describe(rules: Rules) -> str:
    """What a rules file means, in plain lines for `pulse rules check`."""
    window = rules.window
    lines = [
        f"window: {window.days} days; a tier counts when reached on at least "
        f"{window.min_days.passive}/{window.min_days.active}/{window.min_days.power} "
        "days (passive/active/power)",
        f"unmapped events: {rules.unmapped}",
        "tier rules (first match wins):",
    ]
    for number, rule in enumerate(rules.tiers, start=1):
        where = " and ".join(_condition_text(p, c) for p, c in rule.where.items())
        suffix = f" where {where}" if where else ""
        lines.append(f"  {number:>3}. {rule.event!r}{suffix} -> {rule.tier}")
    lines.append("touchpoints:")
    for kind, tp in rules.touchpoints.items():
        lines.append(
            f"  {kind.value}: due in {tp.due_hours:g} h, priority {tp.priority}, "
            f"playbook {tp.playbook!r}, cooldown {tp.cooldown_days:g} days"
        )
    return "\n".join(lines)
