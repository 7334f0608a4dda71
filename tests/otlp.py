"""An OTLP/gRPC receiver for tests (from opentelemetry-proto): keeps every span and metric it is sent."""

from __future__ import annotations

import threading
from concurrent import futures
from dataclasses import dataclass

import grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from postsched.embedded import free_port


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    kind: int
    attributes: dict
    links: list[str]  # trace ids of linked spans
    linked_span_ids: list[str]
    status_code: int


def _value(any_value) -> object:  # type: ignore[no-untyped-def]
    return getattr(any_value, any_value.WhichOneof("value")) if any_value.WhichOneof("value") else None


class Receiver(trace_service_pb2_grpc.TraceServiceServicer, metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, port: int | None = None) -> None:
        self.spans: list[ReceivedSpan] = []
        self.metric_names: set[str] = set()
        self._lock = threading.Lock()
        self.port = port or free_port()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(self, self._server)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(self, self._server)
        if self._server.add_insecure_port(f"127.0.0.1:{self.port}") != self.port:
            raise RuntimeError(f"the OTLP test receiver cannot listen on 127.0.0.1:{self.port}")

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Receiver":
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop(0)

    def Export(self, request, context):  # type: ignore[no-untyped-def]
        if isinstance(request, trace_service_pb2.ExportTraceServiceRequest):
            with self._lock:
                for resource_spans in request.resource_spans:
                    attributes = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
                    service = str(attributes.get("service.name", ""))
                    for scope in resource_spans.scope_spans:
                        for span in scope.spans:
                            self.spans.append(ReceivedSpan(
                                service=service, name=span.name, trace_id=span.trace_id.hex(),
                                span_id=span.span_id.hex(), parent_span_id=span.parent_span_id.hex(), kind=span.kind,
                                attributes={a.key: _value(a.value) for a in span.attributes},
                                links=[link.trace_id.hex() for link in span.links],
                                linked_span_ids=[link.span_id.hex() for link in span.links], status_code=span.status.code,
                            ))
            return trace_service_pb2.ExportTraceServiceResponse()
        with self._lock:
            for resource_metrics in request.resource_metrics:
                for scope in resource_metrics.scope_metrics:
                    self.metric_names.update(m.name for m in scope.metrics)
        return metrics_service_pb2.ExportMetricsServiceResponse()

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        with self._lock:
            return [s for s in self.spans if s.trace_id == trace_id]
