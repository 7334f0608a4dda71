"""Reels, Stories and video posts end to end: scheduler, dispatcher and publisher processes, fake-meta.

Each kind is published once, through the endpoint Meta documents for it and with its parameters;
video processing takes several polls; a container or a video that ends in ERROR or EXPIRED fails
the post without a publishing call; an error answered after the publishing step went through
(a ghost success) is found, not repeated; a publisher killed mid-Reel leaves it to be finished once.
"""

from __future__ import annotations

import json
import signal
import time

import pytest

from postsched.v1 import resources_pb2, scheduler_pb2
from postsched_devtools.fake_meta.control import FakeMeta
from postsched_devtools.processes import Suite
from postsched_devtools.tenant import Tenant
from tests.conftest import TENANT_TOKENS

pytestmark = pytest.mark.e2e
Req = scheduler_pb2
FAST = dict(POSTSCHED_RETRY_BASE="0.2", POSTSCHED_RETRY_MAX="2", POSTSCHED_INSTAGRAM_POLL_INTERVAL="0.3")
TERMINAL = "SELECT count(*) FROM posts WHERE status IN ('PUBLISHED', 'FAILED')"
CDN = "https://cdn.example.com"


class Pipeline:
    def __init__(self, suite: Suite, fake: FakeMeta, **publisher_env: str) -> None:
        self.suite, self.fake = suite, fake
        suite.base_env.update(POSTSCHED_META_GRAPH_URL=fake.graph_url, POSTSCHED_META_UPLOAD_URL=fake.base)
        self.scheduler = suite.start("scheduler")
        self.dispatcher = suite.start("dispatcher", POSTSCHED_DISPATCH_INTERVAL="1")
        self.publisher_env = {**FAST, **publisher_env}
        self.publisher = suite.start("publisher", **self.publisher_env)
        self.client = Tenant(self.scheduler.addr, TENANT_TOKENS["acme"])

    def post(self, account: resources_pb2.Account, kind: int, media: str, text: str = "",
             reel: resources_pb2.ReelOptions | None = None) -> str:
        request = Req.CreatePostRequest(account_id=account.account_id, text=text, media_urls=[media], kind=kind,
                                        reel=reel)
        return self.client.CreatePost(request).post_id

    def get(self, post_id: str) -> resources_pb2.Post:
        return self.client.GetPost(Req.GetPostRequest(post_id=post_id))

    def wait_terminal(self, count: int, timeout: float = 60) -> None:
        self.suite.wait_for(TERMINAL, count, timeout=timeout)


@pytest.fixture
def pipeline(suite: Suite, fake_meta: FakeMeta) -> Pipeline:
    return Pipeline(suite, fake_meta)


def posts_of(fake: FakeMeta, account: str, kind: str) -> list[dict]:
    return [p for p in fake.posts(account) if p["kind"] == kind]


# --- Instagram ------------------------------------------------------------------------------------


