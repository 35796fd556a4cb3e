"""The KDD Cup 2015 daily-count importer."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from worker.errors import InputError
from worker.events import parse_event
from worker.kddcup import (
    ImportSummary,
    account_from_path,
    import_file,
    iter_envelopes,
    read_labels,
)

HEADER = (
    "enrollment_id,time,event_access,event_discussion,event_navigate,"
    "event_page_close,event_problem,event_video,event_wiki"
)
ROWS = (
    "4365,2014-05-25,0,0,0,0,0,0,0",
    "4365,2014-05-26,3,1,0,2,0,1,0",
    "4365,2014-05-27,0,0,1,0,2,0,1",
    "77,2014-05-25,1,0,0,0,0,0,0",
    "77,2014-05-26,0,0,0,0,0,0,0",
    "77,2014-05-27,2,0,0,0,0,4,0",
)


def write_csv(
    tmp_path: Path,
    rows: tuple[str, ...] = ROWS,
    header: str = HEADER,
    name: str = "trainCourse6.csv",
) -> Path:
    path = tmp_path / name
    path.write_text("\n".join((header, *rows)) + "\n", encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def test_each_count_becomes_that_many_events_of_that_type(tmp_path: Path) -> None:
    envelopes = list(iter_envelopes(write_csv(tmp_path)))
    got = Counter((e["user_id"], e["timestamp"][:10], e["event"]) for e in envelopes)
    assert got == {
        ("enr-4365", "2014-05-26", "access"): 3,
        ("enr-4365", "2014-05-26", "discussion"): 1,
        ("enr-4365", "2014-05-26", "page_close"): 2,
        ("enr-4365", "2014-05-26", "video"): 1,
        ("enr-4365", "2014-05-27", "navigate"): 1,
        ("enr-4365", "2014-05-27", "problem"): 2,
        ("enr-4365", "2014-05-27", "wiki"): 1,
        ("enr-77", "2014-05-25", "access"): 1,
        ("enr-77", "2014-05-27", "access"): 2,
        ("enr-77", "2014-05-27", "video"): 4,
    }


def test_envelope_carries_account_user_ids_and_source(tmp_path: Path) -> None:
    envelopes = list(iter_envelopes(write_csv(tmp_path)))
    ids = {e["event_id"] for e in envelopes}
    assert len(ids) == len(envelopes) == 18
    assert "kdd-course6-4365-20140526-access-2" in ids
    assert "kdd-course6-77-20140527-video-3" in ids
    assert {e["account_id"] for e in envelopes} == {"course6"}
    assert all(e["properties"] == {"source": "kddcup2015"} for e in envelopes)


def test_import_summary_counts_rows_enrollments_events_and_days(tmp_path: Path) -> None:
    summary = import_file(write_csv(tmp_path), tmp_path / "out.jsonl")
    assert summary == ImportSummary(
        account="course6",
        rows=6,
        enrollments=2,
        events=18,
        first_day=date(2014, 5, 25),
        last_day=date(2014, 5, 27),
    )


def test_import_is_byte_identical_across_runs(tmp_path: Path) -> None:
    src = write_csv(tmp_path)
    import_file(src, tmp_path / "a.jsonl")
    import_file(src, tmp_path / "b.jsonl")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()


def test_output_is_sorted_by_timestamp_then_event_id(tmp_path: Path) -> None:
    dest = tmp_path / "out.jsonl"
    import_file(write_csv(tmp_path), dest)
    events = [parse_event(line, max_bytes=65536) for line in read_jsonl(dest)]
    keys = [(e.timestamp, e.event_id) for e in events]
    assert keys == sorted(keys)
    assert len(events) == 18


def test_every_output_line_parses_as_a_pulse_event(tmp_path: Path) -> None:
    dest = tmp_path / "out.jsonl"
    import_file(write_csv(tmp_path), dest)
    for line in read_jsonl(dest):
        event = parse_event(line, max_bytes=65536)
        assert event.account_id == "course6"
        assert event.user_id is not None and event.user_id.startswith("enr-")


def test_times_are_spread_within_their_own_utc_day(tmp_path: Path) -> None:
    dest = tmp_path / "out.jsonl"
    import_file(write_csv(tmp_path), dest)
    for line in read_jsonl(dest):
        obj = json.loads(line)
        assert obj["timestamp"].endswith("Z")
        assert obj["timestamp"][:10].replace("-", "") in obj["event_id"]
    seconds = {json.loads(line)["timestamp"][11:] for line in read_jsonl(dest)}
    assert len(seconds) > 1


def test_iter_envelopes_matches_the_written_file(tmp_path: Path) -> None:
    src = write_csv(tmp_path)
    dest = tmp_path / "out.jsonl"
    import_file(src, dest)
    assert [json.loads(line) for line in read_jsonl(dest)] == list(iter_envelopes(src))


def test_column_order_and_extra_columns_do_not_matter(tmp_path: Path) -> None:
    header = (
        "time,extra,event_wiki,event_video,event_problem,event_page_close,"
        "event_navigate,event_discussion,event_access,enrollment_id"
    )
    rows = ("2014-05-26,x,0,1,0,2,0,1,3,4365",)
    reordered = list(iter_envelopes(write_csv(tmp_path, rows, header)))
    original = list(iter_envelopes(write_csv(tmp_path, ROWS[1:2], name="Course6.csv")))
    assert [e["event"] for e in reordered] == [e["event"] for e in original]
    assert len(reordered) == 7


def test_an_all_zero_file_imports_no_events_but_counts_rows(tmp_path: Path) -> None:
    rows = ("1,2014-05-25,0,0,0,0,0,0,0",)
    dest = tmp_path / "out.jsonl"
    summary = import_file(write_csv(tmp_path, rows), dest)
    assert (summary.rows, summary.events) == (1, 0)
    assert dest.read_bytes() == b""


@pytest.mark.parametrize(
    ("name", "account"),
    [
        pytest.param("trainCourse1038.csv", "course1038", id="train-prefix"),
        pytest.param("testCourse7.csv", "course7", id="test-prefix"),
        pytest.param("/data/TrainCourse12.csv", "course12", id="directory-and-case"),
        pytest.param("Biology101.csv", "biology101", id="no-prefix"),
        pytest.param("train.csv", "train", id="prefix-only-falls-back-to-stem"),
    ],
)
def test_account_comes_from_the_file_name(name: str, account: str) -> None:
    assert account_from_path(name) == account


def test_a_file_name_that_gives_no_valid_id_is_rejected() -> None:
    with pytest.raises(InputError) as caught:
        account_from_path("course {1}.csv")
    assert caught.value.reason == "kddcup_format"


GOOD_ROW = "1,2014-05-25,1,0,0,0,0,0,0"


def bad(rows: tuple[str, ...], where: int, message: str, name: str) -> object:
    return pytest.param(HEADER, rows, where, message, id=name)


@pytest.mark.parametrize(
    ("header", "rows", "where", "message"),
    [
        pytest.param(
            HEADER.replace(",event_wiki", ""),
            ROWS,
            1,
            "event_wiki",
            id="missing-column",
        ),
        bad(("1,2014-05-25,1,x,0,0,0,0,0",), 2, "not an integer", "non-integer-count"),
        bad(("1,2014-05-25,1,0,0,0,0,1.5,0",), 2, "not an integer", "fractional-count"),
        bad((GOOD_ROW, "1,2014-05-26,-3,0,0,0,0,0,0"), 3, "negative", "negative-count"),
        bad(("1,2014-05-25,1,0,0",), 2, "not an integer", "short-row"),
        bad(("1,2014-13-01,1,0,0,0,0,0,0",), 2, "calendar date", "impossible-date"),
        bad(("1,2014/05/25,1,0,0,0,0,0,0",), 2, "YYYY-MM-DD", "wrong-date-format"),
        bad(("1,,1,0,0,0,0,0,0",), 2, "YYYY-MM-DD", "empty-date"),
        bad(("a b,2014-05-25,1,0,0,0,0,0,0",), 2, "enrollment_id", "enrollment-space"),
        bad(
            ("a\x1b[2Jb,2014-05-25,1,0,0,0,0,0,0",),
            2,
            "control characters",
            "enrollment-ansi-escape",
        ),
        bad(("a\x00b,2014-05-25,1,0,0,0,0,0,0",), 2, "enrollment_id", "enrollment-nul"),
        bad((GOOD_ROW, GOOD_ROW), 3, "second row", "duplicate-enrollment-day"),
        bad(("1,2014-05-25,1000000,0,0,0,0,0,0",), 2, "exceeds", "absurd-count"),
    ],
)
def test_malformed_input_is_rejected_with_file_and_line(
    tmp_path: Path, header: str, rows: tuple[str, ...], where: int, message: str
) -> None:
    src = write_csv(tmp_path, rows, header)
    dest = tmp_path / "out.jsonl"
    with pytest.raises(InputError) as caught:
        import_file(src, dest)
    assert caught.value.reason == "kddcup_format"
    assert caught.value.detail.startswith(f"trainCourse6.csv:{where}: ")
    assert message in caught.value.detail
    assert not dest.exists()


UNREADABLE = [
    pytest.param("missing", "cannot read: No such file or directory", id="missing"),
    pytest.param("directory", "cannot read: Is a directory", id="directory"),
    pytest.param("binary", "not UTF-8 text", id="binary"),
    pytest.param("huge-field", "not CSV: field larger than field limit", id="csv"),
]


def unreadable_file(tmp_path: Path, kind: str, header: str) -> Path:
    path = tmp_path / "trainCourse1.csv"
    if kind == "directory":
        path.mkdir()
    elif kind == "binary":
        path.write_bytes(header.encode() + b"\n1,2014-05-25,\xff\xfe\x81,0\n")
    elif kind == "huge-field":
        path.write_text(f'{header}\n"{"x" * 200_000}",1\n', encoding="utf-8")
    return path


@pytest.mark.parametrize(("kind", "message"), UNREADABLE)
def test_an_unreadable_file_is_an_input_error_naming_it(
    tmp_path: Path, kind: str, message: str
) -> None:
    src = unreadable_file(tmp_path, kind, HEADER)
    with pytest.raises(InputError) as caught:
        import_file(src, tmp_path / "out.jsonl")
    assert caught.value.reason == "kddcup_format"
    assert caught.value.detail.startswith(f"{src}: {message}")


@pytest.mark.parametrize(("kind", "message"), UNREADABLE)
def test_an_unreadable_labels_file_is_an_input_error_naming_it(
    tmp_path: Path, kind: str, message: str
) -> None:
    src = unreadable_file(tmp_path, kind, "enrollment_id,label")
    with pytest.raises(InputError) as caught:
        read_labels(src)
    assert caught.value.reason == "kddcup_format"
    assert caught.value.detail.startswith(f"{src}: {message}")


def test_an_empty_file_is_rejected(tmp_path: Path) -> None:
    src = tmp_path / "trainCourse1.csv"
    src.write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="empty"):
        list(iter_envelopes(src))


def test_labels_are_keyed_by_enrollment_user_id(tmp_path: Path) -> None:
    path = tmp_path / "truth_train.csv"
    path.write_text("enrollment_id,label\n1,0\n7,1\n\n4365,1\n", encoding="utf-8")
    assert read_labels(path) == {"enr-1": 0, "enr-7": 1, "enr-4365": 1}


def test_labels_may_be_keyed_by_user_id_directly(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("user_id,label\nuser-01-001,1\nuser-01-002,0\n", encoding="utf-8")
    assert read_labels(path) == {"user-01-001": 1, "user-01-002": 0}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("id,label\n1,0\n", "header", id="unknown-header"),
        pytest.param("", "header", id="empty-file"),
        pytest.param("enrollment_id,label\n1,2\n", ":2: label", id="label-not-binary"),
        pytest.param("enrollment_id,label\n1\n", ":2: label", id="label-missing"),
        pytest.param(
            "enrollment_id,label\n1,0\n1,1\n", ":3: second label", id="duplicate-id"
        ),
    ],
)
def test_malformed_labels_are_rejected(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "truth_train.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        read_labels(path)
