"""Runtime settings: one validated object read from `PULSE_*` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from redis.connection import parse_url

from worker.errors import ConfigError

ENV_PREFIX = "PULSE_"
MAX_DURATION_S = 90 * 86_400
MAX_SWEEP_INTERVAL_S = 3600
MAX_BATCH_SECONDS = 60
DEFAULT_EVENT_CLOCK_SKEW_S = 7 * 86_400

# Variables read by scripts/ and the Makefile, not by the worker.
INFRA_VARIABLES = frozenset(
    {
        "PULSE_CACHE_DIR",
        "PULSE_KAFKA_PORT",
        "PULSE_KAFKA_CONTROLLER_PORT",
        "PULSE_KAFKA_DATA_DIR",
        "PULSE_KAFKA_VERSION",
        "PULSE_REDIS_PORT",
        "PULSE_REDIS_DATA_DIR",
        "PULSE_DEMO_DATA",
    }
)


def _not_dots(name: str) -> str:
    if name in (".", ".."):
        raise ValueError(f"{name!r} is not a valid Kafka topic name")
    return name


# Kafka's own rule for topic names (kafka.common.internals.Topic).
TopicName = Annotated[
    str, Field(pattern=r"^[A-Za-z0-9._-]{1,249}$"), AfterValidator(_not_dots)
]


class Settings(BaseSettings):
    """Everything an operator can set; see the README's configuration table."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", frozen=True
    )

    kafka_bootstrap: str = "127.0.0.1:9092"
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0", pattern=r"^(?:redis|rediss|unix)://"
    )

    @field_validator("redis_url")
    @classmethod
    def _redis_url_parses(cls, value: str) -> str:
        # A bad port or option would otherwise fail on first use, in a loop.
        try:
            parse_url(value)  # type: ignore[no-untyped-call]
        except (ValueError, TypeError) as exc:
            raise ValueError(f"not a usable Redis URL: {exc}") from None
        return value

    redis_prefix: str = Field(default="pulse", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    # Also faust's app id, which names its `<id>-__assignor-__leader` topic.
    group_id: str = Field(default="pulse", pattern=r"^[A-Za-z0-9._-]{1,200}$")
    events_topic: TopicName = "product.events"
    dlq_topic: TopicName = "product.events.dlq"
    touchpoints_topic: TopicName = "cs.touchpoints"
    topic_partitions: int = Field(default=4, ge=1, le=1024)
    rules_path: Path = Path("rules/engagement.yaml")
    clock: Literal["wall", "event"] = "wall"
    allowed_lateness_seconds: float = Field(default=3600, ge=0, le=MAX_DURATION_S)
    future_skew_seconds: float = Field(default=300, ge=0, le=MAX_DURATION_S)
    event_clock_skew_seconds: float = Field(
        default=DEFAULT_EVENT_CLOCK_SKEW_S,
        ge=0,
        le=MAX_DURATION_S,
        description="with PULSE_CLOCK=event, how far ahead of the latest event "
        "seen an event may be stamped",
    )
    max_event_bytes: int = Field(default=65_536, ge=256)
    batch_size: int = Field(default=500, ge=1, le=10_000)
    batch_seconds: float = Field(default=0.2, gt=0, le=MAX_BATCH_SECONDS)
    sweep_interval_seconds: float = Field(
        default=30, gt=0, le=MAX_SWEEP_INTERVAL_S, allow_inf_nan=False
    )
    task_memory_days: int = Field(default=90, ge=1)
    log_format: Literal["console", "json"] = "console"
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @property
    def lateness(self) -> timedelta:
        """Allowed lateness as a duration."""
        return timedelta(seconds=self.allowed_lateness_seconds)

    @property
    def skew(self) -> timedelta:
        """Allowed future skew against wall time as a duration."""
        return timedelta(seconds=self.future_skew_seconds)

    @property
    def event_skew(self) -> timedelta:
        """Allowed future skew against the event clock as a duration."""
        return timedelta(seconds=self.event_clock_skew_seconds)


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """`PULSE_*` variables that name no setting: almost always a typo."""
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    return sorted(
        name
        for name in environ
        if name.upper().startswith(ENV_PREFIX) and name not in known | INFRA_VARIABLES
    )


def load_settings() -> Settings:
    """Read and validate settings once, at start-up."""
    unknown = unknown_variables(os.environ)
    if unknown:
        raise ConfigError(f"unknown settings: {', '.join(unknown)}")
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = (
            ENV_PREFIX + str(first["loc"][0]).upper() if first["loc"] else "settings"
        )
        raise ConfigError(f"{field}: {first['msg']}") from exc
