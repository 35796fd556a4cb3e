"""Importer for the public KDD Cup 2015 daily-count format (XuetangX MOOC logs).

Input: one CSV per course, named like `trainCourse1038.csv`, with the header

    enrollment_id,time,event_access,event_discussion,event_navigate,
    event_page_close,event_problem,event_video,event_wiki

and one row per (enrollment, day); `time` is `YYYY-MM-DD`, each `event_*` column
is that day's count of that event type. Column order does not matter and extra
columns are ignored.

Mapping to Pulse envelopes:

- `account_id` is the course, taken from the file name (`course1038`);
- `user_id` is `enr-<enrollment_id>`;
- `event` is the column name without `event_` (`access`, `page_close`, ...);
- a count of n gives n events with `event_id`
  `kdd-<account>-<enrollment>-<YYYYMMDD>-<event>-<i>` for i = 0..n-1, so a
  replay of the same file produces the same ids and is idempotent;
- `properties` is `{"source": "kddcup2015"}`.

The data has no time of day. Timestamps are therefore SPREAD, NOT REAL: each
event is placed at `crc32(event_id) mod 86400` seconds after midnight UTC of
its day. The spread is deterministic, so output is byte-identical across runs,
but order within a day says nothing about what the learner actually did first.

`import_file` writes JSON lines sorted by (timestamp, event_id), because the
worker judges lateness against event time. A file is read into memory whole.
"""

from __future__ import annotations

import csv
import json
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from worker.errors import InputError
from worker.events import ID_PATTERN
from worker.tiers import SECONDS_PER_DAY

REASON = "kddcup_format"
SOURCE = "kddcup2015"
EVENT_COLUMNS = (
    "event_access",
    "event_discussion",
    "event_navigate",
    "event_page_close",
    "event_problem",
    "event_video",
    "event_wiki",
)
REQUIRED_COLUMNS = ("enrollment_id", "time", *EVENT_COLUMNS)
# The real data peaks below 200 a day; a huge count means a corrupt file and
# would otherwise expand into that many events in memory.
MAX_DAILY_COUNT = 100_000
MAX_ID_LENGTH = 128
ID_RULE = "is empty or has whitespace, control characters or braces"
LABEL_ID_COLUMNS = ("enrollment_id", "user_id")

_ID_RE = re.compile(ID_PATTERN)
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_COUNT_RE = re.compile(r"-?\d+", re.ASCII)
_PREFIX_RE = re.compile(r"^(?:train|test)(?=.)")

Envelope = dict[str, Any]


@dataclass(frozen=True)
class DayCounts:
    """One validated CSV row: an enrollment's event counts on one day."""

    line: int
    enrollment: str
    day: date
    counts: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class ImportSummary:
    """What one imported file contained; days span every row, zero rows included."""

    account: str
    rows: int
    enrollments: int
    events: int
    first_day: date | None
    last_day: date | None


def account_from_path(path: str | Path) -> str:
    """Course account id from a file name: `trainCourse1038.csv` -> `course1038`."""
    stem = Path(path).stem.lower()
    account = _PREFIX_RE.sub("", stem)
    if not _ID_RE.fullmatch(account):
        detail = f"{Path(path).name}: file name gives no valid account id"
        raise InputError(REASON, detail)
    return account


def event_name(column: str) -> str:
    """Pulse event name for a count column: `event_page_close` -> `page_close`."""
    return column.removeprefix("event_")


def day_timestamp(day: date, seconds: int) -> str:
    """ISO-8601 UTC time `seconds` after midnight of `day`, with a trailing `Z`."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{day.isoformat()}T{hours:02d}:{minutes:02d}:{secs:02d}Z"


def spread_timestamp(day: date, event_id: str) -> str:
    """ISO-8601 UTC time on `day` at a stable, hash-derived second of that day."""
    return day_timestamp(day, zlib.crc32(event_id.encode()) % SECONDS_PER_DAY)


def _fail(name: str, line: int, reason: str) -> InputError:
    return InputError(REASON, f"{name}:{line}: {reason}")


def _unreadable(path: str | Path, exc: Exception) -> InputError:
    if isinstance(exc, OSError):
        reason = f"cannot read: {exc.strerror or exc}"
    elif isinstance(exc, UnicodeDecodeError):
        reason = "not UTF-8 text"
    else:
        reason = f"not CSV: {exc}"
    return InputError(REASON, f"{path}: {reason}")


def _check_header(name: str, header: list[str] | None) -> None:
    if header is None:
        raise _fail(name, 1, "file is empty, expected a header row")
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise _fail(name, 1, f"missing column(s) {', '.join(missing)}")


def _parse_count(raw: str, column: str) -> int:
    if not _COUNT_RE.fullmatch(raw):
        raise ValueError(f"{column}: count {raw!r} is not an integer")
    count = int(raw)
    if count < 0:
        raise ValueError(f"{column}: count {count} is negative")
    if count > MAX_DAILY_COUNT:
        raise ValueError(f"{column}: count {count} exceeds {MAX_DAILY_COUNT}")
    return count


def _parse_day(raw: str) -> date:
    if not _DATE_RE.fullmatch(raw):
        raise ValueError(f"time {raw!r} is not YYYY-MM-DD")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"time {raw!r} is not a calendar date") from None


def _parse_enrollment(raw: str) -> str:
    if not _ID_RE.fullmatch(raw):
        raise ValueError(f"enrollment_id {raw!r} {ID_RULE}")
    return raw


def _parse_row(line: int, row: dict[str, str]) -> DayCounts:
    values = {k: (row.get(k) or "").strip() for k in REQUIRED_COLUMNS}
    counts = tuple(
        (event_name(c), n) for c in EVENT_COLUMNS if (n := _parse_count(values[c], c))
    )
    return DayCounts(
        line=line,
        enrollment=_parse_enrollment(values["enrollment_id"]),
        day=_parse_day(values["time"]),
        counts=counts,
    )


def iter_rows(path: str | Path) -> Iterator[DayCounts]:
    """Yield the file's validated rows in file order; `InputError` at the first bad."""
    try:
        yield from _read_rows(path)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise _unreadable(path, exc) from exc


