"""post_span with tracing off: no tracer work, but the post's trace is current as with the no-op tracer."""

from __future__ import annotations

import pytest

from postsched import telemetry
from postsched.tracecontext import current_trace_id

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.mark.parametrize("traceparent", [TRACEPARENT, "", None, "garbage", "00-" + "0" * 32 + "-" + "0" * 16 + "-01",
                                         "00-zzf7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"])
def test_post_span_makes_the_same_trace_current_as_the_no_op_tracer(traceparent: str | None) -> None:
    assert not telemetry.exporting()
    tracer = telemetry.tracer("test")
    with tracer.start_as_current_span("x", context=telemetry.context_from(traceparent)):
        expected = current_trace_id()
    with telemetry.post_span(tracer, "x", traceparent, attribute=1) as span:
        assert current_trace_id() == expected
        assert not span.is_recording()
        span.set_attribute("ignored", True)
    assert current_trace_id() is None
    assert (expected is not None) == (traceparent == TRACEPARENT)
