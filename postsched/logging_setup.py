"""structlog set-up: one JSON object per line on stderr, with the service name."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import structlog
from opentelemetry import trace

from postsched.errors import ConfigError

def add_trace_ids(logger: object, method: str, event: dict[str, Any]) -> dict[str, Any]:
    """trace_id and span_id of the active span, in every line written inside one."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event["trace_id"] = format(context.trace_id, "032x")
        event["span_id"] = format(context.span_id, "016x")
    return event


LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def configure(service: str, level: str | None = None) -> None:
    """Configures structlog and the standard library's logging (POSTSCHED_LOG_LEVEL, default info)."""
    name = (level or os.environ.get("POSTSCHED_LOG_LEVEL", "info")).strip().lower()
    if name not in LEVELS:
        raise ConfigError(f"POSTSCHED_LOG_LEVEL must be one of {', '.join(LEVELS)}, got {name!r}")
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        add_trace_ids,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    # The standard library's loggers (psycopg's pool, asyncio, grpc, aiohttp) and Python warnings
    # write JSON lines too, with the logger's name: every line a service writes is JSON.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, structlog.processors.JSONRenderer()],
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
    ))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(LEVELS[name])
    logging.captureWarnings(True)
    structlog.configure(
        processors=[*shared, structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(LEVELS[name]),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
