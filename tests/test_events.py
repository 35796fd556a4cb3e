"""Parsing raw records into events, and the time checks (DESIGN §2)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.errors import InputError
from worker.events import (
    ID_PATTERN,
    MAX_EPOCH_MS,
    Event,
    check_late,
    check_not_future,
    parse_event,
)

MAX_BYTES = 65_536
NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
LATENESS = timedelta(hours=1)
SKEW = timedelta(minutes=5)
CANONICAL: dict[str, Any] = {
    "event_id": "evt-1",
    "user_id": "user-1",
    "account_id": "acct-1",
    "event": "report.run",
    "timestamp": "2024-03-01T10:00:00+00:00",
    "properties": {"scheduled": False, "rows": 12},
}
SEGMENT: dict[str, Any] = {
    "type": "track",
    "messageId": "msg-1",
    "userId": "user-1",
    "event": "Report Run",
    "timestamp": "2024-03-01T10:00:00.000Z",
    "properties": {"rows": 12},
    "context": {"groupId": "acct-1"},
}


def encode(obj: object) -> bytes:
    return json.dumps(obj).encode()


def canonical(**changes: Any) -> bytes:
    return encode({**CANONICAL, **changes})


def without(obj: dict[str, Any], key: str) -> bytes:
    return encode({k: v for k, v in obj.items() if k != key})


def reject(raw: bytes | None, max_bytes: int = MAX_BYTES) -> InputError:
    with pytest.raises(InputError) as caught:
        parse_event(raw, max_bytes)
    return caught.value


def event_at(ts: datetime) -> Event:
    return parse_event(canonical(timestamp=ts.isoformat()), MAX_BYTES)


def test_canonical_envelope_is_parsed_into_an_event() -> None:
    event = parse_event(canonical(), MAX_BYTES)
    assert event.model_dump() == {
        "event_id": "evt-1",
        "user_id": "user-1",
        "account_id": "acct-1",
        "event": "report.run",
        "timestamp": datetime(2024, 3, 1, 10, tzinfo=UTC),
        "properties": {"scheduled": False, "rows": 12},
    }


def test_user_id_and_properties_are_optional() -> None:
    raw = encode(
        {"event_id": "e", "account_id": "a", "event": "crm.updated", "timestamp": 0}
    )
    event = parse_event(raw, MAX_BYTES)
    assert event.user_id is None
    assert event.properties == {}


def test_unknown_envelope_fields_are_ignored() -> None:
    event = parse_event(canonical(source="crm", version=3), MAX_BYTES)
    assert event.event_id == "evt-1"


def test_segment_track_call_maps_onto_the_envelope() -> None:
    event = parse_event(encode(SEGMENT), MAX_BYTES)
    assert (event.event_id, event.user_id, event.account_id, event.event) == (
        "msg-1",
        "user-1",
        "acct-1",
        "Report Run",
    )
    assert event.timestamp == datetime(2024, 3, 1, 10, tzinfo=UTC)
    assert event.properties == {"rows": 12}


def test_segment_account_falls_back_to_the_account_id_property() -> None:
    raw = encode(
        {**SEGMENT, "context": {}, "properties": {"account_id": "acct-9", "rows": 1}}
    )
    assert parse_event(raw, MAX_BYTES).account_id == "acct-9"


def test_segment_group_id_wins_over_the_account_id_property() -> None:
    raw = encode({**SEGMENT, "properties": {"account_id": "acct-9"}})
    assert parse_event(raw, MAX_BYTES).account_id == "acct-1"


def test_segment_call_without_user_is_an_account_level_event() -> None:
    assert parse_event(without(SEGMENT, "userId"), MAX_BYTES).user_id is None


def test_segment_call_without_any_account_is_rejected() -> None:
    error = reject(without(SEGMENT, "context"))
    assert error.reason == "invalid_envelope"
    assert "account_id" in error.detail


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        pytest.param(
            1_709_287_200_000, datetime(2024, 3, 1, 10, tzinfo=UTC), id="epoch-ms"
        ),
        pytest.param(
            1_709_287_200_250.0,
            datetime(2024, 3, 1, 10, 0, 0, 250_000, tzinfo=UTC),
            id="epoch-ms-float",
        ),
        pytest.param(0, datetime(1970, 1, 1, tzinfo=UTC), id="epoch-zero"),
        pytest.param(
            "2024-03-01T10:00:00Z", datetime(2024, 3, 1, 10, tzinfo=UTC), id="iso-z"
        ),
        pytest.param(
            "2024-03-01T12:30:00+02:30",
            datetime(2024, 3, 1, 10, tzinfo=UTC),
            id="iso-positive-offset",
        ),
        pytest.param(
            "2024-02-29T22:00:00-12:00",
            datetime(2024, 3, 1, 10, tzinfo=UTC),
            id="iso-negative-offset-crosses-day",
        ),
    ],
)
def test_timestamp_is_normalised_to_utc(timestamp: object, expected: datetime) -> None:
    parsed = parse_event(canonical(timestamp=timestamp), MAX_BYTES).timestamp
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


def test_largest_epoch_milliseconds_is_the_last_moment_of_year_9999() -> None:
    parsed = parse_event(canonical(timestamp=MAX_EPOCH_MS), MAX_BYTES).timestamp
    last = datetime(9999, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC)
    assert abs(parsed - last) < timedelta(milliseconds=1)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(None, id="none"),
        pytest.param(b"", id="zero-bytes"),
        pytest.param(b"  \n\t ", id="whitespace"),
    ],
)
def test_record_without_a_value_is_rejected_as_empty(raw: bytes | None) -> None:
    assert reject(raw).reason == "empty"


def test_record_over_the_size_limit_is_rejected_as_too_large() -> None:
    raw = canonical()
    assert reject(raw, max_bytes=len(raw) - 1).reason == "too_large"
    assert parse_event(raw, max_bytes=len(raw)).event_id == "evt-1"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"{not json", id="syntax"),
        pytest.param(b'{"event_id": "a",}', id="trailing-comma"),
        pytest.param(b"\xff\xfe\xfa", id="not-utf8"),
        pytest.param(
            canonical()[:-1] + b', "n": ' + b"1" * 4_301 + b"}",
            id="integer-over-python-digit-limit",
        ),
        pytest.param(canonical()[:-1] + b', "n": NaN}', id="nan"),
        pytest.param(canonical()[:-1] + b', "n": Infinity}', id="infinity"),
        pytest.param(canonical()[:-1] + b', "n": -Infinity}', id="minus-infinity"),
        pytest.param(canonical()[:-1] + b', "n": 1e400}', id="float-overflow"),
        pytest.param(canonical()[:-1] + b', "n": -1e400}', id="negative-overflow"),
        pytest.param(
            canonical()[:-2] + b', "deep": [{"calls": 1e400}]}}',
            id="overflow-inside-properties",
        ),
        pytest.param(
            b'{"event_id": "e", "account_id": "a", "event": "x", "timestamp": NaN}',
            id="nan-timestamp",
        ),
    ],
)
def test_undecodable_record_is_rejected_as_not_json(raw: bytes) -> None:
    assert reject(raw).reason == "not_json"


def test_float_that_underflows_to_zero_is_still_json() -> None:
    event = parse_event(canonical(properties={"tiny": 1e-400}), MAX_BYTES)
    assert event.properties == {"tiny": 0.0}


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"[" * 5_000 + b"]" * 5_000, id="nested-arrays"),
        pytest.param(
            canonical()[:-1] + b', "extra": ' + b'{"a": ' * 5_000 + b"1" + b"}" * 5_001,
            id="nested-objects-in-envelope",
        ),
    ],
)
def test_deeply_nested_json_is_rejected_not_raised(raw: bytes) -> None:
    """A record within the size limit must go to the DLQ, not crash the batch."""
    assert reject(raw).reason == "not_json"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"[1, 2]", id="array"),
        pytest.param(b"42", id="number"),
        pytest.param(b'"event"', id="string"),
        pytest.param(b"null", id="null"),
    ],
)
def test_json_that_is_not_an_object_is_rejected_as_not_object(raw: bytes) -> None:
    assert reject(raw).reason == "not_object"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        pytest.param(without(CANONICAL, "event_id"), "event_id", id="missing-event-id"),
        pytest.param(
            without(CANONICAL, "account_id"), "account_id", id="missing-account"
        ),
        pytest.param(without(CANONICAL, "event"), "event", id="missing-event"),
        pytest.param(
            without(CANONICAL, "timestamp"), "timestamp", id="missing-timestamp"
        ),
        pytest.param(canonical(event_id=""), "event_id", id="empty-event-id"),
        pytest.param(canonical(event_id=17), "event_id", id="numeric-event-id"),
        pytest.param(canonical(event_id="x" * 129), "event_id", id="event-id-too-long"),
        pytest.param(
            canonical(account_id="{acct-1}"), "account_id", id="braces-in-account"
        ),
        pytest.param(canonical(account_id="acct 1"), "account_id", id="space-in-id"),
        pytest.param(canonical(user_id="user\t1"), "user_id", id="tab-in-user"),
        pytest.param(canonical(user_id="user-1\n"), "user_id", id="newline-in-user"),
        pytest.param(
            canonical(timestamp="0001-01-01T00:30:00Z"), "timestamp", id="year-1"
        ),
        pytest.param(
            canonical(timestamp="1969-12-31T23:59:59Z"), "timestamp", id="before-1970"
        ),
        pytest.param(
            canonical(timestamp="1970-01-01T01:00:00+02:00"),
            "timestamp",
            id="before-1970-in-utc",
        ),
        pytest.param(
            canonical(timestamp="1709287200000"), "timestamp", id="epoch-ms-string"
        ),
        pytest.param(canonical(event=""), "event", id="empty-event-name"),
        pytest.param(canonical(event="e" * 201), "event", id="event-name-too-long"),
        pytest.param(canonical(timestamp=True), "timestamp", id="bool-timestamp"),
        pytest.param(
            canonical(timestamp="2024-03-01T10:00:00"), "timestamp", id="naive-iso"
        ),
        pytest.param(canonical(timestamp="2024-03-01"), "timestamp", id="date-only"),
        pytest.param(canonical(timestamp="yesterday"), "timestamp", id="not-iso"),
        pytest.param(canonical(timestamp=-1), "timestamp", id="negative-epoch"),
        pytest.param(
            canonical(timestamp=MAX_EPOCH_MS + 1), "timestamp", id="epoch-past-9999"
        ),
        pytest.param(canonical(timestamp=None), "timestamp", id="null-timestamp"),
        pytest.param(canonical(properties=[1]), "properties", id="properties-list"),
    ],
)
def test_invalid_envelope_names_the_offending_field(raw: bytes, field: str) -> None:
    error = reject(raw)
    assert error.reason == "invalid_envelope"
    assert error.detail.startswith(field)


@pytest.mark.parametrize(
    "timestamp",
    [
        pytest.param("0001-01-01T00:00:00+01:00", id="before-year-1-in-utc"),
        pytest.param("9999-12-31T23:30:00-01:00", id="after-year-9999-in-utc"),
    ],
)
def test_iso_timestamp_outside_the_utc_calendar_is_rejected_not_raised(
    timestamp: str,
) -> None:
    error = reject(canonical(timestamp=timestamp))
    assert error.reason == "invalid_envelope"


CONTROL_CHARACTERS = [
    pytest.param("\x00", id="nul"),
    pytest.param("\x1b[31m", id="ansi-escape"),
    pytest.param("\x1c", id="file-separator"),
    pytest.param("\x1f", id="unit-separator"),
    pytest.param("\x7f", id="del"),
    pytest.param("\x08", id="backspace"),
]


@pytest.mark.parametrize("field", ["event_id", "account_id", "user_id"])
@pytest.mark.parametrize("control", CONTROL_CHARACTERS)
def test_ids_with_control_characters_are_rejected(field: str, control: str) -> None:
    """\x1f separates account and user in the Redis schedule; none may pass."""
    error = reject(canonical(**{field: f"id{control}x"}))
    assert error.reason == "invalid_envelope"
    assert error.detail.startswith(field)


def test_ids_may_hold_punctuation_and_non_ascii_letters() -> None:
    event = parse_event(canonical(account_id="acme:eu/ü-é.1|x"), MAX_BYTES)
    assert event.account_id == "acme:eu/ü-é.1|x"


@given(st.text(max_size=3).map(lambda s: f"id{s}"))
def test_python_and_pydantic_read_the_id_pattern_alike(candidate: str) -> None:
    """The KDD importer checks ids with Python's `re`, the envelope with pydantic's."""
    python_accepts = re.fullmatch(ID_PATTERN, candidate) is not None
    try:
        parse_event(canonical(event_id=candidate), MAX_BYTES)
    except InputError:
        pydantic_accepts = False
    else:
        pydantic_accepts = True
    assert python_accepts is pydantic_accepts


def test_first_moment_of_1970_is_accepted() -> None:
    event = parse_event(canonical(timestamp="1970-01-01T00:00:00Z"), MAX_BYTES)
    assert event.timestamp == datetime(1970, 1, 1, tzinfo=UTC)


def test_epoch_milliseconds_as_a_string_are_rejected_saying_use_a_number() -> None:
    error = reject(canonical(timestamp="1709287200000"))
    assert "epoch milliseconds must be a JSON number, not a string" in error.detail


def test_reject_detail_lists_at_most_three_problems() -> None:
    error = reject(encode({"properties": 1}))
    assert error.detail.count(";") == 2


@pytest.mark.parametrize(
    "ts",
    [
        pytest.param(NOW, id="now"),
        pytest.param(NOW + SKEW, id="exactly-skew-ahead"),
        pytest.param(NOW - LATENESS, id="exactly-lateness-behind"),
    ],
)
def test_event_within_skew_and_lateness_passes_the_time_checks(ts: datetime) -> None:
    check_not_future(event_at(ts), NOW, SKEW)
    check_late(event_at(ts), NOW, LATENESS)


def test_event_beyond_the_skew_is_rejected_as_in_future() -> None:
    event = event_at(NOW + SKEW + timedelta(microseconds=1))
    with pytest.raises(InputError) as caught:
        check_not_future(event, NOW, SKEW)
    assert caught.value.reason == "in_future"


def test_event_older_than_lateness_is_rejected_as_too_late() -> None:
    event = event_at(NOW - LATENESS - timedelta(microseconds=1))
    with pytest.raises(InputError) as caught:
        check_late(event, NOW, LATENESS)
    assert caught.value.reason == "too_late"


def test_future_check_alone_accepts_old_events() -> None:
    check_not_future(event_at(NOW - timedelta(days=400)), NOW, SKEW)


def test_future_check_near_the_end_of_year_9999_does_not_overflow() -> None:
    last = datetime(9999, 12, 31, 23, 59, tzinfo=UTC)
    check_not_future(event_at(last), last, timedelta(days=90))


def test_future_check_alone_rejects_events_beyond_the_skew() -> None:
    with pytest.raises(InputError) as caught:
        check_not_future(event_at(NOW + timedelta(hours=1)), NOW, SKEW)
    assert caught.value.reason == "in_future"


@pytest.mark.parametrize(
    "char", [pytest.param("\x85", id="next-line"), pytest.param("\x9b", id="csi")]
)
def test_c1_control_characters_in_ids_are_rejected(char: str) -> None:
    raw = json.dumps(
        {
            "event_id": "e1",
            "account_id": f"acme{char}",
            "user_id": "u1",
            "event": "x",
            "timestamp": "2024-03-01T00:00:00Z",
        }
    ).encode()
    with pytest.raises(InputError) as caught:
        parse_event(raw, 65536)
    assert caught.value.reason == "invalid_envelope"