def test_instagram_reel_and_stories_published_once_with_their_parameters(pipeline: Pipeline) -> None:
    ig_id = "17841400000000101"
    pipeline.fake.settings(video_processing_seconds=2)  # about seven polls at 0.3 s
    ig = pipeline.client.instagram_account(ig_id)
    reel = pipeline.post(ig, resources_pb2.REEL, f"{CDN}/reel.mp4", "a trial reel #new", resources_pb2.ReelOptions(
        cover_url=f"{CDN}/cover.jpg", thumb_offset_ms=2500, share_to_feed=False, audio_name="Our tune", trial=True,
        graduation_strategy=resources_pb2.SS_PERFORMANCE))
    image_story = pipeline.post(ig, resources_pb2.STORY, f"{CDN}/story.jpg")
    video_story = pipeline.post(ig, resources_pb2.STORY, f"{CDN}/story.mov")
    pipeline.wait_terminal(3)
    media = {m["media_type"] + ":" + (m["params"].get("video_url") or m["params"].get("image_url")): m
             for m in posts_of(pipeline.fake, ig_id, "ig_media")}
    assert set(media) == {f"REELS:{CDN}/reel.mp4", f"STORIES:{CDN}/story.jpg", f"STORIES:{CDN}/story.mov"}
    params = media[f"REELS:{CDN}/reel.mp4"]["params"]
    assert params == {"media_type": "REELS", "video_url": f"{CDN}/reel.mp4", "caption": "a trial reel #new",
                      "cover_url": f"{CDN}/cover.jpg", "thumb_offset": "2500", "share_to_feed": "false",
                      "audio_name": "Our tune", "trial_params": json.dumps({"graduation_strategy": "SS_PERFORMANCE"})}
    assert media[f"STORIES:{CDN}/story.jpg"]["params"] == {"media_type": "STORIES", "image_url": f"{CDN}/story.jpg"}
    assert media[f"STORIES:{CDN}/story.mov"]["params"] == {"media_type": "STORIES", "video_url": f"{CDN}/story.mov"}
    assert len(pipeline.fake.calls(ig_id, "media_publish")) == 3
    by_post = {reel: f"REELS:{CDN}/reel.mp4", image_story: f"STORIES:{CDN}/story.jpg",
               video_story: f"STORIES:{CDN}/story.mov"}
    for post_id, key in by_post.items():
        post = pipeline.get(post_id)
        assert post.status == resources_pb2.PUBLISHED and post.attempts == 1, post
        assert post.platform_post_id == media[key]["id"] and post.permalink == media[key]["permalink"]
    # The two videos were IN_PROGRESS for about two seconds: polled several times each.
    assert len([c for c in pipeline.fake.calls(endpoint="node") if c["method"] == "GET"]) >= 3 + 2 * 4


# --- Facebook -------------------------------------------------------------------------------------


def test_facebook_reel_stories_and_video_post_published_once_each(pipeline: Pipeline) -> None:
    page_id = "5551001"
    pipeline.fake.settings(video_processing_seconds=2)
    page = pipeline.client.page_account(page_id)
    reel = pipeline.post(page, resources_pb2.REEL, f"{CDN}/reel.mp4", "our first Facebook reel")
    photo_story = pipeline.post(page, resources_pb2.STORY, f"{CDN}/story.png")
    video_story = pipeline.post(page, resources_pb2.STORY, f"{CDN}/story.mp4")
    video = pipeline.post(page, resources_pb2.FEED, f"{CDN}/talk.mp4", "a video post")
    pipeline.wait_terminal(4)
    for post_id in (reel, photo_story, video_story, video):
        assert pipeline.get(post_id).status == resources_pb2.PUBLISHED, pipeline.get(post_id)
    (the_reel,) = posts_of(pipeline.fake, page_id, "reel")
    stories = {s["media_type"]: s for s in posts_of(pipeline.fake, page_id, "story")}
    (the_video,) = posts_of(pipeline.fake, page_id, "video")
    assert len(pipeline.fake.posts(page_id)) == 4 and set(stories) == {"photo", "video"}
    assert the_reel["message"] == "our first Facebook reel" and the_reel["media"] == [f"{CDN}/reel.mp4"]
    assert the_video["message"] == "a video post" and the_video["media"] == [f"{CDN}/talk.mp4"]
    assert stories["photo"]["media"] == [f"{CDN}/story.png"] and stories["video"]["media"] == [f"{CDN}/story.mp4"]
    # Start and finish for the Reel and the video Story; one transfer each, with the hosted file's URL.
    assert len(pipeline.fake.calls(page_id, "video_reels")) == 2
    assert len(pipeline.fake.calls(page_id, "video_stories")) == 2
    uploads = pipeline.fake.calls(page_id, "video-upload")
    assert sorted(c["file_url"] for c in uploads) == [f"{CDN}/reel.mp4", f"{CDN}/story.mp4"]
    assert {c["version"] for c in uploads} == {"v27.0"}
    assert len(pipeline.fake.calls(page_id, "photo_stories")) == 1 and len(pipeline.fake.calls(page_id, "videos")) == 1
    # What each post records: the Reel's video id (its permalink from Meta), the Stories' post ids
    # (no permalink: a Story is seen among the Page's stories), the video's id.
    assert pipeline.get(reel).platform_post_id == the_reel["video_id"]
    assert pipeline.get(reel).permalink == f"https://www.facebook.com/reel/{the_reel['video_id']}/"
    assert pipeline.get(photo_story).platform_post_id == stories["photo"]["id"]
    assert pipeline.get(video_story).platform_post_id == stories["video"]["id"]
    assert pipeline.get(photo_story).permalink == ""
    assert pipeline.get(video).platform_post_id == the_video["video_id"]
    assert pipeline.get(video).permalink == f"https://www.facebook.com/{page_id}/videos/{the_video['video_id']}/"
    # The Reel was processed for two seconds after its finish: its status was read several times.
    status_reads = [c for c in pipeline.fake.calls(the_reel["video_id"], "node")]
    assert len(status_reads) >= 4


