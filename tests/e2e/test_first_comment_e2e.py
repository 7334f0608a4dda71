"""First comments end to end: scheduler, dispatcher and publisher processes, fake-meta, PostgreSQL, NATS.

The comment is a step of its own after the post: its failures never publish the post again, and
it is made once even when an answer is lost or its publisher is killed mid-call.
"""

from __future__ import annotations

import signal
import time
from datetime import datetime, timedelta, timezone

import grpc
import pytest
from google.protobuf import field_mask_pb2

from postsched.v1 import resources_pb2, scheduler_pb2
from postsched_devtools.fake_meta.control import FakeMeta
from postsched_devtools.processes import Suite
from postsched_devtools.tenant import field_violations
from tests.waiting import until
from tests.e2e.test_publisher_e2e import FAST, Pipeline

pytestmark = pytest.mark.e2e
Req = scheduler_pb2
COMMENT = "Links and #hashtags live here: https://example.com/more"


def post_with_comment(pipeline: Pipeline, account: resources_pb2.Account, text: str, comment: str = COMMENT,
                      media: list[str] | None = None) -> str:
    return pipeline.client.CreatePost(Req.CreatePostRequest(
        account_id=account.account_id, text=text, media_urls=media or [], first_comment=comment)).post_id


def wait_comment_settled(pipeline: Pipeline, post_id: str, timeout: float = 60) -> resources_pb2.Post:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        post = pipeline.get(post_id)
        if post.first_comment_status in (resources_pb2.FIRST_COMMENT_PUBLISHED, resources_pb2.FIRST_COMMENT_FAILED):
            return post
        time.sleep(0.2)
    raise AssertionError(f"the first comment of {post_id} did not settle: {pipeline.get(post_id)}")


def comment_events(suite: Suite, post_id: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in suite.sql(
        "SELECT type, message FROM events WHERE post_id = %s AND type LIKE 'post.first_comment%%' ORDER BY sequence",
        (post_id,))]


@pytest.fixture
def pipeline(suite: Suite, fake_meta: FakeMeta) -> Pipeline:
    return Pipeline(suite, fake_meta)


def test_a_first_comment_follows_the_post_on_facebook_and_instagram(pipeline: Pipeline) -> None:
    page = pipeline.client.page_account("5551001")
    ig = pipeline.client.instagram_account("17841400000001001")
    on_page = post_with_comment(pipeline, page, "new article")
    on_ig = post_with_comment(pipeline, ig, "new photo", media=["https://cdn.example.com/a.jpg"])
    scheduled = pipeline.get(on_page)
    assert scheduled.first_comment == COMMENT and scheduled.first_comment_status == resources_pb2.FIRST_COMMENT_PENDING
    for post_id in (on_page, on_ig):
        post = wait_comment_settled(pipeline, post_id)
        assert post.status == resources_pb2.PUBLISHED
        assert post.first_comment_status == resources_pb2.FIRST_COMMENT_PUBLISHED, post
        comments = pipeline.fake.comments(post.platform_post_id)[post.platform_post_id]
        assert [c["message"] for c in comments] == [COMMENT]
        assert post.first_comment_id == comments[0]["id"] and not post.first_comment_error
        assert comment_events(pipeline.suite, post_id) == [("post.first_comment_published", post.first_comment_id)]
    # The Instagram comment went under the medium media_publish returned, by the account itself.
    ig_comment = pipeline.fake.comments(pipeline.get(on_ig).platform_post_id)
    assert list(ig_comment.values())[0][0]["from"] == "17841400000001001"


