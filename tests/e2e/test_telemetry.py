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


SPAN_CHECK = r'''
import asyncio, json, sys
from aiohttp import web
from opentelemetry import trace, metrics
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from postsched import telemetry
from postsched.outbound import OutboundPolicy, TenantHttp
from tests.listeners import Receiver

async def ok(request):
    return web.json_response({"id": "x"})

async def main():
    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    telemetry.instrument_http()
    import aiohttp
    with Receiver(ok) as receiver:
        http = TenantHttp(OutboundPolicy.parse("127.0.0.2/32"), connections=2)
        await http.post(receiver.url + "/T0001/B0002/secret-path?token=hunter2", b"{}", {}, timeout=5)
        await http.close()
        async with aiohttp.ClientSession() as operator:  # an operator-set URL, as the Graph API's
            async with operator.get(receiver.url + "/v27.0/123/feed?fields=id&access_token=hunter2") as r:
                await r.read()
    spans = [dict(s.attributes) for s in exporter.get_finished_spans()]
    data = reader.get_metrics_data()
    names = [m.name for rm in (data.resource_metrics if data else []) for sm in rm.scope_metrics for m in sm.metrics]
    print(json.dumps({"spans": spans, "metrics": names, "port": receiver.port}))

asyncio.run(main())
'''


def test_http_spans_carry_no_tenant_path_query_or_credentials_and_no_host_labelled_metrics() -> None:
    import json
    import subprocess
    import sys

    from postsched_devtools.processes import ROOT

    # Its own process: the OpenTelemetry globals it sets stay out of the other tests.
    out = subprocess.run([sys.executable, "-c", SPAN_CHECK], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    tenant, operator = result["spans"]
    origin = f"http://127.0.0.2:{result['port']}/"
    assert origin in tenant.values() and not any("secret" in str(v) or "hunter2" in str(v) for v in tenant.values())
    assert f"{origin}v27.0/123/feed" in operator.values()
    assert not any("hunter2" in str(v) for v in operator.values())
    assert not any(name.startswith("http.client") for name in result["metrics"]), result["metrics"]