# --- failed processing: no publishing call --------------------------------------------------------


@pytest.mark.parametrize("status_code", ["ERROR", "EXPIRED"])
def test_a_reel_whose_video_fails_processing_fails_without_a_publishing_call(pipeline: Pipeline, status_code: str) -> None:
    ig_id, page_id = "17841400000000102", "5551002"
    ig = pipeline.client.instagram_account(ig_id)
    page = pipeline.client.page_account(page_id)
    pipeline.fake.fault(kind="broken", account=ig_id, endpoint="media", times=1, status_code=status_code)
    pipeline.fake.fault(kind="broken", account=page_id, endpoint="video_reels", times=1, status_code=status_code)
    ig_reel = pipeline.post(ig, resources_pb2.REEL, f"{CDN}/bad.mp4", "never shown")
    fb_reel = pipeline.post(page, resources_pb2.REEL, f"{CDN}/bad.mp4", "never shown")
    pipeline.wait_terminal(2)
    for post_id in (ig_reel, fb_reel):
        post = pipeline.get(post_id)
        assert post.status == resources_pb2.FAILED and post.attempts == 1, post
        assert status_code.lower() in post.last_error.lower()
    assert pipeline.fake.posts(ig_id) == [] and pipeline.fake.posts(page_id) == []
    assert pipeline.fake.calls(ig_id, "media_publish") == []
    assert len(pipeline.fake.calls(page_id, "video_reels")) == 1  # the start; never the finish


# --- ghost successes: published once ------------------------------------------------------------


def test_ghost_success_after_the_publishing_step_is_published_once(pipeline: Pipeline) -> None:
    ig_id, page_id = "17841400000000103", "5551003"
    ig = pipeline.client.instagram_account(ig_id)
    page = pipeline.client.page_account(page_id)
    pipeline.fake.fault(kind="ghost", account=ig_id, endpoint="media_publish", times=1, http_status=400, code=4,
                        subcode=2207051)
    # The Reel's finish (its second video_reels call) and the photo Story's publishing call go
    # through, then are answered with Meta's 1/99.
    pipeline.fake.fault(kind="ghost", account=page_id, endpoint="video_reels", skip=1, times=1, code=1, subcode=99)
    pipeline.fake.fault(kind="ghost", account=page_id, endpoint="photo_stories", times=1, code=1, subcode=99)
    posts = [pipeline.post(ig, resources_pb2.REEL, f"{CDN}/ghost.mp4", "ghost reel"),
             pipeline.post(ig, resources_pb2.STORY, f"{CDN}/ghost.jpg"),
             pipeline.post(page, resources_pb2.REEL, f"{CDN}/ghost.mp4", "ghost reel"),
             pipeline.post(page, resources_pb2.STORY, f"{CDN}/ghost.jpg")]
    pipeline.wait_terminal(4)
    for post_id in posts:
        assert pipeline.get(post_id).status == resources_pb2.PUBLISHED, pipeline.get(post_id)
    assert len(pipeline.fake.posts(ig_id)) == 2 and len(pipeline.fake.calls(ig_id, "media_publish")) == 2
    assert len(posts_of(pipeline.fake, page_id, "reel")) == 1 and len(posts_of(pipeline.fake, page_id, "story")) == 1
    assert len(pipeline.fake.calls(page_id, "video_reels")) == 2  # start, finish: the finish was not repeated
    assert len(pipeline.fake.calls(page_id, "photo_stories")) == 1
    (the_reel,) = posts_of(pipeline.fake, page_id, "reel")
    (the_story,) = posts_of(pipeline.fake, page_id, "story")
    assert pipeline.get(posts[2]).platform_post_id == the_reel["video_id"]
    assert pipeline.get(posts[3]).platform_post_id == the_story["id"]


