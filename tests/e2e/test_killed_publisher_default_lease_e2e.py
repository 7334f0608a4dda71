"""A publisher killed mid-attempt, with the default publishing lease (30 s): its posts are settled
within about a minute, and none is published twice."""

from __future__ import annotations

import signal
import time

import pytest

from postsched.v1 import scheduler_pb2
from postsched_devtools.fake_meta.control import FakeMeta
from postsched_devtools.processes import Suite
from tests.e2e.test_publisher_e2e import FAST, Pipeline

pytestmark = pytest.mark.e2e
Req = scheduler_pb2


def test_a_killed_publishers_posts_are_settled_within_a_minute(suite: Suite, fake_meta: FakeMeta) -> None:
    pipeline = Pipeline(suite, fake_meta)
    page = pipeline.client.page_account("7771001")
    fake_meta.fault(kind="latency", account="7771001", endpoint="feed", times=100, latency_ms=3000)
    requests = [Req.CreatePostRequest(account_id=page.account_id, text=f"in flight when killed {i}") for i in range(100)]
    pipeline.client.BatchCreatePosts(Req.BatchCreatePostsRequest(requests=requests))
    suite.wait_for("SELECT count(*) FROM posts WHERE status = 'PUBLISHING'", 100)
    pipeline.publisher.stop(signal.SIGKILL)
    killed = time.monotonic()
    suite.start("publisher", **FAST)
    pipeline.wait_terminal(100, timeout=90)
    settled = time.monotonic() - killed
    print(f"settled {settled:.1f}s after the kill")
    published = [p["message"] for p in fake_meta.posts("7771001")]
    assert len(published) == len(set(published)) == 100
    assert settled < 60, f"took {settled:.0f}s"
