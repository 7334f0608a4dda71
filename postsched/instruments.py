"""The metrics postsched reports through OpenTelemetry (no-ops unless telemetry is set up)."""

from __future__ import annotations

from opentelemetry import metrics

_meter = metrics.get_meter("postsched")

posts_published = _meter.create_counter("postsched.posts.published", unit="{post}", description="posts published")
posts_failed = _meter.create_counter("postsched.posts.failed", unit="{post}", description="posts that ended FAILED")
publish_duration = _meter.create_histogram(
    "postsched.publish.duration", unit="s", description="one publish attempt, claim to recorded outcome")
handover_lateness = _meter.create_histogram(
    "postsched.handover.lateness", unit="s", description="JetStream hand-over time minus the post's due time")
queue_depth = _meter.create_gauge("postsched.queue.depth", unit="{post}", description="posts per status")
