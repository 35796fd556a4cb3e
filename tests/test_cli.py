"""The `pulse` command's answers to user errors: a message and exit code 2."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import worker.app
from worker.cli import main
from worker.rules import Rules
from worker.settings import Settings

REPO = Path(__file__).resolve().parent.parent
RULES = REPO / "rules" / "engagement.yaml"
KDD_CSV = (
    "enrollment_id,time,event_access,event_discussion,event_navigate,"
    "event_page_close,event_problem,event_video,event_wiki\n"
    "4365,2014-05-26,3,1,0,2,0,1,0\n"
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hide the host's PULSE_* variables and run from the repository root."""
    for name in list(os.environ):
        if name.upper().startswith("PULSE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(REPO)


def fails(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run `pulse argv`, expect exit code 2 and no traceback; return stderr."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("pulse: error: ")
    assert "Traceback" not in err
    return err.strip()


def usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run `pulse argv`, expect argparse to refuse it; return stderr."""
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    return capsys.readouterr().err


def test_rules_check_prints_ok_and_the_rules(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["rules", "check", str(RULES)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{RULES}: ok"
    assert "tier rules (first match wins):" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(
            b"tiers: []\n", "tiers: List should have at least 1 item", id="bad"
        ),
        pytest.param(b"\xff\xfe\x00\x81", "(file): not UTF-8 text", id="binary"),
        pytest.param(
            b"[" * 20_000, "yaml: not valid YAML: nested too deeply", id="deep"
        ),
        pytest.param(b"? [1]\n: 2\n", "line 1: not valid YAML", id="unhashable-key"),
    ],
)
def test_rules_check_reports_file_field_and_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_bytes(content)
    assert fails(["rules", "check", str(path)], capsys).startswith(
        f"pulse: error: {path}: {message}"
    )


def test_rules_check_on_a_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "nope.yaml"
    err = fails(["rules", "check", str(path)], capsys)
    assert err == f"pulse: error: {path}: (file): No such file or directory"


def test_import_kddcup_writes_events_and_a_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "trainCourse6.csv"
    source.write_text(KDD_CSV, encoding="utf-8")
    assert main(["import", "kddcup", str(source)]) == 0
    dest = tmp_path / "trainCourse6.events.jsonl"
    assert capsys.readouterr().out == (
        f"{source} -> {dest}: 7 events from 1 rows, 1 enrollments\n"
    )
    lines = dest.read_text(encoding="utf-8").splitlines()
    assert {json.loads(line)["account_id"] for line in lines} == {"course6"}


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        pytest.param("missing", "cannot read: No such file or directory", id="missing"),
        pytest.param("directory", "cannot read: Is a directory", id="directory"),
        pytest.param("binary", "not UTF-8 text", id="binary"),
    ],
)
def test_import_kddcup_on_an_unreadable_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, message: str
) -> None:
    source = tmp_path / "trainCourse6.csv"
    if kind == "directory":
        source.mkdir()
    elif kind == "binary":
        source.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x81")
    err = fails(["import", "kddcup", str(source), "-o", str(tmp_path / "o")], capsys)
    assert err == f"pulse: error: kddcup_format: {source}: {message}"


def test_import_kddcup_into_a_missing_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "trainCourse6.csv"
    source.write_text(KDD_CSV, encoding="utf-8")
    dest = tmp_path / "absent" / "out.jsonl"
    err = fails(["import", "kddcup", str(source), "-o", str(dest)], capsys)
    assert err == f"pulse: error: {dest}: cannot write: No such file or directory"


@pytest.mark.parametrize(
    ("day", "message"),
    [
        pytest.param("2014-13-01", "is not a calendar date", id="month-13"),
        pytest.param("2014-02-30", "is not a calendar date", id="february-30"),
        pytest.param("20140101", "is not YYYY-MM-DD", id="basic-format"),
        pytest.param("yesterday", "is not YYYY-MM-DD", id="word"),
        pytest.param("1969-12-31", "is before 1970", id="before-1970"),
    ],
)
def test_account_with_an_invalid_day_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], day: str, message: str
) -> None:
    err = usage_error(["account", "acme", "--day", day], capsys)
    assert f"argument --day: '{day}' {message}" in err
    assert "Traceback" not in err


class NoAccounts:
    """A store that has seen no account; anything else it is asked is a failure."""

    class Client:
        async def aclose(self) -> None:
            return None

    client = Client()

    async def accounts(self) -> list[str]:
        return []


def test_account_with_no_recorded_activity_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def build_store(settings: Settings, rules: Rules) -> NoAccounts:
        return NoAccounts()

    monkeypatch.setattr(worker.app, "build_store", build_store)
    assert main(["account", "acmee", "--day", "2024-03-01"]) == 0
    out = capsys.readouterr().out
    assert out == "No activity is recorded for account acmee.\n"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(False, "no such file", id="missing"),
        pytest.param(True, "not a file", id="directory"),
    ],
)
def test_produce_needs_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: bool, message: str
) -> None:
    path = tmp_path / "events"
    if make:
        path.mkdir()
    assert fails(["produce", str(path)], capsys) == f"pulse: error: {path}: {message}"


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["rules", "check"], id="rules-check"),
        pytest.param(["produce", "events.jsonl"], id="produce"),
        pytest.param(["account", "acme"], id="account"),
    ],
)
def test_unknown_pulse_variable_stops_the_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    monkeypatch.setenv("PULSE_KAFKA_BOOTSRAP", "broker:9092")
    err = fails(argv, capsys)
    assert err == "pulse: error: unknown settings: PULSE_KAFKA_BOOTSRAP"


def test_invalid_setting_stops_the_command_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PULSE_GROUP_ID", "")
    assert fails(["rules", "check"], capsys).startswith(
        "pulse: error: PULSE_GROUP_ID: "
    )


@pytest.mark.parametrize(
    ("argv", "variable", "origin"),
    [
        pytest.param(["demo", "--data", "absent.csv"], None, "--data", id="flag"),
        pytest.param(["demo"], "absent.csv", "PULSE_DEMO_DATA", id="variable"),
    ],
)
def test_demo_with_a_named_data_file_that_is_missing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    variable: str | None,
    origin: str,
) -> None:
    if variable:
        monkeypatch.setenv("PULSE_DEMO_DATA", variable)
    err = fails([*argv, "--out", str(tmp_path / "out")], capsys)
    assert err == f"pulse: error: absent.csv: no such file (given by {origin})"
    assert not (tmp_path / "out").exists()
