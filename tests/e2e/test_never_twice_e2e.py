"""Never twice, at volume and under faults: busy pages, errors after success, attempts that outlive
their lease. Real scheduler, dispatcher and publisher processes, fake-meta, PostgreSQL and NATS."""

from __future__ import annotations

import signal
import time

import grpc
import pytest

from postsched.v1 import admin_pb2, admin_pb2_grpc, resources_pb2, scheduler_pb2
from tests.waiting import until
from tests.conftest import ADMIN_TOKEN
from postsched_devtools.fake_meta.control import FakeMeta
from postsched_devtools.processes import Suite
from tests.e2e.test_publisher_e2e import FAST, Pipeline, pipeline  # noqa: F401 (fixture)

pytestmark = pytest.mark.e2e
Req = scheduler_pb2


def admin(suite: Suite) -> tuple[admin_pb2_grpc.AdminServiceStub, tuple]:
    service = suite.start("admin")
    return admin_pb2_grpc.AdminServiceStub(grpc.insecure_channel(service.addr)), (
        ("authorization", f"Bearer {ADMIN_TOKEN}"),)


# --- Facebook: the whole window, not the first page ------------------------------------------------


def test_rate_limit_after_success_on_a_busy_page_is_found_across_pages(pipeline: Pipeline) -> None:
    """Meta published the post, then answered a rate limit. While the post waits, 450 other posts
    land on the page: the retry must page through them, find ours, and not post it again."""
    page = pipeline.client.page_account("7770001")
    pipeline.fake.fault(kind="ghost", account="7770001", endpoint="feed", times=1, http_status=400, code=32,
                        message="Page request limit reached", retry_after=3)
    post_id = pipeline.post(page, "went out before the rate limit")
    pipeline.suite.wait_for("SELECT count(*) FROM processing_logs WHERE event = 'rate_limited'", 1)
    pipeline.fake.page_posts("7770001", 450)
    pipeline.wait_terminal(1, timeout=60)
    post = pipeline.get(post_id)
    ours = pipeline.fake.posts("7770001")
    assert len(ours) == 1, "the post reached the page twice"
    assert post.status == resources_pb2.PUBLISHED and post.platform_post_id == ours[0]["id"]
    assert "published_reconciled" in pipeline.events(post_id)
    lookups = pipeline.fake.calls("7770001", "published_posts")
    assert len(lookups) >= 5, "the lookup should have read every page of the window (450 posts, 100 a page)"


def test_ghost_among_hundreds_of_our_own_posts_on_one_page(suite: Suite, fake_meta: FakeMeta) -> None:
    """300 posts to one page in a minute, every tenth answered with Meta's 1/99 after it went out."""
    pipeline = Pipeline(suite, fake_meta)
    page = pipeline.client.page_account("7770002")
    fake_meta.page_posts("7770002", 250)
    fake_meta.fault(kind="ghost", account="7770002", endpoint="feed", times=30, http_status=500, code=1, subcode=99)
    requests = [Req.CreatePostRequest(account_id=page.account_id, text=f"busy page post {i}") for i in range(300)]
    pipeline.client.BatchCreatePosts(Req.BatchCreatePostsRequest(requests=requests))
    pipeline.wait_terminal(300, timeout=120)
    published = [p["message"] for p in fake_meta.posts("7770002")]
    assert len(published) == len(set(published)) == 300, "a post reached the page twice, or not at all"
    statuses = dict(suite.sql("SELECT status::text, count(*) FROM posts GROUP BY 1"))
    assert statuses == {"PUBLISHED": 300}, suite.sql("SELECT last_error FROM posts WHERE status = 'FAILED'")
    assert suite.sql("SELECT count(*) FROM processing_logs WHERE event = 'published_reconciled'") == [(30,)]


def test_same_text_twice_on_one_page_is_never_taken_for_the_other(pipeline: Pipeline) -> None:
    """Two of our posts with the same text: the first went out; the second got an error that may
    hide a success but did not go out. The lookup sees the first one's post, which is not ours."""
    page = pipeline.client.page_account("7770003")
    first = pipeline.post(page, "same words")
    pipeline.wait_terminal(1)
    pipeline.fake.fault(kind="error", account="7770003", endpoint="feed", times=1, http_status=500, code=1, subcode=99)
    second = pipeline.post(page, "same words")
    pipeline.wait_terminal(2)
    posts = pipeline.fake.posts("7770003")
    assert [p["message"] for p in posts] == ["same words", "same words"]
    one, two = pipeline.get(first), pipeline.get(second)
    assert one.status == two.status == resources_pb2.PUBLISHED
    assert {one.platform_post_id, two.platform_post_id} == {p["id"] for p in posts}, "one post was taken for the other"


