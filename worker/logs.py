"""Structured logging: stable event names plus keys, JSON or console.

Pulse's own logs go through structlog; the standard library's (faust,
aiokafka) are routed through the same renderer, so with the JSON format every
line on stderr is one JSON object.
"""

from __future__ import annotations

import logging
import logging.config
import sys
from typing import Any

import structlog

# Libraries are chatty at info; their warnings and errors still come through.
LIBRARY_LEVEL = logging.WARNING


def _renderer(fmt: str) -> structlog.typing.Processor:
    if fmt == "json":
        return structlog.processors.JSONRenderer()
    return structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())


def stdlib_config(fmt: str = "console") -> dict[str, Any]:
    """A `logging.config.dictConfig` that renders library logs like Pulse's own."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "pulse": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    _renderer(fmt),
                ],
                "foreign_pre_chain": [
                    structlog.stdlib.add_logger_name,
                    structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso", utc=True),
                    structlog.processors.format_exc_info,
                ],
            }
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "pulse",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": LIBRARY_LEVEL},
    }


def configure(fmt: str = "console", level: str = "info") -> None:
    """Set up structlog and the standard library (used by faust and aiokafka)."""
    numeric = logging.getLevelNamesMapping()[level.upper()]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _renderer(fmt),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.config.dictConfig(stdlib_config(fmt))


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    """A logger bound to a component name."""
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(component=name)
    return logger