def _read_rows(path: str | Path) -> Iterator[DayCounts]:
    name = Path(path).name
    seen: set[tuple[str, date]] = set()
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        header = [f.strip() for f in reader.fieldnames] if reader.fieldnames else None
        _check_header(name, header)
        reader.fieldnames = header
        for row in reader:
            try:
                parsed = _parse_row(reader.line_num, row)
            except ValueError as exc:
                raise _fail(name, reader.line_num, str(exc)) from None
            key = (parsed.enrollment, parsed.day)
            if key in seen:
                detail = f"second row for enrollment {key[0]} on {key[1]}"
                raise _fail(name, reader.line_num, detail)
            seen.add(key)
            yield parsed


def row_envelopes(account: str, row: DayCounts) -> Iterator[Envelope]:
    """Expand one row's counts into envelopes; `ValueError` if an id grows too long."""
    stamp = f"{row.day:%Y%m%d}"
    for event, count in row.counts:
        for index in range(count):
            event_id = f"kdd-{account}-{row.enrollment}-{stamp}-{event}-{index}"
            if len(event_id) > MAX_ID_LENGTH:
                raise ValueError(f"event_id {event_id!r} is over {MAX_ID_LENGTH} chars")
            yield {
                "event_id": event_id,
                "account_id": account,
                "user_id": f"enr-{row.enrollment}",
                "event": event,
                "timestamp": spread_timestamp(row.day, event_id),
                "properties": {"source": SOURCE},
            }


def _time_key(envelope: Envelope) -> tuple[str, str]:
    return (envelope["timestamp"], envelope["event_id"])


def _collect(path: str | Path) -> tuple[list[Envelope], ImportSummary]:
    account = account_from_path(path)
    name = Path(path).name
    envelopes: list[Envelope] = []
    enrollments: set[str] = set()
    days: set[date] = set()
    rows = 0
    for row in iter_rows(path):
        rows += 1
        enrollments.add(row.enrollment)
        days.add(row.day)
        try:
            envelopes.extend(row_envelopes(account, row))
        except ValueError as exc:
            raise _fail(name, row.line, str(exc)) from None
    envelopes.sort(key=_time_key)
    summary = ImportSummary(
        account=account,
        rows=rows,
        enrollments=len(enrollments),
        events=len(envelopes),
        first_day=min(days, default=None),
        last_day=max(days, default=None),
    )
    return envelopes, summary


def iter_envelopes(path: str | Path) -> Iterator[Envelope]:
    """Yield every envelope of a KDD file in (timestamp, event_id) order."""
    envelopes, _ = _collect(path)
    yield from envelopes


def encode(envelope: Envelope) -> str:
    """One envelope as a compact JSON line, newline included."""
    return json.dumps(envelope, separators=(",", ":")) + "\n"


def write_jsonl(envelopes: Iterable[Envelope], dest: str | Path) -> None:
    """Write envelopes to `dest` as JSON lines, in the order given."""
    with open(dest, "w", encoding="utf-8", newline="\n") as out:
        out.writelines(encode(e) for e in envelopes)


def import_file(src: str | Path, dest: str | Path) -> ImportSummary:
    """Convert a KDD daily-count CSV into time-sorted JSON-lines envelopes at `dest`."""
    envelopes, summary = _collect(src)
    write_jsonl(envelopes, dest)
    return summary


def _label_key(column: str, raw: str) -> str:
    if not _ID_RE.fullmatch(raw):
        raise ValueError(f"{column} {raw!r} {ID_RULE}")
    return f"enr-{raw}" if column == "enrollment_id" else raw


def _parse_label(raw: str) -> int:
    if raw not in ("0", "1"):
        raise ValueError(f"label {raw!r} is not 0 or 1")
    return int(raw)


def _check_label_header(name: str, header: list[str]) -> str:
    if len(header) < 2 or header[0] not in LABEL_ID_COLUMNS or header[1] != "label":
        raise _fail(name, 1, "expected header enrollment_id,label or user_id,label")
    return header[0]


def read_labels(path: str | Path) -> dict[str, int]:
    """Labels by user_id from an `enrollment_id,label` or `user_id,label` CSV."""
    try:
        return _read_labels(path)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise _unreadable(path, exc) from exc


def _read_labels(path: str | Path) -> dict[str, int]:
    name = Path(path).name
    labels: dict[str, int] = {}
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        column = _check_label_header(name, [h.strip() for h in next(reader, [])])
        for row in reader:
            if not row:
                continue
            try:
                key = _label_key(column, row[0].strip())
                label = _parse_label(row[1].strip() if len(row) > 1 else "")
            except ValueError as exc:
                raise _fail(name, reader.line_num, str(exc)) from None
            if key in labels:
                raise _fail(name, reader.line_num, f"second label for {key}")
            labels[key] = label
    return labels