def test_same_text_in_flight_together_is_outcome_unknown_not_a_guess(pipeline: Pipeline) -> None:
    """Two posts with the same text at once, both answered 1/99 after they went out: the page has
    two matching posts and nothing tells which is whose, so neither may claim one."""
    page = pipeline.client.page_account("7770004")
    pipeline.fake.fault(kind="latency", account="7770004", endpoint="feed", times=2, latency_ms=300)
    pipeline.fake.fault(kind="ghost", account="7770004", endpoint="feed", times=2, http_status=500, code=1, subcode=99)
    requests = [Req.CreatePostRequest(account_id=page.account_id, text="twin") for _ in range(2)]
    pipeline.client.BatchCreatePosts(Req.BatchCreatePostsRequest(requests=requests))
    pipeline.wait_terminal(2)
    assert len(pipeline.fake.posts("7770004")) == 2
    rows = pipeline.suite.sql("SELECT status::text, last_error FROM posts")
    assert all(status == "FAILED" and error.startswith("outcome_unknown") for status, error in rows), rows
    assert len(pipeline.fake.calls("7770004", "feed")) == 2  # and nothing was posted a third time


# --- Instagram: look before any second media_publish ---------------------------------------------


@pytest.mark.parametrize("code, subcode", [(4, None), (9, None), (17, None), (32, None), (613, None),
                                           (100, None), (2, None), (4, 2207051)])
def test_instagram_error_after_media_publish_went_out_is_not_published_again(
    pipeline: Pipeline, code: int, subcode: int | None
) -> None:
    ig = pipeline.client.instagram_account("17841400000007001")
    pipeline.fake.fault(kind="ghost", account="17841400000007001", endpoint="media_publish", times=1,
                        http_status=400, code=code, subcode=subcode, retry_after=1)
    post_id = pipeline.post(ig, f"ghost {code}", media=["https://cdn.example.com/g.jpg"])
    pipeline.wait_terminal(1, timeout=60)
    assert pipeline.get(post_id).status == resources_pb2.PUBLISHED
    assert len(pipeline.fake.posts("17841400000007001")) == 1
    assert len(pipeline.fake.calls("17841400000007001", "media_publish")) == 1
    assert len(pipeline.fake.calls("17841400000007001", "media")) == 1


def test_instagram_rate_limited_publish_reuses_its_finished_container(pipeline: Pipeline) -> None:
    """media_publish answered a rate limit and did not publish: the later attempt publishes the
    same FINISHED container instead of making a second one."""
    ig = pipeline.client.instagram_account("17841400000007002")
    pipeline.fake.fault(kind="error", account="17841400000007002", endpoint="media_publish", times=1,
                        http_status=400, code=4, message="Application request limit reached", retry_after=1)
    post_id = pipeline.post(ig, "reuse me", media=["https://cdn.example.com/r.jpg"])
    pipeline.wait_terminal(1, timeout=60)
    assert pipeline.get(post_id).status == resources_pb2.PUBLISHED
    assert len(pipeline.fake.calls("17841400000007002", "media")) == 1, "a second container was made"
    assert len(pipeline.fake.calls("17841400000007002", "media_publish")) == 2
    assert len(pipeline.fake.posts("17841400000007002")) == 1


def test_retry_of_a_failed_instagram_post_checks_its_container_first(pipeline: Pipeline) -> None:
    """A permanent-looking error after media_publish really published: the post is PUBLISHED at once
    (the container says so); and an operator's RetryPost of a post whose publish truly failed
    reuses its container rather than making another."""
    ig = pipeline.client.instagram_account("17841400000007003")
    pipeline.fake.fault(kind="error", account="17841400000007003", endpoint="media_publish", times=1,
                        http_status=400, code=100, message="(#100) Invalid parameter")
    post_id = pipeline.post(ig, "fails, then retried", media=["https://cdn.example.com/f.jpg"])
    pipeline.wait_terminal(1)
    assert pipeline.get(post_id).status == resources_pb2.FAILED
    stub, metadata = admin(pipeline.suite)
    stub.RetryPost(admin_pb2.RetryPostRequest(post_id=post_id), metadata=metadata)
    pipeline.suite.wait_for("SELECT status::text FROM posts WHERE id = %s", "PUBLISHED", params=(post_id,))
    assert len(pipeline.fake.calls("17841400000007003", "media")) == 1
    assert len(pipeline.fake.posts("17841400000007003")) == 1


