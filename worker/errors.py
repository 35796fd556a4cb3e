"""Pulse's exceptions, one root with a branch per area.

    PulseError
    ├── InputError          a record that cannot become an event (goes to the DLQ)
    ├── ConfigError         settings or a rules file that cannot be used
    │   └── RulesError      a rules file: carries file, field and reason
    ├── StateError          Redis could not be read or written
    └── DeliveryError       a task or DLQ record could not be published

Exceptions from aiokafka and redis are translated into these at the boundary,
chained to the original.
"""

from __future__ import annotations


class PulseError(Exception):
    """Root of every error Pulse raises on purpose."""


class InputError(PulseError):
    """A record was rejected; `reason` is a stable code for metrics and the DLQ."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class ConfigError(PulseError):
    """Settings cannot be used."""


class RulesError(ConfigError):
    """A rules file is invalid."""

    def __init__(self, path: str, field: str, reason: str) -> None:
        super().__init__(f"{path}: {field}: {reason}")
        self.path = path
        self.field = field
        self.reason = reason


class StateError(PulseError):
    """Redis state could not be read or written."""


class DeliveryError(PulseError):
    """A record could not be published to Kafka."""
