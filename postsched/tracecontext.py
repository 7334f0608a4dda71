"""W3C trace context as strings: what is stored with a post and sent in NATS headers."""

from __future__ import annotations

import secrets

from opentelemetry import propagate, trace


def current_traceparent() -> str | None:
    """The traceparent of the active span, or None outside a recorded trace."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


def new_traceparent() -> str:
    """A trace of its own for a post created where nothing traces: not sampled (nothing records it),
    but its id is in the post's processing log and in every log line about it, under `postsched up`
    as under Jaeger."""
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-00"


def trace_id_of(traceparent: str | None) -> str | None:
    """The trace id a traceparent carries."""
    parts = (traceparent or "").split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None


def current_trace_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None