def test_transient_failures_then_success_make_one_comment(pipeline: Pipeline) -> None:
    """Two 500s, then a call that is carried out but answered with an error (a ghost): the third
    try looks before commenting, finds it, and records it: one comment, one publication."""
    page = pipeline.client.page_account("5551002")
    pipeline.fake.fault(kind="error", endpoint="comments", method="POST", times=2, http_status=500, code=2)
    pipeline.fake.fault(kind="ghost", endpoint="comments", method="POST", times=1, http_status=500, code=1, subcode=99)
    post_id = post_with_comment(pipeline, page, "flaky comments")
    post = wait_comment_settled(pipeline, post_id)
    assert post.first_comment_status == resources_pb2.FIRST_COMMENT_PUBLISHED, post
    comments = pipeline.fake.comments(post.platform_post_id)[post.platform_post_id]
    assert [c["message"] for c in comments] == [COMMENT]
    assert post.first_comment_id == comments[0]["id"]
    assert len(pipeline.fake.calls("5551002", "feed")) == 1 and post.attempts == 1
    tries = [c for c in pipeline.fake.calls(post.platform_post_id, "comments") if c["method"] == "POST"]
    assert len(tries) == 3  # two refused, one carried out: never a fourth after it
    log = pipeline.events(post_id)
    assert log.count("first_comment_attempt_failed") == 2 and log.count("published") == 1


def test_a_comment_that_fails_for_good_leaves_the_post_published(pipeline: Pipeline) -> None:
    page = pipeline.client.page_account("5551003")
    pipeline.fake.fault(kind="error", endpoint="comments", method="POST", times=0, http_status=400, code=100,
                        message="(#100) The comment could not be posted")
    post_id = post_with_comment(pipeline, page, "comment refused")
    post = wait_comment_settled(pipeline, post_id)
    assert post.status == resources_pb2.PUBLISHED and post.attempts == 1
    assert post.first_comment_status == resources_pb2.FIRST_COMMENT_FAILED
    assert "Meta error 100" in post.first_comment_error and not post.first_comment_id
    assert len(pipeline.fake.calls("5551003", "feed")) == 1  # the post was never sent again
    assert len(pipeline.fake.posts("5551003")) == 1
    [(kind, message)] = comment_events(pipeline.suite, post_id)
    assert kind == "post.first_comment_failed" and "Meta error 100" in message


def test_a_publisher_killed_between_the_post_and_its_comment(suite: Suite, fake_meta: FakeMeta) -> None:
    """The comment is made, but its answer is held back; the publisher is killed before it hears
    it. Its successor takes the comment over once the claim's hold ends, looks, and finds it."""
    pipeline = Pipeline(suite, fake_meta, POSTSCHED_PUBLISH_LEASE="2", POSTSCHED_HTTP_TIMEOUT="2")
    page = pipeline.client.page_account("5551004")
    fake_meta.fault(kind="late", endpoint="comments", method="POST", times=1, latency_ms=60_000)
    post_id = post_with_comment(pipeline, page, "killed mid-comment")
    deadline = time.monotonic() + 30
    while not [c for c in fake_meta.calls(endpoint="comments") if c["method"] == "POST"]:
        assert time.monotonic() < deadline, "no comment call was made"
        time.sleep(0.1)
    pipeline.publisher.stop(signal.SIGKILL)
    assert pipeline.get(post_id).first_comment_status == resources_pb2.FIRST_COMMENT_PENDING
    suite.start("publisher", **FAST, POSTSCHED_PUBLISH_LEASE="2", POSTSCHED_HTTP_TIMEOUT="2")
    post = wait_comment_settled(pipeline, post_id)
    assert post.status == resources_pb2.PUBLISHED and post.attempts == 1
    assert post.first_comment_status == resources_pb2.FIRST_COMMENT_PUBLISHED, post
    comments = fake_meta.comments(post.platform_post_id)[post.platform_post_id]
    assert [c["message"] for c in comments] == [COMMENT] and post.first_comment_id == comments[0]["id"]
    assert len(fake_meta.calls("5551004", "feed")) == 1
    posts_made = [c for c in fake_meta.calls(post.platform_post_id, "comments") if c["method"] == "POST"]
    assert len(posts_made) == 1  # the successor found it instead of commenting again
    [(_, message)] = comment_events(suite, post_id)
    assert message.startswith("found on the platform")


