"""The dispatcher end to end: real scheduler and dispatcher processes, real PostgreSQL and NATS."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from postsched.embedded import EmbeddedNats, free_port
from postsched.v1 import dispatcher_pb2, dispatcher_pb2_grpc, scheduler_pb2
from postsched_devtools.tenant import Tenant
from tests.conftest import ADMIN_TOKEN, TENANT_TOKENS
from postsched_devtools.fake_meta.control import FakeMeta
from postsched_devtools.processes import ROOT, ServiceProcess, Suite
from tests.jetstream import stream_and_consumer, stream_messages

pytestmark = pytest.mark.e2e
ADMIN = (("authorization", f"Bearer {ADMIN_TOKEN}"),)


def ts(value: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(value)
    return out


def dispatcher_stub(service: ServiceProcess) -> dispatcher_pb2_grpc.DispatcherServiceStub:
    return dispatcher_pb2_grpc.DispatcherServiceStub(grpc.insecure_channel(service.addr))


def create_posts(scheduler: ServiceProcess, count: int, *, at: list[datetime] | None = None) -> list[str]:
    """Creates `count` posts on a new webhook account through the real scheduler; returns their ids."""
    client = Tenant(scheduler.addr, TENANT_TOKENS["acme"])
    account = client.webhook_account(f"hook-{time.monotonic_ns()}")
    ids: list[str] = []
    for start in range(0, count, 1000):
        requests = []
        for i in range(start, min(count, start + 1000)):
            request = scheduler_pb2.CreatePostRequest(account_id=account.account_id, text=f"post {i}")
            if at:
                request.scheduled_at.CopyFrom(ts(at[i]))
            requests.append(request)
        ids += [p.post_id for p in client.BatchCreatePosts(scheduler_pb2.BatchCreatePostsRequest(requests=requests)).posts]
    client.close()
    return ids


def assert_each_once(messages, ids: list[str]) -> None:  # type: ignore[no-untyped-def]
    posted = [str(m.body.post_id) for m in messages]
    assert len(posted) == len(set(posted)), "a post reached the stream twice"
    assert sorted(posted) == sorted(ids)


def test_dispatch_now_hands_over_due_posts(suite: Suite) -> None:
    scheduler = suite.start("scheduler")
    dispatcher = suite.start("dispatcher", POSTSCHED_DISPATCH_INTERVAL="3600", POSTSCHED_DISPATCH_BATCH="7")
    # Posts created after the first tick are due now; the NOTIFY catch-up may lease some at once.
    ids = create_posts(scheduler, 30)
    reply = dispatcher_stub(dispatcher).DispatchNow(dispatcher_pb2.DispatchNowRequest(), metadata=ADMIN)
    assert reply.leased <= 30
    suite.wait_for("SELECT count(*) FROM posts WHERE handed_over_at IS NOT NULL", 30)
    messages = stream_messages(suite.nats_url)
    assert_each_once(messages, ids)
    generations = dict(suite.sql("SELECT id::text, dispatch_generation FROM posts"))
    for m in messages:
        assert m.subject == "postsched.publish.webhook"
        assert m.msg_id == f"{m.body.post_id}:{generations[str(m.body.post_id)]}"
    assert suite.sql("SELECT DISTINCT status::text FROM posts") == [("QUEUED",)]
    events = suite.sql("SELECT event, count(*) FROM processing_logs GROUP BY event ORDER BY event")
    assert events == [("created", 30), ("handed_over", 30), ("queued", 30)]
    status = dispatcher_stub(dispatcher).GetDispatcherStatus(dispatcher_pb2.GetDispatcherStatusRequest(), metadata=ADMIN)
    assert status.leased_total == 30 and status.published_total == 30 and status.nats_connected


def test_posts_reach_the_stream_on_their_second(suite: Suite) -> None:
    scheduler = suite.start("scheduler")
    suite.start("dispatcher")  # the default 60 s tick
    now = datetime.now(timezone.utc)
    at = [now + timedelta(seconds=2 + i * 0.05) for i in range(60)]
    create_posts(scheduler, 60, at=at)
    suite.wait_for("SELECT count(*) FROM posts WHERE handed_over_at IS NOT NULL", 60, timeout=20)
    (late_max, early_max) = suite.sql(
        "SELECT max(extract(epoch FROM handed_over_at - scheduled_at)), "
        "max(extract(epoch FROM scheduled_at - handed_over_at)) FROM posts"
    )[0]
    assert late_max < 1.0, f"a post was handed over {late_max:.3f}s late"
    assert early_max <= 0, "a post was handed over before its time"


def test_paused_or_reauth_accounts_are_not_leased(suite: Suite) -> None:
    scheduler = suite.start("scheduler")
    dispatcher = suite.start("dispatcher", POSTSCHED_DISPATCH_INTERVAL="3600")
    suite.sql("ALTER TABLE posts DISABLE TRIGGER posts_notify_due_insert")  # leave leasing to DispatchNow
    ids = create_posts(scheduler, 4)
    suite.sql("UPDATE accounts SET paused = true")
    stub = dispatcher_stub(dispatcher)
    assert stub.DispatchNow(dispatcher_pb2.DispatchNowRequest(), metadata=ADMIN).leased == 0
    suite.sql("UPDATE accounts SET paused = false, needs_credentials = true")
    assert stub.DispatchNow(dispatcher_pb2.DispatchNowRequest(), metadata=ADMIN).leased == 0
    suite.sql("UPDATE accounts SET needs_credentials = false")
    reply = stub.DispatchNow(dispatcher_pb2.DispatchNowRequest(), metadata=ADMIN)
    assert (reply.leased, reply.published) == (4, 4)
    assert_each_once(stream_messages(suite.nats_url), ids)


def test_two_dispatchers_put_5000_posts_in_the_stream_once_each(suite: Suite) -> None:
    scheduler = suite.start("scheduler")
    settings = dict(POSTSCHED_DISPATCH_INTERVAL="1", POSTSCHED_DISPATCH_BATCH="100")
    suite.start("dispatcher", **settings)
    suite.start("dispatcher", **settings)
    # Both are up before the posts arrive, so every batch wakes both and they race for the rows.
    ids = create_posts(scheduler, 5000)
    suite.wait_for("SELECT count(*) FROM posts WHERE handed_over_at IS NOT NULL", 5000, timeout=60)
    assert_each_once(stream_messages(suite.nats_url), ids)
    owners = suite.sql("SELECT count(DISTINCT lease_owner), max(dispatch_generation) FROM posts")
    assert owners == [(2, 1)], "both dispatchers should have leased, each post once"


def test_sigkill_while_holding_leases_loses_nothing(suite: Suite) -> None:
    scheduler = suite.start("scheduler")
    doomed = suite.start("dispatcher", POSTSCHED_LEASE_GRACE="1")
    due = datetime.now(timezone.utc) + timedelta(seconds=3)
    ids = create_posts(scheduler, 50, at=[due] * 50)
    suite.wait_for("SELECT count(*) FROM posts WHERE status = 'QUEUED'", 50)  # leased, held in memory
    doomed.stop(signal.SIGKILL)
    assert stream_messages(suite.nats_url) == []
    suite.start("dispatcher", POSTSCHED_LEASE_GRACE="1")
    suite.wait_for("SELECT count(*) FROM posts WHERE handed_over_at IS NOT NULL", 50, timeout=30)
    assert_each_once(stream_messages(suite.nats_url), ids)
    assert suite.sql("SELECT DISTINCT dispatch_generation FROM posts") == [(2,)]
    assert suite.sql("SELECT count(*) FROM processing_logs WHERE event = 'lease_expired'") == [(50,)]


def test_sigterm_releases_what_it_holds(suite: Suite) -> None:
    scheduler = suite.start("scheduler")
    dispatcher = suite.start("dispatcher")
    due = datetime.now(timezone.utc) + timedelta(seconds=30)
    create_posts(scheduler, 20, at=[due] * 20)
    suite.wait_for("SELECT count(*) FROM posts WHERE status = 'QUEUED'", 20)
    assert dispatcher.stop(signal.SIGTERM) == 0
    assert suite.sql("SELECT status::text, count(*) FROM posts GROUP BY 1") == [("SCHEDULED", 20)]
    assert suite.sql("SELECT count(*) FROM processing_logs WHERE event = 'released'") == [(20,)]
    assert stream_messages(suite.nats_url) == []


def test_nats_restart_during_hand_over_loses_nothing(suite: Suite, tmp_path: Path) -> None:
    port = free_port()
    nats_server = EmbeddedNats(tmp_path / "own-nats", port=port).start()
    try:
        url = nats_server.url
        scheduler = suite.start("scheduler")
        dispatcher = suite.start("dispatcher", POSTSCHED_NATS_URL=url, POSTSCHED_LEASE_GRACE="20")
        start = datetime.now(timezone.utc) + timedelta(seconds=2)
        at = [start + timedelta(seconds=i * 0.004) for i in range(1000)]  # over four seconds
        ids = create_posts(scheduler, 1000, at=at)
        time.sleep(max(0.0, (start - datetime.now(timezone.utc)).total_seconds()) + 1.0)
        nats_server.kill()  # mid-way through the hand-over
        # Longer than the hand-over's ack timeout (5 s): nats-py buffers publishes while it
        # reconnects, so a shorter outage may cost no failed publish at all.
        time.sleep(6.0)
        nats_server = EmbeddedNats(tmp_path / "own-nats", port=port).start()
        suite.wait_for("SELECT count(*) FROM posts WHERE handed_over_at IS NOT NULL", 1000, timeout=60)
        assert_each_once(stream_messages(url), ids)
        status = dispatcher_stub(dispatcher).GetDispatcherStatus(dispatcher_pb2.GetDispatcherStatusRequest(),
                                                                 metadata=ADMIN)
        assert status.publish_failures_total > 0, "the restart should have interrupted the hand-over"
    finally:
        nats_server.stop()


def test_cancelled_after_lease_cannot_be_claimed(suite: Suite) -> None:
    scheduler = suite.start("scheduler")
    suite.start("dispatcher")
    due = datetime.now(timezone.utc) + timedelta(seconds=30)
    (post_id,) = create_posts(scheduler, 1, at=[due])
    suite.wait_for("SELECT status::text FROM posts", "QUEUED")
    client = Tenant(scheduler.addr, TENANT_TOKENS["acme"])
    assert client.CancelPost(scheduler_pb2.CancelPostRequest(post_id=post_id)).status == 6  # CANCELLED
    # The publisher claims with this compare-and-set; a cancelled post never matches it.
    claimed = suite.sql(
        "UPDATE posts SET status = 'PUBLISHING' WHERE id = %s AND status = 'QUEUED' AND dispatch_generation = 1 "
        "RETURNING id", (post_id,))
    assert claimed == []


def test_dispatcher_needs_the_operator_token(suite: Suite) -> None:
    dispatcher = suite.start("dispatcher")
    with pytest.raises(grpc.RpcError) as info:
        dispatcher_stub(dispatcher).DispatchNow(dispatcher_pb2.DispatchNowRequest(),
                                                metadata=(("authorization", f"Bearer {TENANT_TOKENS['acme']}"),))
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_jetstream_setup_is_idempotent_and_follows_settings(suite: Suite) -> None:
    first = suite.start("dispatcher")
    stream, consumer = stream_and_consumer(suite.nats_url)
    assert stream.config.retention == "limits" and stream.config.storage == "file"
    assert stream.config.max_age == 24 * 3600
    assert stream.config.subjects == ["postsched.publish.>"] and stream.config.duplicate_window == 120
    assert consumer.config.max_deliver == 3 and not consumer.config.backoff and consumer.config.ack_wait == 60
    first.stop()
    suite.start("dispatcher", POSTSCHED_MAX_DELIVERIES="5", POSTSCHED_BACKOFF="10,20,40")
    _, consumer = stream_and_consumer(suite.nats_url)
    assert consumer.config.max_deliver == 5 and consumer.config.backoff == [10.0, 20.0, 40.0]


def test_bad_backoff_setting_stops_the_process(suite: Suite) -> None:
    env = {**suite.base_env, "POSTSCHED_BACKOFF": "1,2,3", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "postsched.cli", "serve", "dispatcher"], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "POSTSCHED_BACKOFF" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def _make_stream(url: str, retention: str) -> None:
    import asyncio

    import nats
    from nats.js import api

    async def make() -> None:
        nc = await nats.connect(url)
        await nc.jetstream().add_stream(api.StreamConfig(name="POSTSCHED", subjects=["postsched.publish.>"],
                                                         retention=api.RetentionPolicy(retention)))
        await nc.close()

    asyncio.run(make())


def test_a_stream_that_cannot_be_changed_in_place_stops_the_dispatcher(suite: Suite) -> None:
    _make_stream(suite.nats_url, "interest")
    # Off the default ports: `postsched up` may hold them in another test process.
    env = {**suite.base_env, "PATH": "/usr/bin:/bin", "POSTSCHED_DISPATCHER_METRICS_ADDR": "off",
           "POSTSCHED_DISPATCHER_ADDR": f"127.0.0.1:{free_port()}"}
    result = subprocess.run([sys.executable, "-m", "postsched.cli", "serve", "dispatcher"], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "retention" in last and "nats stream rm POSTSCHED" in last, last


def test_a_work_queue_stream_of_an_earlier_version_is_kept_and_still_works(suite: Suite, fake_meta: FakeMeta) -> None:
    _make_stream(suite.nats_url, "workqueue")
    suite.base_env["POSTSCHED_META_GRAPH_URL"] = fake_meta.graph_url
    scheduler = suite.start("scheduler")
    dispatcher = suite.start("dispatcher")
    suite.start("publisher")
    stream, _ = stream_and_consumer(suite.nats_url)
    assert stream.config.retention == "workqueue"
    assert "work-queue retention" in dispatcher.log()
    client = Tenant(scheduler.addr, TENANT_TOKENS["acme"])
    page = client.page_account("7770090")
    client.BatchCreatePosts(scheduler_pb2.BatchCreatePostsRequest(requests=[
        scheduler_pb2.CreatePostRequest(account_id=page.account_id, text=f"old stream {i}") for i in range(50)]))
    suite.wait_for("SELECT count(*) FROM posts WHERE status = 'PUBLISHED'", 50)
    assert len(fake_meta.posts("7770090")) == 50
