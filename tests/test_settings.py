"""Settings from `PULSE_*` environment variables."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from worker.errors import ConfigError, RulesError
from worker.settings import INFRA_VARIABLES, Settings, load_settings, unknown_variables


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hide every PULSE_* variable of the host; settings read names case-blind."""
    for name in list(os.environ):
        if name.upper().startswith("PULSE_"):
            monkeypatch.delenv(name)


def config_error() -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert not isinstance(caught.value, RulesError)
    return caught.value


def test_defaults_need_no_environment() -> None:
    settings = load_settings()
    assert settings == Settings()
    assert settings.kafka_bootstrap == "127.0.0.1:9092"
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.redis_prefix == "pulse"
    assert settings.group_id == "pulse"
    assert (settings.events_topic, settings.dlq_topic, settings.touchpoints_topic) == (
        "product.events",
        "product.events.dlq",
        "cs.touchpoints",
    )
    assert settings.topic_partitions == 4
    assert settings.rules_path == Path("rules/engagement.yaml")
    assert settings.clock == "wall"
    assert settings.max_event_bytes == 65_536
    assert (settings.batch_size, settings.batch_seconds) == (500, 0.2)
    assert settings.sweep_interval_seconds == 30
    assert settings.task_memory_days == 90
    assert (settings.log_format, settings.log_level) == ("console", "info")


def test_lateness_and_skew_are_durations() -> None:
    settings = Settings()
    assert settings.lateness == timedelta(hours=1)
    assert settings.skew == timedelta(minutes=5)
    assert settings.event_skew == timedelta(days=7)


