"""The admin service end to end, with the whole suite as real processes and fake-meta."""

from __future__ import annotations

import queue
import threading
from datetime import datetime, timedelta, timezone

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from postsched.v1 import admin_pb2, admin_pb2_grpc, resources_pb2, scheduler_pb2
from postsched_devtools.tenant import Tenant
from tests.conftest import ADMIN_TOKEN, TENANT_TOKENS
from postsched_devtools.fake_meta.control import FakeMeta
from postsched_devtools.processes import Suite

pytestmark = pytest.mark.e2e
Req = scheduler_pb2
ADMIN = (("authorization", f"Bearer {ADMIN_TOKEN}"),)


class Ops:
    def __init__(self, suite: Suite, fake_meta: FakeMeta) -> None:
        suite.base_env["POSTSCHED_META_GRAPH_URL"] = fake_meta.graph_url
        self.suite = suite
        self.fake = fake_meta
        self.scheduler = suite.start("scheduler")
        suite.start("dispatcher")
        suite.start("publisher", POSTSCHED_RETRY_BASE="0.2", POSTSCHED_RETRY_MAX="1")
        self.admin_service = suite.start("admin")
        self.admin = admin_pb2_grpc.AdminServiceStub(grpc.insecure_channel(self.admin_service.addr))
        self.acme = Tenant(self.scheduler.addr, TENANT_TOKENS["acme"])

    def call(self, method: str, request):  # type: ignore[no-untyped-def]
        return getattr(self.admin, method)(request, metadata=ADMIN, timeout=30)

    def post(self, account: resources_pb2.Account, text: str, at: datetime | None = None) -> str:
        request = Req.CreatePostRequest(account_id=account.account_id, text=text)
        if at:
            request.scheduled_at.FromDatetime(at)
        return self.acme.CreatePost(request).post_id

    def status(self, post_id: str) -> int:
        return self.acme.GetPost(Req.GetPostRequest(post_id=post_id)).status


@pytest.fixture
def ops(suite: Suite, fake_meta: FakeMeta) -> Ops:
    return Ops(suite, fake_meta)


def true_counts(suite: Suite, where: str = "true", params: tuple = ()) -> dict[str, int]:
    return dict(suite.sql(f"SELECT status::text, count(*) FROM posts WHERE {where} GROUP BY 1", params))


def as_counts(stats: admin_pb2.QueueStats) -> dict[str, int]:
    counts = {"SCHEDULED": stats.scheduled, "QUEUED": stats.queued, "PUBLISHING": stats.publishing,
              "PUBLISHED": stats.published, "FAILED": stats.failed, "CANCELLED": stats.cancelled}
    return {k: v for k, v in counts.items() if v}


def test_stats_agree_with_the_posts_true_states(ops: Ops) -> None:
    good = ops.acme.page_account("7770001")
    bad = ops.acme.page_account("7770002")
    paused = ops.acme.page_account("7770003")
    ops.fake.fault(kind="error", account="7770002", endpoint="feed", times=0, http_status=400, code=100)
    ops.call("PauseAccount", admin_pb2.PauseAccountRequest(account_id=paused.account_id))
    for i in range(3):
        ops.post(good, f"good {i}")
    for i in range(2):
        ops.post(bad, f"bad {i}")
    for i in range(2):
        ops.post(paused, f"held {i}")
    later = datetime.now(timezone.utc) + timedelta(days=3)
    cancelled = [ops.post(good, f"cancel {i}", at=later) for i in range(2)]
    ops.post(good, "later", at=later)
    for post_id in cancelled:
        ops.acme.CancelPost(Req.CancelPostRequest(post_id=post_id))
    ops.suite.wait_for("SELECT count(*) FROM posts WHERE status IN ('PUBLISHED', 'FAILED')", 5)
    stats = ops.call("GetQueueStats", admin_pb2.GetQueueStatsRequest())
    assert as_counts(stats) == true_counts(ops.suite) == {"PUBLISHED": 3, "FAILED": 2, "CANCELLED": 2, "SCHEDULED": 3}
    assert stats.published_last_minute == 3 and stats.failed_last_minute == 2
    assert stats.published_last_hour == 3 and stats.failed_last_hour == 2
    assert stats.oldest_overdue_seconds > 0  # the paused account's due posts
    one = ops.call("GetQueueStats", admin_pb2.GetQueueStatsRequest(account_id=bad.account_id))
    assert as_counts(one) == {"FAILED": 2}
    tenant = ops.call("GetQueueStats", admin_pb2.GetQueueStatsRequest(tenant_id="globex"))
    assert as_counts(tenant) == {}
    assert ops.status(cancelled[0]) == resources_pb2.CANCELLED

    ops.call("ResumeAccount", admin_pb2.ResumeAccountRequest(account_id=paused.account_id))
    ops.suite.wait_for("SELECT count(*) FROM posts WHERE status = 'PUBLISHED'", 5)
    stats = ops.call("GetQueueStats", admin_pb2.GetQueueStatsRequest())
    assert as_counts(stats) == true_counts(ops.suite) and stats.oldest_overdue_seconds == 0
    failed = ops.call("ListFailedPosts", admin_pb2.ListFailedPostsRequest(page_size=1))
    assert len(failed.posts) == 1 and failed.next_page_token and "Meta error 100" in failed.posts[0].last_error
    rest = ops.call("ListFailedPosts", admin_pb2.ListFailedPostsRequest(page_size=1, page_token=failed.next_page_token))
    assert len(rest.posts) == 1 and rest.posts[0].post_id != failed.posts[0].post_id and not rest.next_page_token


