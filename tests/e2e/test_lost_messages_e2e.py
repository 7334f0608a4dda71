"""A JetStream message lost after its hand-over costs minutes, not an hour: real dispatcher and
publisher processes, a real nats-server whose stream is purged or recreated under them."""

from __future__ import annotations

import asyncio
import time

import nats
import pytest

from postsched.broker import STREAM
from postsched.v1 import scheduler_pb2
from postsched_devtools.tenant import Tenant
from tests.conftest import TENANT_TOKENS
from postsched_devtools.fake_meta.control import FakeMeta
from postsched_devtools.processes import Suite
from tests.e2e.test_publisher_e2e import FAST

pytestmark = pytest.mark.e2e
Req = scheduler_pb2
QUICK = dict(POSTSCHED_LOST_MESSAGE_AFTER="2")


def queue_posts(suite: Suite, fake_meta: FakeMeta, page_id: str, count: int) -> Tenant:
    suite.base_env["POSTSCHED_META_GRAPH_URL"] = fake_meta.graph_url
    scheduler = suite.start("scheduler")
    suite.start("dispatcher", **QUICK)
    client = Tenant(scheduler.addr, TENANT_TOKENS["acme"])
    page = client.page_account(page_id)
    requests = [Req.CreatePostRequest(account_id=page.account_id, text=f"lost {i}") for i in range(count)]
    client.BatchCreatePosts(Req.BatchCreatePostsRequest(requests=requests))
    suite.wait_for("SELECT count(*) FROM posts WHERE status = 'QUEUED' AND stream_seq IS NOT NULL", count)
    return client


async def _stream(url: str, action: str) -> int:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        if action == "purge":
            await js.purge_stream(STREAM)
        elif action == "recreate":
            config = (await js.stream_info(STREAM)).config
            await js.delete_stream(STREAM)
            await js.add_stream(config)
        return (await js.stream_info(STREAM)).state.messages
    finally:
        await nc.close()


def test_a_backlog_waiting_in_the_stream_is_left_alone(suite: Suite, fake_meta: FakeMeta) -> None:
    queue_posts(suite, fake_meta, "8880001", 300)
    time.sleep(6)  # three times POSTSCHED_LOST_MESSAGE_AFTER, with no publisher running
    assert asyncio.run(_stream(suite.nats_url, "count")) == 300
    assert suite.sql("SELECT count(*) FROM processing_logs WHERE event = 'message_lost'") == [(0,)]
    assert suite.sql("SELECT max(dispatch_generation) FROM posts") == [(1,)]
    suite.start("publisher", **FAST)
    suite.wait_for("SELECT count(*) FROM posts WHERE status = 'PUBLISHED'", 300, timeout=60)
    assert len(fake_meta.posts("8880001")) == 300


@pytest.mark.parametrize("action", ["purge", "recreate"])
def test_posts_whose_messages_vanished_are_handed_over_again_once(
    suite: Suite, fake_meta: FakeMeta, action: str
) -> None:
    queue_posts(suite, fake_meta, "8880002", 300)
    started = time.monotonic()
    assert asyncio.run(_stream(suite.nats_url, action)) == 0
    suite.start("publisher", **FAST)
    suite.wait_for("SELECT count(*) FROM posts WHERE status = 'PUBLISHED'", 300, timeout=60)
    recovered = time.monotonic() - started
    published = [p["message"] for p in fake_meta.posts("8880002")]
    assert len(published) == len(set(published)) == 300
    assert suite.sql("SELECT count(*) FROM processing_logs WHERE event = 'message_lost'") == [(300,)]
    assert suite.sql("SELECT min(dispatch_generation) FROM posts") == [(2,)]
    assert recovered < 30, f"took {recovered:.0f}s with POSTSCHED_LOST_MESSAGE_AFTER=2"
