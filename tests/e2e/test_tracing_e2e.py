"""One post, one trace: CreatePost, the dispatcher's hand-over, the publisher's attempts with their
HTTP calls, and an admin retry, exported over OTLP by four real service processes."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Iterator

import grpc
import pytest

from postsched.v1 import admin_pb2, admin_pb2_grpc, scheduler_pb2
from postsched_devtools.tenant import Tenant
from tests.conftest import ADMIN_TOKEN, TENANT_TOKENS
from postsched_devtools.fake_meta.control import FakeMeta
from postsched_devtools.processes import Suite
from tests.otlp import Receiver

pytestmark = pytest.mark.e2e
SECRET = "EAAB-very-secret-page-token-123"
SERVICES = {"postsched-scheduler", "postsched-dispatcher", "postsched-publisher", "postsched-admin"}
# OpenTelemetry's messaging span names: "<operation> <destination>".
SEND, PROCESS = "send postsched.publish.facebook_page", "process postsched.publish.facebook_page"
PRODUCER, CONSUMER = 4, 5  # SPAN_KIND_* in OTLP


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


def wait(condition, timeout: float = 30.0, what: str = "condition") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


# The receiver comes first so that it is torn down last: services stopped after it would each spend
# their flush time (postsched.telemetry.SHUTDOWN_SECONDS) on a collector that is gone.
def test_one_post_is_one_trace_across_all_four_services(receiver: Receiver, suite: Suite, fake_meta: FakeMeta) -> None:
    suite.base_env.update(
        POSTSCHED_META_GRAPH_URL=fake_meta.graph_url,
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        OTEL_BSP_SCHEDULE_DELAY="200",
        OTEL_METRIC_EXPORT_INTERVAL="1000",
    )
    scheduler = suite.start("scheduler")
    suite.start("dispatcher")
    publisher = suite.start("publisher")
    admin = suite.start("admin")
    fake_meta.fault(kind="error", account="8880001", endpoint="feed", times=1, http_status=400, code=100)
    client = Tenant(scheduler.addr, TENANT_TOKENS["acme"])
    page = client.page_account("8880001", token=SECRET)
    post = client.CreatePost(scheduler_pb2.CreatePostRequest(account_id=page.account_id, text="traced"))
    suite.wait_for("SELECT status::text FROM posts WHERE id = %s", "FAILED", params=(post.post_id,))
    stub = admin_pb2_grpc.AdminServiceStub(grpc.insecure_channel(admin.addr))
    stub.RetryPost(admin_pb2.RetryPostRequest(post_id=post.post_id), metadata=(("authorization", f"Bearer {ADMIN_TOKEN}"),))
    suite.wait_for("SELECT status::text FROM posts WHERE id = %s", "PUBLISHED", params=(post.post_id,))

    create = []
    wait(lambda: create.extend(s for s in receiver.spans if s.name.endswith("SchedulerService/CreatePost")) or create,
         what="the CreatePost span")
    trace_id = create[0].trace_id

    def story_complete() -> bool:
        # Each process exports on its own schedule: wait until every expected span has arrived.
        spans = receiver.trace(trace_id)
        names = [s.name for s in spans]
        publish_ids = {s.span_id for s in spans if s.name == PROCESS}
        http = [s for s in spans if s.kind == 3 and s.parent_span_id in publish_ids]
        return ({s.service for s in spans} >= SERVICES and names.count(PROCESS) == 2
                and names.count(SEND) == 2 and names.count("admin.retry_post") == 1
                and len(http) >= 2)
    wait(story_complete, what="every span of the post's story in its trace")

    spans = receiver.trace(trace_id)
    by_name = {}
    for span in spans:
        by_name.setdefault(span.name, []).append(span)
    assert len(by_name[SEND]) == 2  # once before the failure, once after the retry
    outcomes = sorted(s.attributes["postsched.outcome"] for s in by_name[PROCESS])
    assert outcomes == ["FAILED", "PUBLISHED"]
    for span in by_name[PROCESS]:
        assert span.attributes["postsched.post_id"] == post.post_id
        assert span.attributes["postsched.account_id"] == page.account_id
    # Queue hops as Jaeger and Tempo know them: a PRODUCER send, a CONSUMER process that is its
    # child and is linked to it (the creation context), the NATS subject and message id on both.
    sends = {s.span_id: s for s in by_name[SEND]}
    for span in by_name[SEND]:
        assert span.kind == PRODUCER and span.attributes["postsched.post_id"] == post.post_id
    for span in by_name[PROCESS]:
        assert span.kind == CONSUMER and span.parent_span_id in sends and span.linked_span_ids == [span.parent_span_id]
        send = sends[span.parent_span_id]
        for s, operation in ((send, "send"), (span, "process")):
            assert s.attributes["messaging.system"] == "nats"
            assert s.attributes["messaging.operation.type"] == operation
            assert s.attributes["messaging.destination.name"] == "postsched.publish.facebook_page"
        assert span.attributes["messaging.message.id"] == send.attributes["messaging.message.id"]
        assert send.attributes["messaging.message.id"] == f"{post.post_id}:{send.attributes['postsched.generation']}"
    failed = [s for s in by_name[PROCESS] if s.attributes["postsched.outcome"] == "FAILED"][0]
    assert failed.status_code == 2 and "Meta error 100" in failed.attributes["postsched.error"]  # ERROR, recorded
    (retry,) = by_name["admin.retry_post"]
    assert retry.service == "postsched-admin" and retry.links  # linked to the operator's RetryPost call
    # The HTTP calls to fake-meta are children of the publish spans.
    publish_ids = {s.span_id for s in by_name[PROCESS]}
    http = [s for s in spans if s.kind == 3 and s.parent_span_id in publish_ids]  # SPAN_KIND_CLIENT
    assert len(http) >= 2 and any(str(fake_meta.port) in json.dumps(s.attributes) for s in http)
    # Database spans exist (the instrumented psycopg driver).
    wait(lambda: any(s.attributes.get("db.system") == "postgresql" or s.attributes.get("db.system.name") == "postgresql"
                     for s in list(receiver.spans)), what="database spans")

    # Logs written inside a span carry its ids; the token never shows up in a log or a span.
    failure_lines = [json.loads(line) for line in publisher.log().splitlines() if '"post failed"' in line]
    assert failure_lines and failure_lines[0]["trace_id"] == trace_id and failure_lines[0]["post_id"] == post.post_id
    for path in Path(suite.log_dir).glob("*.log"):
        assert SECRET not in path.read_text(errors="replace"), path
    assert SECRET not in json.dumps([s.attributes for s in receiver.spans], default=str)
    wait(lambda: {"postsched.posts.published", "postsched.handover.lateness", "postsched.publish.duration"}
         <= receiver.metric_names, what="metrics")


OTLP_DEFAULT_PORT = 4317  # where an OTLP exporter sends when no endpoint is set


def test_without_an_endpoint_nothing_is_exported(suite: Suite) -> None:
    # A receiver where an exporter without an endpoint would send, and spans batched every 0.1 s:
    # anything exported by default arrives within the wait below.
    default = Receiver(port=OTLP_DEFAULT_PORT).start()
    try:
        suite.base_env["OTEL_BSP_SCHEDULE_DELAY"] = "100"
        scheduler = suite.start("scheduler")
        client = Tenant(scheduler.addr, TENANT_TOKENS["acme"])
        account = client.webhook_account("quiet")
        client.CreatePost(scheduler_pb2.CreatePostRequest(account_id=account.account_id, text="untraced"))
        time.sleep(1.5)
        assert default.spans == [] and not default.metric_names
        # Nothing recorded, yet the post has a trace of its own (not sampled) to follow it by: in its
        # processing log and in the log line that created it.
        ((traceparent, log_trace),) = suite.sql("SELECT p.trace_context, l.trace_id FROM posts p "
                                                "JOIN processing_logs l ON l.post_id = p.id")
        assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-00", traceparent) and log_trace == traceparent[3:35]
        lines = [json.loads(line) for line in scheduler.log().splitlines() if line.startswith("{")]
        (created,) = [line for line in lines if line["event"] == "posts created"]
        assert created["trace_id"] == log_trace

        # The control: the same service told the endpoint exports there within the same wait.
        traced = suite.start("scheduler", OTEL_EXPORTER_OTLP_ENDPOINT=default.endpoint)
        Tenant(traced.addr, TENANT_TOKENS["acme"]).CreatePost(
            scheduler_pb2.CreatePostRequest(account_id=account.account_id, text="traced"))
        time.sleep(1.5)
        assert default.spans, "the control exported nothing: the check above proves nothing"
        rows = suite.sql("SELECT trace_context FROM posts ORDER BY created_at")
        assert int(rows[1][0][-2:], 16) & 1 and not int(rows[0][0][-2:], 16) & 1, rows  # sampled, and not
    finally:
        default.stop()
