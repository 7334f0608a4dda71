"""Prometheus `/metrics` for a service: OpenTelemetry's Prometheus reader behind prometheus_client's
HTTP server (a daemon thread), on POSTSCHED_<SERVICE>_METRICS_ADDR.

The instruments are postsched/instruments.py's, named the OpenTelemetry way; the exporter turns
`postsched.posts.published` into `postsched_posts_published_total` and a histogram in seconds into
`postsched_publish_duration_seconds_bucket` / `_sum` / `_count`. Nothing is computed for a scrape
but the observable gauges (duty health, rate-limited accounts), which read in-memory state.
"""

from __future__ import annotations

from opentelemetry.sdk.metrics.export import MetricReader

from postsched.errors import ConfigError


def serve(addr: str) -> MetricReader:
    """Starts serving /metrics on host:port; returns the reader to give the MeterProvider."""
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from prometheus_client import start_http_server

    host, _, port = addr.rpartition(":")
    reader = PrometheusMetricReader()
    try:
        start_http_server(int(port), addr=host.strip("[]"))
    except OSError as exc:
        raise ConfigError(f"cannot serve metrics on {addr}: {exc.strerror or exc}; "
                          "set its POSTSCHED_<SERVICE>_METRICS_ADDR to another port, or to off") from None
    return reader