def test_enqueue_post_keeps_the_kind_and_the_first_comment(pipeline: Pipeline) -> None:
    """EnqueuePost takes a CreatePostRequest: nothing of it is dropped on the way into a slot."""
    page = pipeline.client.page_account("5551005")
    pipeline.client.SetPostingSchedule(Req.SetPostingScheduleRequest(
        account_id=page.account_id, slots=[resources_pb2.PostingSlot(day_of_week=d, time="09:00") for d in (1, 4)]))
    slotted = pipeline.client.EnqueuePost(Req.EnqueuePostRequest(post=Req.CreatePostRequest(
        account_id=page.account_id, kind=resources_pb2.REEL, media_urls=["https://cdn.example.com/r.mp4"],
        text="a reel in a slot", first_comment=COMMENT)))
    assert slotted.slotted and slotted.kind == resources_pb2.REEL and slotted.first_comment == COMMENT
    assert slotted.first_comment_status == resources_pb2.FIRST_COMMENT_PENDING
    assert pipeline.get(slotted.post_id).first_comment == COMMENT


def test_a_recurring_reel_gives_each_occurrence_its_kind_and_first_comment(pipeline: Pipeline) -> None:
    page = pipeline.client.page_account("5551006")
    start = (datetime.now(timezone.utc) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:00:00")
    recurring = pipeline.client.CreateRecurringPost(Req.CreateRecurringPostRequest(
        account_id=page.account_id, kind=resources_pb2.REEL, media_urls=["https://cdn.example.com/daily.mp4"],
        text="daily reel", first_comment=COMMENT, start_time=start, time_zone="UTC",
        recurrence=["RRULE:FREQ=HOURLY;COUNT=3"]))
    assert recurring.kind == resources_pb2.REEL and recurring.first_comment == COMMENT

    def occurrences() -> list[resources_pb2.Post]:
        return list(pipeline.client.ListPosts(Req.ListPostsRequest(recurring_post_id=recurring.recurring_post_id)).posts)

    until(lambda: len(occurrences()) == 3, timeout=30, what="the three occurrences (within the 48 h horizon)")
    for post in occurrences():
        assert post.kind == resources_pb2.REEL and post.first_comment == COMMENT
        assert post.first_comment_status == resources_pb2.FIRST_COMMENT_PENDING
    # A new first comment reaches the occurrences still SCHEDULED; a Story cannot take one.
    pipeline.client.UpdateRecurringPost(Req.UpdateRecurringPostRequest(
        recurring_post_id=recurring.recurring_post_id, first_comment="new comment",
        update_mask=field_mask_pb2.FieldMask(paths=["first_comment"])))
    assert {p.first_comment for p in occurrences()} == {"new comment"}
    with pytest.raises(grpc.RpcError) as refused:
        pipeline.client.UpdateRecurringPost(Req.UpdateRecurringPostRequest(
            recurring_post_id=recurring.recurring_post_id, kind=resources_pb2.STORY, text="",
            update_mask=field_mask_pb2.FieldMask(paths=["kind", "text"])))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(refused.value) == {"first_comment": "Stories take no comments"}


def test_a_comment_made_but_answered_with_a_rate_limit_or_lost_is_found_not_made_again(pipeline: Pipeline) -> None:
    """A rate limit answered to a comment that was made (fake-meta's ghost with code 32), and an
    Instagram comment whose answer was lost: each later try looks first and finds it. Instagram
    names the author by an Instagram-scoped id, so its comments are told by the username."""
    page = pipeline.client.page_account("5551007")
    ig = pipeline.client.instagram_account("17841400000001007")
    pipeline.fake.fault(kind="ghost", account="*", endpoint="comments", method="POST", times=1, http_status=400,
                        code=32, message="Page request limit reached", retry_after=1)
    on_page = post_with_comment(pipeline, page, "rate limited comment")
    post = wait_comment_settled(pipeline, on_page)
    pipeline.fake.fault(kind="ghost_drop", account="*", endpoint="comments", method="POST", times=1)
    on_ig = post_with_comment(pipeline, ig, "lost answer", media=["https://cdn.example.com/lost.jpg"])
    for post_id in (on_page, on_ig):
        post = wait_comment_settled(pipeline, post_id)
        assert post.first_comment_status == resources_pb2.FIRST_COMMENT_PUBLISHED, post
        comments = pipeline.fake.comments(post.platform_post_id)[post.platform_post_id]
        assert [c["message"] for c in comments] == [COMMENT] and post.first_comment_id == comments[0]["id"]
        [(_, message)] = comment_events(pipeline.suite, post_id)
        assert message.startswith("found on the platform"), message
