"""The publishing quotas Meta enforces, read and respected: scheduler, dispatcher and publisher
processes, fake-meta (with a short quota window), PostgreSQL, NATS."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest

from postsched.v1 import resources_pb2, scheduler_pb2
from postsched_devtools.fake_meta.control import FakeMeta
from postsched_devtools.processes import Suite
from tests.conftest import ADMIN_TOKEN
from tests.dashboard_http import request
from tests.e2e.test_dashboard_security_e2e import session_of, sign_in
from tests.e2e.test_post_kinds_e2e import Pipeline as KindsPipeline
from tests.e2e.test_publisher_e2e import Pipeline, publisher_status
from tests.waiting import until

pytestmark = pytest.mark.e2e
Req = scheduler_pb2
IG = "17841400000002001"
WINDOW = 25  # seconds: fake-meta's content_publishing_limit window in this test (a day at Meta)


def test_an_account_at_49_of_50_publishes_one_and_the_others_wait_for_the_window(
        suite: Suite, fake_meta: FakeMeta) -> None:
    pipeline = Pipeline(suite, fake_meta)
    fake_meta.settings(ig_quota_total=50, ig_quota_seconds=WINDOW)
    fake_meta.page_posts(IG, 49, message="by another tool {i}", kind="ig_media")
    seeded = time.time()
    ig = pipeline.client.instagram_account(IG)
    posts = pipeline.client.BatchCreatePosts(Req.BatchCreatePostsRequest(requests=[
        Req.CreatePostRequest(account_id=ig.account_id, text=f"post {i}", media_urls=[f"https://cdn.example.com/{i}.jpg"],
                              first_comment=f"comment {i}")
        for i in range(5)])).posts
    ids = [p.post_id for p in posts]

    suite.wait_for("SELECT count(*) FROM posts WHERE status = 'PUBLISHED'", 1, timeout=30)
    suite.wait_for("SELECT count(DISTINCT post_id) FROM processing_logs WHERE event = 'rate_limited'", 4, timeout=30)
    # SCHEDULED, or QUEUED already: the dispatcher leases a little ahead and hands over at the second.
    waiting = [p for p in map(pipeline.get, ids) if p.status in (resources_pb2.SCHEDULED, resources_pb2.QUEUED)]
    assert len(waiting) == 4, [(p.status, p.last_error, p.attempts) for p in map(pipeline.get, ids)]
    for post in waiting:
        assert post.attempts == 0  # the wait spent no attempt
        assert "Instagram's publishing limit is used up (50 of 50 in 25 s)" in post.last_error, post.last_error
    # Each was told when: as the oldest of the 49 leaves the window (Meta's whole seconds, plus one).
    rows = suite.sql("SELECT e.data->>'due_at' FROM events e WHERE e.type = 'post.waiting' AND e.post_id = ANY(%s)",
                     ([p.post_id for p in waiting],))
    assert len(rows) >= 4
    for (due,) in rows:
        assert abs(datetime.fromisoformat(due).timestamp() - (int(seeded) + WINDOW + 1)) <= 2, due
    # The quota holds back publications, not the account: the published post's first comment goes
    # now, long before the window frees.
    (first,) = [p for p in map(pipeline.get, ids) if p.status == resources_pb2.PUBLISHED]
    until(lambda: pipeline.get(first.post_id).first_comment_status == resources_pb2.FIRST_COMMENT_PUBLISHED,
          timeout=WINDOW / 2, what="the first comment under the published post")
    assert time.time() < seeded + WINDOW
    # GetAccount and GetPublisherStatus show the quota.
    (quota,) = pipeline.client.GetAccount(Req.GetAccountRequest(account_id=ig.account_id)).publishing_quotas
    assert (quota.name, quota.used, quota.total, quota.window.seconds) == ("instagram_posts", 50, 50, WINDOW)
    assert quota.read_at.seconds and quota.frees_at.seconds
    (state,) = [a for a in publisher_status(pipeline.publisher).accounts if a.external_id == IG]
    assert (state.instagram_quota_used, state.instagram_quota_total) == (50, 50)
    assert [q.name for q in state.publishing_quotas] == ["instagram_posts"]
    # The dashboard shows it too, with when a place frees up.
    admin = suite.start("admin")
    session = session_of(sign_in(admin, ADMIN_TOKEN)[1])
    overview = json.loads(request(admin, "/api/overview", headers=session)[2])
    (row,) = [a for a in overview["accounts"] if a["account_id"] == ig.account_id]
    (shown,) = row["quotas"]
    assert (shown["name"], shown["used"], shown["total"], shown["window_s"]) == ("instagram_posts", 50, 50, WINDOW)
    assert shown["frees_at"]

    # Once the 49 have left the window, the four go, each with its first attempt.
    pipeline.wait_terminal(5, timeout=WINDOW + 40)
    for post_id in ids:
        post = pipeline.get(post_id)
        assert post.status == resources_pb2.PUBLISHED and post.attempts == 1, post
    assert min(pipeline.get(i).published_at.seconds for i in (p.post_id for p in waiting)) >= int(seeded) + WINDOW
    # Not one media_publish call was spent against the limit: five calls, five publications.
    assert len(fake_meta.calls(IG, "media_publish")) == 5
    assert len(fake_meta.posts(IG)) == 5


def test_the_quota_is_read_before_a_publication_only_when_near_it(pipeline_quota: Pipeline) -> None:
    """Far from its cap an account's quota is read once and counted after; near it, before each."""
    pipeline = pipeline_quota
    pipeline.fake.settings(ig_quota_total=50)
    far = pipeline.client.instagram_account("17841400000002002")
    for i in range(3):  # one after the other: two first reads at once would both read
        pipeline.post(far, f"far {i}", media=[f"https://cdn.example.com/f{i}.jpg"])
        pipeline.wait_terminal(i + 1)
    assert len(pipeline.fake.calls("17841400000002002", "content_publishing_limit")) == 1
    near = pipeline.client.instagram_account("17841400000002003")
    pipeline.fake.page_posts("17841400000002003", 46, kind="ig_media")
    for i in range(3):
        pipeline.post(near, f"near {i}", media=[f"https://cdn.example.com/n{i}.jpg"])
    pipeline.wait_terminal(6)
    assert len(pipeline.fake.calls("17841400000002003", "content_publishing_limit")) == 3
    (quota,) = pipeline.client.GetAccount(Req.GetAccountRequest(account_id=near.account_id)).publishing_quotas
    assert quota.used == 49 and quota.total == 50
    assert datetime.now(timezone.utc).timestamp() - quota.read_at.seconds < 60