def test_retry_publishes_a_failed_post_exactly_once(ops: Ops) -> None:
    page = ops.acme.page_account("7770004")
    ops.fake.fault(kind="error", account="7770004", endpoint="feed", times=3, http_status=400, code=100)
    first, second, third = (ops.post(page, f"retry me {i}") for i in range(3))
    ops.suite.wait_for("SELECT count(*) FROM posts WHERE status = 'FAILED'", 3)
    retried = ops.call("RetryPost", admin_pb2.RetryPostRequest(post_id=first))
    assert retried.status == resources_pb2.SCHEDULED and retried.attempts == 0 and retried.tenant_id == "acme"
    ops.suite.wait_for("SELECT status::text FROM posts WHERE id = %s", "PUBLISHED", params=(first,))
    assert ops.call("RetryFailed", admin_pb2.RetryFailedRequest(account_id=page.account_id)).retried == 2
    ops.suite.wait_for("SELECT count(*) FROM posts WHERE status = 'PUBLISHED'", 3)
    texts = [p["message"] for p in ops.fake.posts("7770004")]
    assert sorted(texts) == ["retry me 0", "retry me 1", "retry me 2"]
    for post_id in (first, second, third):
        events = [e.event for e in ops.call("ListProcessingLogs", admin_pb2.ListProcessingLogsRequest(post_id=post_id)).entries]
        assert events[0] == "published" and "retried" in events and "failed" in events
    with pytest.raises(grpc.RpcError) as info:
        ops.call("RetryPost", admin_pb2.RetryPostRequest(post_id=first))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "PUBLISHED" in info.value.details()
    with pytest.raises(grpc.RpcError) as info:
        ops.call("RetryPost", admin_pb2.RetryPostRequest(post_id="00000000-0000-0000-0000-000000000000"))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as info:
        ops.call("RetryPost", admin_pb2.RetryPostRequest(post_id="not-an-id"))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_clear_removes_only_what_it_should(ops: Ops) -> None:
    page = ops.acme.page_account("7770005")
    ops.fake.fault(kind="error", account="7770005", endpoint="feed", times=1, http_status=500, code=2)
    old = [ops.post(page, f"old {i}") for i in range(3)]  # the first one needed a second attempt
    ops.suite.wait_for("SELECT count(*) FROM posts WHERE status = 'PUBLISHED'", 3)
    recent = ops.post(page, "recent")
    pending = ops.post(page, "pending", at=datetime.now(timezone.utc) + timedelta(days=2))
    ops.suite.wait_for("SELECT count(*) FROM posts WHERE status = 'PUBLISHED'", 4)
    ops.suite.sql("UPDATE posts SET published_at = now() - interval '40 days' WHERE id = ANY(%s::uuid[])", (old,))
    cutoff = Timestamp()
    cutoff.FromDatetime(datetime.now(timezone.utc) - timedelta(days=30))
    assert ops.call("ClearCompleted", admin_pb2.ClearCompletedRequest(older_than=cutoff)).deleted == 3
    remaining = {r[0] for r in ops.suite.sql("SELECT id::text FROM posts")}
    assert remaining == {recent, pending}
    kept = ops.suite.sql("SELECT DISTINCT event FROM processing_logs WHERE post_id = ANY(%s::uuid[])", (old,))
    assert kept == [("attempt_failed",)]  # the story of trouble stays, the rest goes
    stats = ops.call("GetQueueStats", admin_pb2.GetQueueStatsRequest())
    assert as_counts(stats) == true_counts(ops.suite) == {"PUBLISHED": 1, "SCHEDULED": 1}
    # Default cutoff (30 days): nothing else is that old.
    assert ops.call("ClearCompleted", admin_pb2.ClearCompletedRequest()).deleted == 0
    future = Timestamp()
    future.FromDatetime(datetime.now(timezone.utc) + timedelta(days=1))
    with pytest.raises(grpc.RpcError) as info:
        ops.call("ClearCompleted", admin_pb2.ClearCompletedRequest(older_than=future))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_watch_queue_sends_changes(ops: Ops) -> None:
    page = ops.acme.page_account("7770006")
    updates: queue.Queue = queue.Queue()
    stream = ops.admin.WatchQueue(admin_pb2.WatchQueueRequest(tenant_id="acme"), metadata=ADMIN, timeout=30)

    def read() -> None:
        try:
            for stats in stream:
                updates.put(stats)
        except grpc.RpcError:
            pass

    threading.Thread(target=read, daemon=True).start()
    first = updates.get(timeout=10)
    assert first.published == 0
    ops.post(page, "watch me")
    deadline = datetime.now() + timedelta(seconds=20)
    seen = first
    while seen.published == 0 and datetime.now() < deadline:
        seen = updates.get(timeout=20)
    assert seen.published == 1
    stream.cancel()


def test_admin_needs_the_operator_token(ops: Ops) -> None:
    for metadata in ((), (("authorization", "Bearer wrong"),), (("authorization", f"Bearer {TENANT_TOKENS['acme']}"),)):
        with pytest.raises(grpc.RpcError) as info:
            ops.admin.GetQueueStats(admin_pb2.GetQueueStatsRequest(), metadata=metadata, timeout=10)
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as info:
        ops.call("ListProcessingLogs", admin_pb2.ListProcessingLogsRequest(page_token="garbage"))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as info:
        ops.call("PauseAccount", admin_pb2.PauseAccountRequest(account_id="00000000-0000-0000-0000-000000000000"))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
