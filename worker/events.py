"""The event envelope (DESIGN §2): parsing raw Kafka records into events.

Two shapes are accepted: Pulse's canonical envelope and Segment's `track`
call. Anything else raises `InputError` with a stable reason code; the caller
sends the record to the dead-letter topic.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from worker.errors import InputError

# Ids end up inside Redis keys: braces would break the account hash tag,
# whitespace makes keys unreadable in redis-cli, and control characters could
# forge the schedule's \x1f member separator or inject terminal escapes. C0 and
# DEL are spelt out because pydantic's (Rust) `\s` does not cover \x1c-\x1f.
ID_PATTERN = r"^[^\x00-\x20\x7f-\x9f\s{}]{1,128}$"
MAX_EPOCH_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
# Earlier times would underflow the date arithmetic done against the clock.
MIN_TIMESTAMP = datetime(1970, 1, 1, tzinfo=UTC)
_NUMBER_TEXT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


class Event(BaseModel):
    """One product-usage event, validated and normalised to UTC."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: str = Field(pattern=ID_PATTERN)
    account_id: str = Field(pattern=ID_PATTERN)
    user_id: str | None = Field(default=None, pattern=ID_PATTERN)
    event: str = Field(min_length=1, max_length=200)
    timestamp: datetime
    properties: dict[str, Any] = Field(default_factory=dict)

    @field_validator("timestamp", mode="before")
    @classmethod
    def _parse_timestamp(cls, value: object) -> datetime:
        return parse_timestamp(value)


def parse_timestamp(value: object) -> datetime:
    """Read ISO-8601 with an offset, or epoch milliseconds, as an aware UTC time."""
    if isinstance(value, bool):
        raise ValueError("timestamp must be ISO-8601 or epoch milliseconds")
    if isinstance(value, int | float):
        if not 0 <= value <= MAX_EPOCH_MS:
            raise ValueError("epoch milliseconds out of range")
        return datetime.fromtimestamp(value / 1000, UTC)
    if isinstance(value, str):
        return _parse_iso(value)
    raise ValueError("timestamp must be ISO-8601 or epoch milliseconds")


def _parse_iso(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        if _NUMBER_TEXT.fullmatch(value):
            raise ValueError(
                "epoch milliseconds must be a JSON number, not a string"
            ) from None
        raise ValueError("timestamp is not ISO-8601") from None
    if parsed.tzinfo is None:
        raise ValueError("timestamp has no UTC offset")
    try:
        utc = parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError("timestamp is outside the UTC calendar") from None
    if utc < MIN_TIMESTAMP:
        raise ValueError("timestamp is before 1970-01-01T00:00:00Z")
    return utc


def _from_segment(obj: dict[str, Any]) -> dict[str, Any]:
    properties = obj.get("properties") or {}
    context = obj.get("context") or {}
    account = None
    if isinstance(context, dict):
        account = context.get("groupId")
    if account is None and isinstance(properties, dict):
        account = properties.get("account_id")
    return {
        "event_id": obj.get("messageId"),
        "user_id": obj.get("userId"),
        "account_id": account,
        "event": obj.get("event"),
        "timestamp": obj.get("timestamp"),
        "properties": properties,
    }


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:3]:
        where = ".".join(str(p) for p in item["loc"]) or "record"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise ValueError(f"number {text[:40]} is too large for a float")
    return number


def parse_event(raw: bytes | None, max_bytes: int) -> Event:
    """Turn one Kafka record value into an `Event`, or raise `InputError`."""
    if raw is None or not raw.strip():
        raise InputError("empty", "record has no value")
    if len(raw) > max_bytes:
        raise InputError("too_large", f"{len(raw)} bytes exceeds {max_bytes}")
    try:
        obj = json.loads(
            raw, parse_constant=_refuse_constant, parse_float=_finite_float
        )
    except ValueError as exc:
        # Also undecodable bytes and integers past Python's digit limit.
        raise InputError("not_json", str(exc)) from exc
    except RecursionError:
        raise InputError("not_json", "nested too deeply") from None
    if not isinstance(obj, dict):
        raise InputError(
            "not_object", f"expected a JSON object, got {type(obj).__name__}"
        )

    fields = _from_segment(obj) if "messageId" in obj else obj
    try:
        return Event.model_validate(fields)
    except ValidationError as exc:
        raise InputError("invalid_envelope", _describe(exc)) from exc


def check_not_future(event: Event, now: datetime, skew: timedelta) -> None:
    """Reject an event stamped further ahead of `now` than the skew allows."""
    # Subtracting from the event keeps a clock near year 9999 from overflowing.
    if event.timestamp - skew > now:
        raise InputError(
            "in_future",
            f"timestamp {event.timestamp.isoformat()} is more than {skew} "
            f"after {now.isoformat()}",
        )


def check_late(event: Event, now: datetime, lateness: timedelta) -> None:
    """Reject an event stamped further behind `now` than the lateness allows."""
    if event.timestamp < now - lateness:
        raise InputError(
            "too_late",
            f"timestamp {event.timestamp.isoformat()} is more than {lateness} "
            f"before {now.isoformat()}",
        )