def test_retry_post_of_a_ghost_permanent_facebook_error_finds_it(pipeline: Pipeline) -> None:
    """Meta answered a permanent error although the post went out; an operator retries it: the
    retry finds it on the page instead of posting it again."""
    page = pipeline.client.page_account("7770005")
    pipeline.fake.fault(kind="ghost", account="7770005", endpoint="feed", times=1, http_status=400, code=100,
                        message="(#100) Invalid parameter")
    post_id = pipeline.post(page, "failed but went out")
    pipeline.wait_terminal(1)
    assert pipeline.get(post_id).status == resources_pb2.FAILED
    stub, metadata = admin(pipeline.suite)
    stub.RetryPost(admin_pb2.RetryPostRequest(post_id=post_id), metadata=metadata)
    pipeline.suite.wait_for("SELECT status::text FROM posts WHERE id = %s", "PUBLISHED", params=(post_id,))
    assert len(pipeline.fake.posts("7770005")) == 1
    assert "published_reconciled" in pipeline.events(post_id)


# --- leases: renewed while working, fenced when taken over -----------------------------------------


def test_attempt_longer_than_its_lease_keeps_it_by_renewing(suite: Suite, fake_meta: FakeMeta) -> None:
    pipeline = Pipeline(suite, fake_meta, POSTSCHED_PUBLISH_LEASE="1.5")
    page = pipeline.client.page_account("7770006")
    fake_meta.fault(kind="latency", account="7770006", endpoint="feed", times=0, latency_ms=5000)
    post_id = pipeline.post(page, "slow platform")
    pipeline.wait_terminal(1, timeout=30)
    post = pipeline.get(post_id)
    assert post.status == resources_pb2.PUBLISHED and post.attempts == 1
    # 'handed_over' may be missing: a publisher that claims the message before the dispatcher has
    # recorded the hand-over leaves that record out (seen once in a CI run). The point here is one
    # claim and no take-over.
    events = [e for e in pipeline.events(post_id) if e != "handed_over"]
    assert events == ["created", "queued", "claimed", "published"], \
        "the attempt lost its post to the rescuer while it was still working"


def test_attempt_that_wakes_after_a_take_over_neither_publishes_nor_records(suite: Suite, fake_meta: FakeMeta) -> None:
    """Publisher A is stopped (SIGSTOP) in the middle of a multi-photo post, before its feed call;
    publisher B takes the attempt over after the lease and publishes the post. When A wakes, its
    lease is gone: it must not post the feed a second time."""
    pipeline = Pipeline(suite, fake_meta, POSTSCHED_PUBLISH_LEASE="1.5")
    first = pipeline.publisher
    page = pipeline.client.page_account("7770007")
    fake_meta.fault(kind="latency", account="7770007", endpoint="photos", times=1, latency_ms=2500)
    post_id = pipeline.post(page, "two photos", media=["https://cdn.example.com/1.jpg", "https://cdn.example.com/2.jpg"])
    deadline = time.monotonic() + 20
    while not fake_meta.calls("7770007", "photos") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert first.proc is not None
    first.proc.send_signal(signal.SIGSTOP)
    try:
        suite.start("publisher", **FAST, POSTSCHED_PUBLISH_LEASE="1.5")
        suite.wait_for("SELECT status::text FROM posts WHERE id = %s", "PUBLISHED", params=(post_id,), timeout=40)
    finally:
        first.proc.send_signal(signal.SIGCONT)
    # A reads its photo answer and would go on to the feed call now: its lease is gone, so it stops.
    until(lambda: "fenced" in first.log(), timeout=20, what="the woken attempt to find itself fenced")
    assert len(fake_meta.posts("7770007")) == 1, "the woken attempt posted a second time"
    assert len(fake_meta.calls("7770007", "feed")) == 1
    assert pipeline.get(post_id).status == resources_pb2.PUBLISHED
    assert "fenced" in first.log()


# --- operator actions -----------------------------------------------------------------------------


def test_retry_of_a_post_whose_account_needs_credentials_says_so(pipeline: Pipeline) -> None:
    page = pipeline.client.page_account("7770008", token="invalid-token")
    post_id = pipeline.post(page, "token died")
    pipeline.wait_terminal(1)
    stub, metadata = admin(pipeline.suite)
    with pytest.raises(grpc.RpcError) as info:
        stub.RetryPost(admin_pb2.RetryPostRequest(post_id=post_id), metadata=metadata)
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "UpdateAccountCredentials" in (info.value.details() or "")
    answer = stub.RetryFailed(admin_pb2.RetryFailedRequest(), metadata=metadata)
    assert (answer.retried, answer.waiting_for_credentials) == (1, 1)
