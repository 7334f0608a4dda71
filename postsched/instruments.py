"""The metrics postsched reports through OpenTelemetry: to Prometheus (/metrics on each service's
POSTSCHED_<SERVICE>_METRICS_ADDR) and over OTLP when an endpoint is set; no-ops with neither."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable, Iterable

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

_meter = metrics.get_meter("postsched")

# Publisher
posts_published = _meter.create_counter("postsched.posts.published", unit="{post}", description="posts published")
posts_failed = _meter.create_counter("postsched.posts.failed", unit="{post}", description="posts that ended FAILED")
# By platform and outcome (PUBLISHED, FAILED, QUEUED: retry, SCHEDULED: told to wait, UNKNOWN): its
# count is the number of attempts by outcome, with no counter of its own to pay for per post.
publish_duration = _meter.create_histogram(
    "postsched.publish.duration", unit="s", description="one publish attempt, claim to recorded outcome")
# Dispatcher
handover_lateness = _meter.create_histogram(
    "postsched.handover.lateness", unit="s", description="JetStream hand-over time minus the post's due time")
# Every service: wrong tokens by door (grpc, dashboard) and whether the address was throttled
sign_in_failures = _meter.create_counter(
    "postsched.sign_in.failures", unit="{attempt}", description="authentications refused for a wrong token")
# Admin (refreshed every few seconds from the counters and the consumer)
queue_depth = _meter.create_gauge("postsched.queue.depth", unit="{post}", description="posts per status")
oldest_overdue = _meter.create_gauge(
    "postsched.queue.oldest_overdue", unit="s", description="age of the oldest post past its time not yet with the platform")
consumer_pending = _meter.create_gauge(
    "postsched.consumer.pending", unit="{message}", description="messages the publishers' consumer has not delivered yet")
consumer_ack_pending = _meter.create_gauge(
    "postsched.consumer.ack_pending", unit="{message}", description="messages delivered and not yet acknowledged")


def watch_duties(states: Callable[[], Iterable[tuple[str, bool]]]) -> None:
    """postsched.duty.healthy per duty of this process: 1 while it runs, 0 while it cannot."""

    def observe(_: CallbackOptions) -> Iterable[Observation]:
        return [Observation(1 if healthy else 0, {"duty": name}) for name, healthy in list(states())]

    _meter.create_observable_gauge("postsched.duty.healthy", callbacks=[observe],
                                   description="1 while the duty runs, 0 while it cannot (the service is NOT_SERVING)")


def watch_rate_limited(throttled_until: Callable[[], Iterable[datetime | None]]) -> None:
    """postsched.accounts.rate_limited: accounts this publisher has been told to wait, now."""

    def observe(_: CallbackOptions) -> Iterable[Observation]:
        now = datetime.now(timezone.utc)
        return [Observation(sum(1 for until in list(throttled_until()) if until and until > now))]

    _meter.create_observable_gauge("postsched.accounts.rate_limited", unit="{account}", callbacks=[observe],
                                   description="accounts the platform asked to wait, as this publisher knows")
