"""OpenTelemetry for every service, configured only by the standard OTEL_* variables.

With OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) set, traces and metrics go
out over OTLP and gRPC, PostgreSQL and HTTP calls are instrumented. With neither set, no tracer is
installed: the API's no-op tracer costs next to nothing and nothing is exported. Metrics are also
served for Prometheus on each service's POSTSCHED_<SERVICE>_METRICS_ADDR (postsched/prometheus.py).
The service name is OTEL_SERVICE_NAME, else "postsched-<service>".
"""

from __future__ import annotations

import os
import threading
from typing import Any, Iterator, Mapping, cast

from contextlib import contextmanager
from opentelemetry import metrics, propagate, trace
from opentelemetry.context import Context

_enabled = False


def exporting(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").lower() == "true" or env.get("OTEL_TRACES_EXPORTER", "").lower() == "none":
        return False
    return bool(env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def setup(service: str, *, metrics_addr: str | None = None) -> bool:
    """Installs metrics (Prometheus /metrics on `metrics_addr`, and OTLP when an endpoint is
    configured) and, with an OTLP endpoint, tracing for `service`; returns whether tracing is on."""
    if _enabled:
        return True
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import MetricReader
    from opentelemetry.sdk.resources import Resource

    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME") or f"postsched-{service}",
                                "service.namespace": "postsched"})
    readers: list[MetricReader] = []
    if metrics_addr:
        from postsched import prometheus

        readers.append(prometheus.serve(metrics_addr))
    if exporting() and os.environ.get("OTEL_METRICS_EXPORTER", "").lower() != "none":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
    if readers:
        # No exemplars unless asked for (OTEL_METRICS_EXEMPLAR_FILTER): offering each measurement
        # to an exemplar reservoir is a cost per post, and Prometheus' text format drops them.
        from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter

        exemplars = None if os.environ.get("OTEL_METRICS_EXEMPLAR_FILTER") else AlwaysOffExemplarFilter()
        metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=readers, exemplar_filter=exemplars))
    if not exporting():
        return False
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=resource)  # the sampler follows OTEL_TRACES_SAMPLER
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    PsycopgInstrumentor().instrument(skip_dep_check=True)
    instrument_http()
    return True


def instrument_http() -> None:
    """HTTP client spans without query strings or user-info, and no HTTP client metrics: their
    host and peer labels would take a value per tenant endpoint (publish_duration measures the
    calls, by platform). Turns span recording on for post_span too."""
    global _enabled
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor

    AioHttpClientInstrumentor().instrument(url_filter=_without_query, meter_provider=metrics.NoOpMeterProvider())
    _enabled = True


def _without_query(url: Any) -> str:
    return str(url.with_user(None).with_query(None).with_fragment(None))


def _origin(url: Any) -> str:
    return str(url.with_user(None).with_path("/").with_query(None).with_fragment(None))


def trace_tenant_calls_by_origin(session: Any) -> None:
    """Makes the HTTP spans of `session` (calls to URLs tenants gave) carry scheme, host and port
    only: a tenant's path, query and user-info stay out of traces."""
    if not _enabled:
        return
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor, create_trace_config

    AioHttpClientInstrumentor.uninstrument_session(session)
    config = create_trace_config(url_filter=_origin, meter_provider=metrics.NoOpMeterProvider())
    config.freeze()
    session._trace_configs.append(config)  # aiohttp keeps a session's trace configs there


SHUTDOWN_SECONDS = 5.0


def shutdown() -> None:
    """Flushes what is buffered (at a clean stop), for at most SHUTDOWN_SECONDS: an exporter
    retrying against a collector that is gone must not keep a stopped service from exiting."""

    def flush() -> None:
        for provider in (trace.get_tracer_provider(), metrics.get_meter_provider()):
            if hasattr(provider, "shutdown"):
                cast(Any, provider).shutdown()

    worker = threading.Thread(target=flush, name="telemetry-shutdown", daemon=True)
    worker.start()
    worker.join(SHUTDOWN_SECONDS)


@contextmanager
def untraced() -> Iterator[None]:
    """No spans for what runs inside (polling loops that mostly find nothing to do)."""
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    with suppress_instrumentation():
        yield


def grpc_server_interceptors() -> list[Any]:
    """The official gRPC server instrumentation, when tracing is on."""
    if not _enabled:
        return []
    from opentelemetry.instrumentation.grpc import aio_server_interceptor

    return [aio_server_interceptor()]


def messaging_attributes(operation: str, subject: str, message_id: str) -> dict[str, str]:
    """OpenTelemetry's messaging attributes for a NATS hand-over (`send`) or consumption (`process`)."""
    return {
        "messaging.system": "nats",
        "messaging.operation.type": operation,
        "messaging.operation.name": operation,
        "messaging.destination.name": subject,
        "messaging.message.id": message_id,
    }


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def context_from(traceparent: str | None) -> Context | None:
    """The trace context a stored or received W3C traceparent stands for (None: none)."""
    if not traceparent:
        return None
    return propagate.extract({"traceparent": traceparent})


def inject(headers: dict[str, str]) -> dict[str, str]:
    """Adds the active span's traceparent (and tracestate) to message headers: with tracing off
    here, only a sampled one (an unsampled trace records nothing downstream, and its header would
    cost every message its parsing; the publisher reads the post's own from its row)."""
    if not _enabled and not trace.get_current_span().get_span_context().trace_flags.sampled:
        return headers
    propagate.inject(headers)
    return headers


def _remote_span(traceparent: str | None) -> trace.Span:
    """The span a W3C traceparent names, as a non-recording span (INVALID_SPAN if it is not one)."""
    parts = (traceparent or "").split("-")
    try:
        if len(parts) == 4 and len(parts[1]) == 32 and len(parts[2]) == 16:
            context = trace.SpanContext(int(parts[1], 16), int(parts[2], 16), is_remote=True,
                                        trace_flags=trace.TraceFlags(int(parts[3], 16)))
            if context.is_valid:
                return trace.NonRecordingSpan(context)
    except ValueError:
        pass
    return trace.INVALID_SPAN


@contextmanager
def post_span(
    tracer_: trace.Tracer, name: str, traceparent: str | None, *, kind: trace.SpanKind = trace.SpanKind.INTERNAL,
    link_parent: bool = False, **attributes: Any,
) -> Iterator[trace.Span]:
    """A span in the post's own trace (the CreatePost call's), whatever else is active.

    `link_parent` also links it to `traceparent`'s span: OpenTelemetry's messaging conventions
    link a consumer's `process` span to the message's creation context."""
    if not _enabled:
        # Nothing is recorded: skip the tracer and the propagators (a few percent of the CPU per
        # post), but make the post's trace current as the no-op tracer would, so log lines and
        # audit entries still carry its trace id.
        with trace.use_span(_remote_span(traceparent), end_on_exit=False) as span:
            yield span
        return
    parent = context_from(traceparent)
    links = None
    if link_parent and parent is not None:
        creation = trace.get_current_span(parent).get_span_context()
        links = [trace.Link(creation)] if creation.is_valid else None
    with tracer_.start_as_current_span(name, context=parent, kind=kind, links=links, attributes=attributes) as span:
        yield span