def test_event_clock_skew_is_its_own_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULSE_EVENT_CLOCK_SKEW_SECONDS", "86400")
    settings = load_settings()
    assert settings.event_skew == timedelta(days=1)
    assert settings.skew == timedelta(minutes=5)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        pytest.param("PULSE_REDIS_URL", "redis://cache:6379/2", id="redis"),
        pytest.param("PULSE_REDIS_URL", "rediss://cache:6380/0", id="rediss"),
        pytest.param("PULSE_REDIS_URL", "unix:///run/redis.sock", id="unix"),
        pytest.param("PULSE_GROUP_ID", "cs-pulse_v2.eu", id="group-punctuation"),
        pytest.param("PULSE_GROUP_ID", "g" * 200, id="group-200-chars"),
        pytest.param("PULSE_EVENTS_TOPIC", "t" * 249, id="topic-249-chars"),
        pytest.param("PULSE_DLQ_TOPIC", "...", id="topic-three-dots"),
        pytest.param("PULSE_TOUCHPOINTS_TOPIC", "cs_touch-points.v2", id="topic"),
        pytest.param("PULSE_SWEEP_INTERVAL_SECONDS", "3600", id="sweep-an-hour"),
        pytest.param("PULSE_BATCH_SECONDS", "60", id="batch-a-minute"),
        pytest.param("PULSE_EVENT_CLOCK_SKEW_SECONDS", "0", id="event-skew-zero"),
    ],
)
def test_valid_values_at_the_limits_are_accepted(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    load_settings()


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULSE_TOPIC_PARTITIONS", "12")
    monkeypatch.setenv("PULSE_CLOCK", "event")
    monkeypatch.setenv("PULSE_ALLOWED_LATENESS_SECONDS", "90.5")
    monkeypatch.setenv("PULSE_RULES_PATH", "rules/kddcup.yaml")
    settings = load_settings()
    assert settings.topic_partitions == 12
    assert settings.clock == "event"
    assert settings.lateness == timedelta(seconds=90.5)
    assert settings.rules_path == Path("rules/kddcup.yaml")


def test_settings_are_frozen() -> None:
    with pytest.raises(ValidationError):
        Settings().clock = "event"  # type: ignore[misc]


def test_misspelt_variable_is_reported_as_unknown() -> None:
    environ = {"PULSE_KAFKA_BOOTSRAP": "k:9092", "PULSE_REDIS_URL": "redis://r"}
    assert unknown_variables(environ) == ["PULSE_KAFKA_BOOTSRAP"]


def test_unknown_variables_are_sorted() -> None:
    environ = {"PULSE_ZZZ": "1", "PULSE_AAA": "1", "PULSE_MMM": "1"}
    assert unknown_variables(environ) == ["PULSE_AAA", "PULSE_MMM", "PULSE_ZZZ"]


@pytest.mark.parametrize("name", sorted(INFRA_VARIABLES))
def test_infra_variables_are_not_unknown(name: str) -> None:
    assert unknown_variables({name: "x"}) == []


def test_every_setting_and_other_programs_variables_are_not_unknown() -> None:
    environ = {f"PULSE_{name.upper()}": "x" for name in Settings.model_fields}
    environ |= {"PATH": "/bin", "KAFKA_BOOTSTRAP": "k", "PULSEAUDIO_SERVER": "s"}
    assert unknown_variables(environ) == []


def test_load_settings_refuses_to_start_with_a_misspelt_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PULSE_KAFKA_BOOTSRAP", "k:9092")
    assert "PULSE_KAFKA_BOOTSRAP" in str(config_error())


def test_load_settings_accepts_infra_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULSE_KAFKA_PORT", "19092")
    monkeypatch.setenv("PULSE_DEMO_DATA", "var/demo")
    assert load_settings() == Settings()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        pytest.param("PULSE_TOPIC_PARTITIONS", "0", id="partitions-zero"),
        pytest.param("PULSE_TOPIC_PARTITIONS", "four", id="partitions-word"),
        pytest.param("PULSE_CLOCK", "Wall", id="clock-case"),
        pytest.param("PULSE_REDIS_PREFIX", "pulse prod", id="prefix-space"),
        pytest.param("PULSE_REDIS_PREFIX", "{pulse}", id="prefix-braces"),
        pytest.param("PULSE_MAX_EVENT_BYTES", "100", id="max-bytes-small"),
        pytest.param("PULSE_BATCH_SIZE", "10001", id="batch-too-big"),
        pytest.param("PULSE_BATCH_SECONDS", "0", id="batch-seconds-zero"),
        pytest.param("PULSE_SWEEP_INTERVAL_SECONDS", "-1", id="sweep-negative"),
        pytest.param("PULSE_ALLOWED_LATENESS_SECONDS", "-1", id="lateness-negative"),
        pytest.param("PULSE_ALLOWED_LATENESS_SECONDS", "nan", id="lateness-nan"),
        pytest.param("PULSE_FUTURE_SKEW_SECONDS", "soon", id="skew-word"),
        pytest.param("PULSE_TASK_MEMORY_DAYS", "0", id="memory-zero"),
        pytest.param("PULSE_LOG_FORMAT", "xml", id="log-format"),
        pytest.param("PULSE_LOG_LEVEL", "verbose", id="log-level"),
        pytest.param("PULSE_REDIS_URL", "http://cache:6379", id="redis-url-scheme"),
        pytest.param("PULSE_REDIS_URL", "cache:6379", id="redis-url-no-scheme"),
        pytest.param("PULSE_GROUP_ID", "", id="group-empty"),
        pytest.param("PULSE_GROUP_ID", "cs pulse", id="group-space"),
        pytest.param("PULSE_GROUP_ID", "g" * 201, id="group-too-long"),
        pytest.param("PULSE_EVENTS_TOPIC", "", id="topic-empty"),
        pytest.param("PULSE_EVENTS_TOPIC", ".", id="topic-dot"),
        pytest.param("PULSE_DLQ_TOPIC", "..", id="topic-dot-dot"),
        pytest.param("PULSE_DLQ_TOPIC", "product events", id="topic-space"),
        pytest.param("PULSE_TOUCHPOINTS_TOPIC", "cs/touchpoints", id="topic-slash"),
        pytest.param("PULSE_TOUCHPOINTS_TOPIC", "t" * 250, id="topic-too-long"),
        pytest.param("PULSE_SWEEP_INTERVAL_SECONDS", "inf", id="sweep-infinite"),
        pytest.param("PULSE_SWEEP_INTERVAL_SECONDS", "nan", id="sweep-nan"),
        pytest.param("PULSE_SWEEP_INTERVAL_SECONDS", "3601", id="sweep-over-hour"),
        pytest.param("PULSE_BATCH_SECONDS", "61", id="batch-seconds-over-minute"),
        pytest.param("PULSE_BATCH_SECONDS", "inf", id="batch-seconds-infinite"),
        pytest.param("PULSE_EVENT_CLOCK_SKEW_SECONDS", "-1", id="event-skew-negative"),
        pytest.param("PULSE_EVENT_CLOCK_SKEW_SECONDS", "7776001", id="event-skew-big"),
    ],
)
def test_invalid_value_stops_start_up_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    assert str(config_error()).startswith(f"{name}: ")


@pytest.mark.parametrize(
    "name",
    [
        "PULSE_ALLOWED_LATENESS_SECONDS",
        "PULSE_FUTURE_SKEW_SECONDS",
        "PULSE_EVENT_CLOCK_SKEW_SECONDS",
    ],
)
def test_infinite_duration_stops_start_up(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """A value that validates must also be usable as a timedelta."""
    monkeypatch.setenv(name, "inf")
    assert str(config_error()).startswith(f"{name}: ")


def test_lowercase_misspelt_variable_is_reported_as_unknown() -> None:
    assert unknown_variables({"pulse_kafka_bootsrap": "k:9092"}) == [
        "pulse_kafka_bootsrap"
    ]


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("redis://127.0.0.1:notaport/0", id="port-not-a-number"),
        pytest.param("redis://127.0.0.1:99999/0", id="port-out-of-range"),
        pytest.param("redis://127.0.0.1:6379/0?socket_timeout=abc", id="bad-option"),
    ],
)
def test_redis_url_that_cannot_be_used_stops_start_up(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("PULSE_REDIS_URL", url)
    with pytest.raises(ConfigError, match="PULSE_REDIS_URL"):
        load_settings()
