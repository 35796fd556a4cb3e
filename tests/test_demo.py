"""The demo's choices that need no services: settings, data source, clean-up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from worker import demo
from worker.errors import ConfigError
from worker.settings import Settings

RUN = "20240301120000"


class FakeRedis:
    """Just enough of a Redis client for `clean_state`, holding no keys."""

    async def scan_iter(self, match: str, count: int) -> AsyncIterator[bytes]:
        for key in ():
            yield key

    async def delete(self, key: bytes) -> int:
        return 0

    async def aclose(self) -> None:
        return None


def test_demo_settings_keep_the_operators_future_skew() -> None:
    """The event clock has its own skew setting; the wall-clock one is untouched."""
    settings = demo.demo_settings(Settings(future_skew_seconds=120), RUN)
    assert settings.clock == "event"
    assert settings.future_skew_seconds == 120
    assert settings.event_clock_skew_seconds == Settings().event_clock_skew_seconds


def test_demo_uses_the_default_path_when_nothing_names_a_file(tmp_path: Path) -> None:
    default = tmp_path / "absent.csv"
    assert demo.demo_data(None, {}, default) == default


def test_empty_demo_data_variable_means_the_default_path(tmp_path: Path) -> None:
    default = tmp_path / "absent.csv"
    assert demo.demo_data(None, {"PULSE_DEMO_DATA": ""}, default) == default


def test_a_named_file_that_exists_is_used(tmp_path: Path) -> None:
    named = tmp_path / "trainCourse1.csv"
    named.write_text("enrollment_id\n", encoding="utf-8")
    environ = {"PULSE_DEMO_DATA": str(tmp_path / "other.csv")}
    assert demo.demo_data(named, environ, tmp_path / "default.csv") == named
    assert demo.demo_data(None, {"PULSE_DEMO_DATA": str(named)}) == named


@pytest.mark.parametrize(
    ("flag", "variable", "message"),
    [
        pytest.param("missing.csv", None, "no such file (given by --data)", id="flag"),
        pytest.param(
            None,
            "missing.csv",
            "no such file (given by PULSE_DEMO_DATA)",
            id="variable",
        ),
        pytest.param(".", None, "not a file (given by --data)", id="directory"),
    ],
)
def test_a_named_data_file_that_is_missing_stops_the_demo(
    tmp_path: Path, flag: str | None, variable: str | None, message: str
) -> None:
    """Only the default path falls back to synthetic data; a typo must not."""
    data = tmp_path / flag if flag else None
    environ = {"PULSE_DEMO_DATA": str(tmp_path / variable)} if variable else {}
    with pytest.raises(ConfigError) as caught:
        demo.demo_data(data, environ, tmp_path / "default.csv")
    assert str(caught.value).endswith(message)


async def test_clean_state_also_deletes_earlier_runs_faust_leader_topics(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prefixes: list[str] = []

    async def delete_topics(bootstrap: str, prefix: str) -> list[str]:
        prefixes.append(prefix)
        return []

    monkeypatch.setattr(demo, "delete_topics", delete_topics)
    monkeypatch.setattr(demo.aioredis, "from_url", lambda url: FakeRedis())
    await demo.clean_state(demo.demo_settings(Settings(), RUN))

    earlier = demo.demo_settings(Settings(), "20240229120000")
    leftovers = (
        earlier.events_topic,
        earlier.dlq_topic,
        earlier.touchpoints_topic,
        f"{earlier.group_id}-__assignor-__leader",
    )
    [prefix] = prefixes
    assert all(topic.startswith(prefix) for topic in leftovers)
    assert not Settings().events_topic.startswith(prefix)
