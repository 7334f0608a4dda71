"""W3C trace context as strings: what is stored with a post and sent in NATS headers."""

from __future__ import annotations

from opentelemetry import propagate, trace


def current_traceparent() -> str | None:
    """The traceparent of the active span, or None outside a recorded trace."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


def current_trace_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None