@pytest.fixture
def pipeline_quota(suite: Suite, fake_meta: FakeMeta) -> Pipeline:
    return Pipeline(suite, fake_meta)


def test_a_page_publishes_at_most_30_reels_a_day(suite: Suite, fake_meta: FakeMeta) -> None:
    """No endpoint says how many Reels a Page published: postsched counts its own. 32 due at once:
    30 go, 2 wait (no finish call against the limit), each told until when."""
    pipeline = KindsPipeline(suite, fake_meta)
    fake_meta.settings(video_processing_seconds=0)
    page = pipeline.client.page_account("5552001")
    ids = [pipeline.post(page, resources_pb2.REEL, f"https://cdn.example.com/reel{i}.mp4", f"reel {i}")
           for i in range(32)]
    suite.wait_for("SELECT count(*) FROM posts WHERE status = 'PUBLISHED'", 30, timeout=90)
    suite.wait_for("SELECT count(DISTINCT post_id) FROM processing_logs WHERE event = 'rate_limited'", 2, timeout=30)
    time.sleep(2)  # nothing more goes out
    posts = [pipeline.get(i) for i in ids]
    assert sum(p.status == resources_pb2.PUBLISHED for p in posts) == 30
    held = [p for p in posts if p.status != resources_pb2.PUBLISHED]
    assert len(held) == 2
    for post in held:
        # "(n of 30 ...)": n counts the Reels of other attempts under way at that moment too.
        assert post.attempts == 0 and "Facebook's Reels publishing limit is used up (" in post.last_error
        assert " of 30 in 24 h); a place frees up at " in post.last_error
    finishes = [c for c in fake_meta.calls("5552001", "video_reels") if c["phase"] == "finish"]
    assert len(fake_meta.posts("5552001")) == 30 and len(finishes) == 30
    (quota,) = pipeline.client.GetAccount(Req.GetAccountRequest(account_id=page.account_id)).publishing_quotas
    assert (quota.name, quota.used, quota.total) == ("facebook_reels", 30, 30) and not quota.read_at.seconds