# --- a publisher killed mid-Reel ------------------------------------------------------------------


def test_a_publisher_killed_between_a_reels_start_and_finish_publishes_it_once(suite: Suite, fake_meta: FakeMeta) -> None:
    page_id = "5551004"
    pipeline = Pipeline(suite, fake_meta, POSTSCHED_PUBLISH_LEASE="2")
    page = pipeline.client.page_account(page_id)
    # The transfer hangs: the video id is saved, the finish not yet sent, when the publisher dies.
    fake_meta.fault(kind="latency", account=page_id, endpoint="video-upload", times=1, latency_ms=15_000)
    post_id = pipeline.post(page, resources_pb2.REEL, f"{CDN}/killed.mp4", "killed mid-reel")
    suite.wait_for("SELECT count(*) FROM posts WHERE platform_state ? 'video_id'", 1)
    deadline = time.monotonic() + 10
    while not fake_meta.calls(page_id, "video-upload") and time.monotonic() < deadline:
        time.sleep(0.1)
    pipeline.publisher.stop(signal.SIGKILL)
    suite.start("publisher", **pipeline.publisher_env)  # the same settings, the lease of 2 s included
    pipeline.wait_terminal(1, timeout=120)
    post = pipeline.get(post_id)
    assert post.status == resources_pb2.PUBLISHED, post
    (the_reel,) = posts_of(fake_meta, page_id, "reel")
    assert post.platform_post_id == the_reel["video_id"]
    starts_and_finishes = fake_meta.calls(page_id, "video_reels")
    assert len(starts_and_finishes) == 2, starts_and_finishes  # one start (the saved id was reused), one finish
    events = [r[0] for r in suite.sql("SELECT event FROM processing_logs WHERE post_id = %s ORDER BY id", (post_id,))]
    assert "reconciled_not_published" in events and events[-1] == "published", events


def test_a_facebook_video_post_is_never_sent_twice(pipeline: Pipeline) -> None:
    """A refused /videos call is retried (nothing was made); one whose answer is lost after it was
    carried out ends outcome_unknown: Meta lists a video post only once processed, so it cannot be
    looked up, and it is never sent again."""
    page_id = "5551077"
    page = pipeline.client.page_account(page_id)
    pipeline.fake.fault(kind="error", account=page_id, endpoint="videos", times=1, http_status=500, code=2)
    retried = pipeline.post(page, resources_pb2.FEED, f"{CDN}/first.mp4", "refused once")
    pipeline.wait_terminal(1)
    assert pipeline.get(retried).status == resources_pb2.PUBLISHED and pipeline.get(retried).attempts == 2
    pipeline.fake.fault(kind="ghost_drop", account=page_id, endpoint="videos", times=1)
    lost = pipeline.post(page, resources_pb2.FEED, f"{CDN}/second.mp4", "answer lost")
    pipeline.wait_terminal(2)
    post = pipeline.get(lost)
    assert post.status == resources_pb2.FAILED and post.last_error.startswith("outcome_unknown"), post.last_error
    assert len(posts_of(pipeline.fake, page_id, "video")) == 2  # each made once
    assert len(pipeline.fake.calls(page_id, "videos")) == 3  # refused, made, made (answer lost): never a fourth
