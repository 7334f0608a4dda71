"""The publisher end to end: scheduler, dispatcher and publisher processes, fake-meta, PostgreSQL, NATS."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import signal
import time
from datetime import datetime, timedelta, timezone

import grpc
import nats
import pytest

from postsched.v1 import publisher_pb2, publisher_pb2_grpc, resources_pb2, scheduler_pb2
from postsched_devtools.tenant import Tenant
from tests.conftest import ADMIN_TOKEN, TENANT_TOKENS
from postsched_devtools.fake_meta.control import FakeMeta
from postsched_devtools.processes import ServiceProcess, Suite

pytestmark = pytest.mark.e2e
Req = scheduler_pb2
FAST = dict(POSTSCHED_RETRY_BASE="0.2", POSTSCHED_RETRY_MAX="2")
TERMINAL = "SELECT count(*) FROM posts WHERE status IN ('PUBLISHED', 'FAILED')"


class Pipeline:
    """Scheduler, dispatcher and publisher(s) as processes, pointed at one fake-meta."""

    def __init__(self, suite: Suite, fake_meta: FakeMeta, **publisher_env: str) -> None:
        self.suite = suite
        self.fake = fake_meta
        suite.base_env["POSTSCHED_META_GRAPH_URL"] = fake_meta.graph_url
        self.scheduler = suite.start("scheduler")
        self.dispatcher = suite.start("dispatcher")
        self.publisher = suite.start("publisher", **{**FAST, **publisher_env})
        self.client = Tenant(self.scheduler.addr, TENANT_TOKENS["acme"])

    def post(self, account: resources_pb2.Account, text: str, *, media: list[str] | None = None, link: str = "",
             at: datetime | None = None) -> str:
        request = Req.CreatePostRequest(account_id=account.account_id, text=text, media_urls=media or [], link=link)
        if at is not None:
            request.scheduled_at.FromDatetime(at)
        return self.client.CreatePost(request).post_id

    def get(self, post_id: str) -> resources_pb2.Post:
        return self.client.GetPost(Req.GetPostRequest(post_id=post_id))

    def wait_terminal(self, count: int, timeout: float = 60) -> None:
        self.suite.wait_for(TERMINAL, count, timeout=timeout)

    def events(self, post_id: str) -> list[str]:
        return [r[0] for r in self.suite.sql("SELECT event FROM processing_logs WHERE post_id = %s ORDER BY id", (post_id,))]


@pytest.fixture
def pipeline(suite: Suite, fake_meta: FakeMeta) -> Pipeline:
    return Pipeline(suite, fake_meta)


def publisher_status(service: ServiceProcess) -> publisher_pb2.PublisherStatus:
    stub = publisher_pb2_grpc.PublisherServiceStub(grpc.insecure_channel(service.addr))
    return stub.GetPublisherStatus(publisher_pb2.GetPublisherStatusRequest(),
                                   metadata=(("authorization", f"Bearer {ADMIN_TOKEN}"),))


# --- happy paths ----------------------------------------------------------------------------------


def test_facebook_text_link_photo_and_multi_photo(pipeline: Pipeline) -> None:
    page = pipeline.client.page_account("5550001")
    text_id = pipeline.post(page, "just text", link="https://example.com/article")
    photo_id = pipeline.post(page, "one photo", media=["https://cdn.example.com/1.jpg"])
    album_id = pipeline.post(page, "three photos", media=[f"https://cdn.example.com/{i}.jpg" for i in range(3)])
    pipeline.wait_terminal(3)
    posts = {p["message"]: p for p in pipeline.fake.posts("5550001")}
    assert posts["just text"]["kind"] == "feed" and posts["just text"]["link"] == "https://example.com/article"
    assert posts["one photo"]["kind"] == "photo"
    assert posts["three photos"]["kind"] == "feed" and len(posts["three photos"]["media"]) == 3
    for post_id, message in ((text_id, "just text"), (photo_id, "one photo"), (album_id, "three photos")):
        post = pipeline.get(post_id)
        assert post.status == resources_pb2.PUBLISHED and post.attempts == 1
        assert post.platform_post_id == posts[message]["id"]
        # 'handed_over' is left out when the publisher claims before the dispatcher records it.
        assert [e for e in pipeline.events(post_id) if e != "handed_over"] == ["created", "queued", "claimed", "published"]
    assert len(pipeline.fake.posts()) == 3


def test_instagram_image_carousel_and_video(pipeline: Pipeline) -> None:
    pipeline.fake.settings(video_processing_seconds=1.5)
    ig = pipeline.client.instagram_account("17841400000000042")
    image = pipeline.post(ig, "an image #one", media=["https://cdn.example.com/a.jpg"])
    carousel = pipeline.post(ig, "a carousel", media=["https://cdn.example.com/a.jpg", "https://cdn.example.com/b.mp4"])
    video = pipeline.post(ig, "a reel", media=["https://cdn.example.com/clip.mp4"])
    pipeline.wait_terminal(3)
    published = {p["message"]: p for p in pipeline.fake.posts("17841400000000042")}
    assert set(published) == {"an image #one", "a carousel", "a reel"}
    assert len(published["a carousel"]["children"]) == 2
    for post_id in (image, carousel, video):
        assert pipeline.get(post_id).status == resources_pb2.PUBLISHED
    # The video container was polled while IN_PROGRESS before it was published.
    assert len(pipeline.fake.calls("17841400000000042", "content_publishing_limit")) >= 1
    status_polls = [c for c in pipeline.fake.calls(endpoint="node")]
    assert len(status_polls) > 4


def test_every_graph_call_carries_the_configured_version(pipeline: Pipeline) -> None:
    """POSTSCHED_META_GRAPH_VERSION (default v27.0) is in every Graph call's path; set, it moves them all."""
    page = pipeline.client.page_account("1000000077")
    ig = pipeline.client.instagram_account("17841400000000077")
    pipeline.post(page, "v27", media=["https://cdn.example.com/a.jpg"])
    pipeline.post(ig, "v27 ig", media=["https://cdn.example.com/a.jpg"])
    pipeline.wait_terminal(2)
    graph_calls = [c for c in pipeline.fake.calls() if c["endpoint"] != "webhook"]
    assert len(graph_calls) >= 4 and {c["version"] for c in graph_calls} == {"v27.0"}  # feed/photos, media, publish, ...
    pipeline.publisher.stop()
    pipeline.publisher = pipeline.suite.start("publisher", POSTSCHED_META_GRAPH_VERSION="v28.0", **FAST)
    pipeline.post(page, "v28", media=["https://cdn.example.com/b.jpg"])
    pipeline.post(ig, "v28 ig", media=["https://cdn.example.com/b.jpg"])
    pipeline.wait_terminal(4)
    later = [c for c in pipeline.fake.calls() if c["endpoint"] != "webhook"][len(graph_calls):]
    assert len(later) >= 4 and {c["version"] for c in later} == {"v28.0"}


def published_events(client: Tenant, count: int) -> list[scheduler_pb2.Event]:
    """The tenant's first `count` post.published events, read through WatchEvents."""
    stream = client.WatchEvents(Req.WatchEventsRequest(after_sequence=0, types=["post.published"]))
    events = []
    for event in stream:
        events.append(event)
        if len(events) == count:
            stream.cancel()
            break
    return events


def test_instagram_permalink_is_read_after_publishing_and_carried_by_its_event(pipeline: Pipeline) -> None:
    ig = pipeline.client.instagram_account("17841400000000046")
    post_ids = [pipeline.post(ig, f"linked {i}", media=["https://cdn.example.com/a.jpg"]) for i in range(5)]
    pipeline.wait_terminal(5)
    media = {m["message"]: m for m in pipeline.fake.posts("17841400000000046")}
    for i, post_id in enumerate(post_ids):
        post = pipeline.get(post_id)
        assert post.status == resources_pb2.PUBLISHED and post.platform_post_id == media[f"linked {i}"]["id"]
        assert post.permalink == media[f"linked {i}"]["permalink"]
        assert post.permalink.startswith("https://www.instagram.com/p/")
    events = {e.post_id: e for e in published_events(pipeline.client, 5)}
    assert {pid: e.permalink for pid, e in events.items()} == {pid: pipeline.get(pid).permalink for pid in post_ids}
    assert len(pipeline.fake.calls(endpoint="ig_media")) == 5  # one lookup per publication


def test_a_failed_or_slow_permalink_lookup_never_fails_or_repeats_the_publication(pipeline: Pipeline) -> None:
    ig = pipeline.client.instagram_account("17841400000000047")
    # The first three lookups answer errors (a rate limit, and the 1/99 that may hide a success
    # among them); the fourth answers after the lookup's 5 s bound.
    pipeline.fake.fault(kind="error", endpoint="ig_media", times=1, http_status=500, code=2)
    pipeline.fake.fault(kind="error", endpoint="ig_media", times=1, http_status=400, code=4)
    pipeline.fake.fault(kind="error", endpoint="ig_media", times=1, http_status=500, code=1, subcode=99)
    pipeline.fake.fault(kind="latency", endpoint="ig_media", times=1, latency_ms=8000)
    post_ids = [pipeline.post(ig, f"unlinked {i}", media=["https://cdn.example.com/a.jpg"]) for i in range(6)]
    pipeline.wait_terminal(6, timeout=90)
    posts = [pipeline.get(post_id) for post_id in post_ids]
    assert all(p.status == resources_pb2.PUBLISHED and p.attempts == 1 for p in posts)
    media = pipeline.fake.posts("17841400000000047")
    assert len(media) == 6 and len(pipeline.fake.calls("17841400000000047", "media_publish")) == 6
    assert sorted(p.platform_post_id for p in posts) == sorted(m["id"] for m in media)
    linked = [p for p in posts if p.permalink]
    assert len(linked) == 2  # four lookups failed; the publications stand without a permalink
    assert {p.permalink for p in linked} <= {m["permalink"] for m in media}
    assert all("published_reconciled" not in pipeline.events(p.post_id) for p in posts)
    # A rate limit answered to a lookup is not the account's: its later posts are not held back.
    assert pipeline.suite.sql("SELECT throttled_until FROM accounts WHERE id = %s", (ig.account_id,)) == [(None,)]


@pytest.mark.parametrize("status_code", ["ERROR", "EXPIRED"])
def test_instagram_container_that_fails_processing_is_permanent(pipeline: Pipeline, status_code: str) -> None:
    ig = pipeline.client.instagram_account("17841400000000045")
    pipeline.fake.fault(kind="broken", account="17841400000000045", endpoint="media", times=1, status_code=status_code)
    post_id = pipeline.post(ig, "unprocessable", media=["https://cdn.example.com/bad.jpg"])
    pipeline.wait_terminal(1)
    post = pipeline.get(post_id)
    assert post.status == resources_pb2.FAILED and post.attempts == 1 and status_code in post.last_error
    assert pipeline.fake.posts("17841400000000045") == []
    assert pipeline.fake.calls("17841400000000045", "media_publish") == []


def test_webhook_is_signed_and_carries_an_idempotency_key(pipeline: Pipeline) -> None:
    secret = "w" * 32
    account = pipeline.client.CreateAccount(Req.CreateAccountRequest(
        platform=resources_pb2.WEBHOOK, external_id="receiver", webhook_url=f"{pipeline.fake.base}/_webhooks/receiver",
        webhook_secret=secret))
    post_id = pipeline.post(account, "to the webhook", media=["https://cdn.example.com/x.png"])
    pipeline.wait_terminal(1)
    (delivery,) = pipeline.fake.webhooks()
    assert delivery["idempotency_key"] == post_id and delivery["body"]["text"] == "to the webhook"
    parts = dict(item.split("=", 1) for item in delivery["signature"].split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + delivery["raw"].encode(), hashlib.sha256).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected)
    assert pipeline.get(post_id).status == resources_pb2.PUBLISHED


# --- errors ----------------------------------------------------------------------------------------


def test_two_transient_failures_then_success(pipeline: Pipeline) -> None:
    page = pipeline.client.page_account("5550002")
    pipeline.fake.fault(kind="error", account="5550002", endpoint="feed", times=2, http_status=500, code=2)
    post_id = pipeline.post(page, "third time lucky")
    pipeline.wait_terminal(1)
    post = pipeline.get(post_id)
    assert post.status == resources_pb2.PUBLISHED and post.attempts == 3
    assert len(pipeline.fake.calls("5550002", "feed")) == 3
    assert len(pipeline.fake.posts("5550002")) == 1
    assert pipeline.events(post_id).count("attempt_failed") == 2


def test_three_transient_failures_fail_the_post_and_raise_an_alert(pipeline: Pipeline) -> None:
    page = pipeline.client.page_account("5550003")
    pipeline.fake.fault(kind="error", account="5550003", endpoint="feed", times=0, http_status=503, code=2)

    async def capture_alert() -> dict:
        nc = await nats.connect(pipeline.suite.nats_url)
        sub = await nc.subscribe("postsched.alerts.post_failed")
        post_id = pipeline.post(page, "never going to work")
        msg = await sub.next_msg(timeout=60)
        await nc.close()
        return {"post_id": post_id, **json.loads(msg.data)}

    alert = asyncio.run(capture_alert())
    pipeline.wait_terminal(1)
    post = pipeline.get(alert["post_id"])
    assert post.status == resources_pb2.FAILED and post.attempts == 3
    assert "Meta error 2" in post.last_error
    assert len(pipeline.fake.calls("5550003", "feed")) == 3  # exactly three platform calls
    assert alert["reason"] == post.last_error
    assert pipeline.events(alert["post_id"])[-1] == "failed"
    errors = [json.loads(line) for line in pipeline.publisher.log().splitlines() if '"post failed"' in line]
    assert errors and errors[0]["level"] == "error" and errors[0]["post_id"] == alert["post_id"]


def test_permanent_error_fails_after_one_call(pipeline: Pipeline) -> None:
    page = pipeline.client.page_account("5550004")
    pipeline.fake.fault(kind="error", account="5550004", endpoint="feed", times=0, http_status=400, code=100,
                        message="(#100) Invalid parameter")
    post_id = pipeline.post(page, "bad parameter")
    pipeline.wait_terminal(1)
    post = pipeline.get(post_id)
    assert post.status == resources_pb2.FAILED and post.attempts == 1 and "Invalid parameter" in post.last_error
    assert len(pipeline.fake.calls("5550004", "feed")) == 1


def test_invalid_token_marks_the_account_and_its_other_posts_wait(pipeline: Pipeline) -> None:
    page = pipeline.client.page_account("5550005", token="invalid-token")
    first = pipeline.post(page, "first")
    pipeline.wait_terminal(1)
    assert pipeline.get(first).status == resources_pb2.FAILED and "190" in pipeline.get(first).last_error
    account = pipeline.client.GetAccount(Req.GetAccountRequest(account_id=page.account_id))
    assert account.needs_credentials
    second = pipeline.post(page, "second")
    time.sleep(2)
    assert pipeline.get(second).status == resources_pb2.SCHEDULED  # waits instead of failing
    assert len(pipeline.fake.calls("5550005", "feed")) == 1
    # New credentials: the waiting post goes out at once.
    updated = pipeline.client.UpdateAccountCredentials(
        Req.UpdateAccountCredentialsRequest(account_id=page.account_id, access_token="EAAB-fresh-token"))
    assert not updated.needs_credentials
    pipeline.suite.wait_for("SELECT status::text FROM posts WHERE id = %s", "PUBLISHED", params=(second,))
    assert [p["message"] for p in pipeline.fake.posts("5550005")] == ["second"]
    with pytest.raises(grpc.RpcError) as info:
        pipeline.client.UpdateAccountCredentials(Req.UpdateAccountCredentialsRequest(account_id=page.account_id))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_rate_limit_is_not_a_failed_delivery(pipeline: Pipeline) -> None:
    page = pipeline.client.page_account("5550006")
    pipeline.fake.fault(kind="error", account="5550006", endpoint="feed", times=1, http_status=400, code=32,
                        message="Page request limit reached", retry_after=2)
    started = time.monotonic()
    post_id = pipeline.post(page, "patience")
    pipeline.wait_terminal(1, timeout=30)
    assert time.monotonic() - started >= 2, "published before the window the platform gave"
    post = pipeline.get(post_id)
    assert post.status == resources_pb2.PUBLISHED and post.attempts == 1  # the limited attempt was given back
    assert "rate_limited" in pipeline.events(post_id)
    assert len(pipeline.fake.posts("5550006")) == 1


def test_a_rate_limit_sends_the_accounts_waiting_attempts_back_without_a_call(suite: Suite, fake_meta: FakeMeta) -> None:
    pipeline = Pipeline(suite, fake_meta, POSTSCHED_ACCOUNT_CONCURRENCY="2")
    fake_meta.settings(latency_ms=300)
    page = pipeline.client.page_account("5550030")
    fake_meta.fault(kind="error", account="5550030", endpoint="feed", times=1, http_status=400, code=32,
                    message="Page request limit reached", retry_after=120)
    pipeline.client.BatchCreatePosts(Req.BatchCreatePostsRequest(requests=[
        Req.CreatePostRequest(account_id=page.account_id, text=f"waiting {i}") for i in range(40)]))
    # The publisher took on what the account can run soon (two running, the rest queued without a
    # slot) and gave the others back unclaimed. Once the limit is known, every post that comes back
    # (queued, or given back and handed over again) goes back to the end of the wait without a call.
    suite.wait_for("SELECT count(*) > 0 FROM processing_logs WHERE event = 'rate_limited'", True, timeout=30)
    suite.wait_for("SELECT count(*) FROM posts WHERE status = 'SCHEDULED' AND attempts = 0", 39, timeout=30)
    assert suite.sql("SELECT count(DISTINCT post_id) FROM processing_logs WHERE event = 'deferred'")[0][0] >= 10
    time.sleep(3)  # past the given-back posts' not-before times: nothing more reaches the platform
    # The limited call and the one beside it; none of the 38 others called the platform.
    assert len(fake_meta.calls("5550030", "feed")) == 2
    assert len(fake_meta.posts("5550030")) == 1


def test_a_tenant_cannot_lend_its_wait_to_another_tenants_page(pipeline: Pipeline) -> None:
    """globex names a webhook account after acme's Facebook Page and answers 429 with a day's
    Retry-After: globex waits (an hour at most, and is told so); acme's post goes out on time."""
    page = pipeline.client.page_account("5550100")
    globex = Tenant(pipeline.scheduler.addr, TENANT_TOKENS["globex"])
    hook = globex.CreateAccount(Req.CreateAccountRequest(
        platform=resources_pb2.WEBHOOK, external_id="5550100", webhook_url=f"{pipeline.fake.base}/_webhooks/5550100",
        webhook_secret="g" * 32))
    pipeline.fake.fault(kind="error", account="5550100", endpoint="webhook", times=0, http_status=429, retry_after=86400)
    waiting = globex.CreatePost(Req.CreatePostRequest(account_id=hook.account_id, text="globex")).post_id
    pipeline.suite.wait_for("SELECT count(*) FROM processing_logs WHERE event = 'rate_limited'", 1)
    started = time.monotonic()
    on_time = pipeline.post(page, "acme's own page")
    pipeline.wait_terminal(1, timeout=15)
    assert time.monotonic() - started < 10
    post = pipeline.get(on_time)
    assert post.status == resources_pb2.PUBLISHED and post.attempts == 1
    assert [p["message"] for p in pipeline.fake.posts("5550100")] == ["acme's own page"]
    held = globex.GetPost(Req.GetPostRequest(post_id=waiting))
    assert held.status == resources_pb2.SCHEDULED and held.attempts == 0
    wait = held.scheduled_at.ToDatetime(tzinfo=timezone.utc) - datetime.now(timezone.utc)
    assert timedelta(minutes=58) < wait <= timedelta(hours=1)
    assert "waiting 3600 s, capped from 86400 s (POSTSCHED_MAX_PLATFORM_WAIT)" in held.last_error
    stream = globex.WatchEvents(Req.WatchEventsRequest(types=["post.waiting"]))
    event = next(iter(stream))
    stream.cancel()
    assert event.post_id == waiting and "waiting 3600 s, capped from 86400 s" in event.message


def test_instagram_quota_holds_posts_back(pipeline: Pipeline) -> None:
    pipeline.fake.settings(ig_quota_total=1)
    ig = pipeline.client.instagram_account("17841400000000043")
    first = pipeline.post(ig, "fits", media=["https://cdn.example.com/a.jpg"])
    pipeline.wait_terminal(1)
    second = pipeline.post(ig, "over the quota", media=["https://cdn.example.com/b.jpg"])
    pipeline.suite.wait_for("SELECT count(*) FROM processing_logs WHERE event = 'rate_limited'", 1)
    assert pipeline.get(first).status == resources_pb2.PUBLISHED
    held = pipeline.get(second)
    assert held.status == resources_pb2.SCHEDULED and held.attempts == 0
    assert "publishing limit" in held.last_error
    assert len(pipeline.fake.posts("17841400000000043")) == 1
    status = publisher_status(pipeline.publisher)
    (state,) = [a for a in status.accounts if a.external_id == "17841400000000043"]
    # The quota holds back publications, not the account: its other calls (first comments) go on.
    assert not state.throttled_until.seconds
    assert (state.instagram_quota_used, state.instagram_quota_total) == (1, 1)
    (quota,) = state.publishing_quotas
    assert quota.frees_at.seconds > time.time() + 86000  # the first publication leaves the window in a day
    assert held.scheduled_at.seconds > time.time() + 3000  # the post waits, capped at POSTSCHED_MAX_PLATFORM_WAIT


# --- never twice --------------------------------------------------------------------------------


def test_facebook_ghost_success_is_found_not_posted_again(pipeline: Pipeline) -> None:
    page = pipeline.client.page_account("5550007")
    pipeline.fake.fault(kind="ghost", account="5550007", endpoint="feed", times=1, http_status=500, code=1, subcode=99)
    post_id = pipeline.post(page, "went out despite the error")
    pipeline.wait_terminal(1)
    post = pipeline.get(post_id)
    assert post.status == resources_pb2.PUBLISHED
    assert len(pipeline.fake.posts("5550007")) == 1 and len(pipeline.fake.calls("5550007", "feed")) == 1
    assert post.platform_post_id == pipeline.fake.posts("5550007")[0]["id"]
    assert "published_reconciled" in pipeline.events(post_id)


def test_instagram_ghost_after_media_publish(pipeline: Pipeline) -> None:
    ig = pipeline.client.instagram_account("17841400000000044")
    pipeline.fake.fault(kind="ghost", account="17841400000000044", endpoint="media_publish", times=1,
                        http_status=400, code=4, subcode=2207051)
    post_id = pipeline.post(ig, "ghost on instagram", media=["https://cdn.example.com/a.jpg"])
    pipeline.wait_terminal(1)
    assert pipeline.get(post_id).status == resources_pb2.PUBLISHED
    assert len(pipeline.fake.posts("17841400000000044")) == 1
    assert len(pipeline.fake.calls("17841400000000044", "media_publish")) == 1


def test_webhook_timeout_is_outcome_unknown_not_a_second_delivery(suite: Suite, fake_meta: FakeMeta) -> None:
    pipeline = Pipeline(suite, fake_meta, POSTSCHED_HTTP_TIMEOUT="1")
    # Received and recorded, but only after the publisher stopped waiting for the answer.
    fake_meta.fault(kind="late", account="slow", endpoint="webhook", times=1, latency_ms=2500)
    account = pipeline.client.CreateAccount(Req.CreateAccountRequest(
        platform=resources_pb2.WEBHOOK, external_id="slow", webhook_url=f"{fake_meta.base}/_webhooks/slow",
        webhook_secret="s" * 20))
    post_id = pipeline.post(account, "did it arrive?")
    pipeline.wait_terminal(1)
    post = pipeline.get(post_id)
    assert post.status == resources_pb2.FAILED and post.last_error.startswith("outcome_unknown")
    time.sleep(2)  # let a (wrong) second delivery show up if there were one
    assert len(fake_meta.webhooks()) == 1  # it did arrive, once: no blind second delivery


def test_sigkill_mid_batch_publishes_nothing_twice(suite: Suite, fake_meta: FakeMeta) -> None:
    pipeline = Pipeline(suite, fake_meta, POSTSCHED_PUBLISH_LEASE="2", POSTSCHED_HTTP_TIMEOUT="2")
    fake_meta.settings(latency_ms=300)
    page = pipeline.client.page_account("5550008")
    hook = pipeline.client.CreateAccount(Req.CreateAccountRequest(
        platform=resources_pb2.WEBHOOK, external_id="kill-hook", webhook_url=f"{fake_meta.base}/_webhooks/kill-hook",
        webhook_secret="k" * 20))
    requests = [Req.CreatePostRequest(account_id=page.account_id, text=f"page post {i}") for i in range(150)]
    requests += [Req.CreatePostRequest(account_id=hook.account_id, text=f"hook post {i}") for i in range(50)]
    pipeline.client.BatchCreatePosts(Req.BatchCreatePostsRequest(requests=requests))
    suite.wait_for("SELECT count(*) > 0 FROM posts WHERE status = 'PUBLISHING'", True)
    pipeline.publisher.stop(signal.SIGKILL)
    fake_meta.settings(latency_ms=0)
    suite.start("publisher", **FAST, POSTSCHED_PUBLISH_LEASE="2", POSTSCHED_HTTP_TIMEOUT="2")
    pipeline.wait_terminal(200, timeout=120)
    published = [p["message"] for p in fake_meta.posts()]
    assert len(published) == len(set(published)), "a post reached the platform twice"
    rows = suite.sql("SELECT text, status::text, coalesce(last_error, '') FROM posts")
    for text, status, error in rows:
        assert status == "PUBLISHED" or error.startswith("outcome_unknown"), (text, status, error)
        if status == "PUBLISHED":
            assert published.count(text) == 1
    assert {t for t, s, _ in rows if s == "PUBLISHED"} == set(published)
    reconciled = suite.sql("SELECT count(*) FROM processing_logs WHERE event IN "
                           "('published_reconciled', 'reconciled_not_published')")
    assert reconciled[0][0] > 0, "the kill should have left attempts for the rescuer to reconcile"


def test_two_dispatchers_three_publishers_5000_posts_with_errors_each_exactly_once(
    suite: Suite, fake_meta: FakeMeta
) -> None:
    fake_meta.settings(error_rate=0.05)
    suite.base_env["POSTSCHED_META_GRAPH_URL"] = fake_meta.graph_url
    scheduler = suite.start("scheduler")
    for _ in range(2):
        suite.start("dispatcher", POSTSCHED_DISPATCH_BATCH="200")
    for _ in range(3):
        suite.start("publisher", **FAST)
    client = Tenant(scheduler.addr, TENANT_TOKENS["acme"])
    pages = [client.page_account(f"66600{i}") for i in range(10)]
    for batch in range(5):
        requests = [Req.CreatePostRequest(account_id=pages[i % 10].account_id, text=f"post {batch}-{i}")
                    for i in range(1000)]
        client.BatchCreatePosts(Req.BatchCreatePostsRequest(requests=requests))
    suite.wait_for(TERMINAL, 5000, timeout=240)
    published = [p["message"] for p in fake_meta.posts()]
    assert len(published) == len(set(published)), "a post reached the platform twice"
    statuses = dict(suite.sql("SELECT status::text, count(*) FROM posts GROUP BY 1"))
    # 5% errors over at most three deliveries: a few may fail, none may be lost or doubled.
    assert statuses.get("PUBLISHED", 0) == len(published)
    assert statuses.get("PUBLISHED", 0) + statuses.get("FAILED", 0) == 5000
    assert statuses.get("PUBLISHED", 0) > 4900
    claimers = suite.sql("SELECT count(DISTINCT message) FROM processing_logs WHERE event = 'claimed'")
    assert claimers == [(3,)], "every publisher should have taken part"


def test_a_page_with_hundreds_of_due_posts_gets_at_most_the_account_limit_of_calls_at_once(
    suite: Suite, fake_meta: FakeMeta
) -> None:
    pipeline = Pipeline(suite, fake_meta, POSTSCHED_ACCOUNT_CONCURRENCY="4")
    fake_meta.settings(latency_ms=150)
    hot = pipeline.client.page_account("5550020")
    quiet = [pipeline.client.page_account(f"555002{i}") for i in range(1, 4)]
    requests = [Req.CreatePostRequest(account_id=hot.account_id, text=f"hot {i}") for i in range(300)]
    requests += [Req.CreatePostRequest(account_id=q.account_id, text=f"quiet {n} {i}")
                 for n, q in enumerate(quiet) for i in range(30)]
    pipeline.client.BatchCreatePosts(Req.BatchCreatePostsRequest(requests=requests))
    seen_waiting = False
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and suite.sql(TERMINAL)[0][0] < 390:
        status = publisher_status(pipeline.publisher)
        assert status.account_concurrency == 4
        for account in status.accounts:
            assert account.in_flight <= 4, account
            seen_waiting |= account.external_id == "5550020" and account.in_flight == 4 and account.waiting > 0
        time.sleep(0.2)
    pipeline.wait_terminal(390, timeout=5)
    most = fake_meta.max_in_flight()
    assert most["5550020"] == 4, most  # the limit was reached and never passed
    assert all(most[f"555002{i}"] <= 4 for i in range(1, 4)), most
    assert seen_waiting, "GetPublisherStatus never showed the hot page's attempts waiting for a slot"
    published = [p["message"] for p in fake_meta.posts()]
    assert len(published) == len(set(published)) == 390
    assert suite.sql("SELECT status::text, count(*) FROM posts GROUP BY 1") == [("PUBLISHED", 390)]


def test_sigterm_finishes_what_is_in_flight(suite: Suite, fake_meta: FakeMeta) -> None:
    pipeline = Pipeline(suite, fake_meta)
    fake_meta.settings(latency_ms=1500)
    page = pipeline.client.page_account("5550009")
    for i in range(5):
        pipeline.post(page, f"in flight {i}")
    suite.wait_for("SELECT count(*) FROM posts WHERE status = 'PUBLISHING'", 5)
    assert pipeline.publisher.stop(signal.SIGTERM) == 0
    assert suite.sql("SELECT status::text, count(*) FROM posts GROUP BY 1") == [("PUBLISHED", 5)]
    assert len(fake_meta.posts("5550009")) == 5


def test_publisher_status_needs_the_operator_token(pipeline: Pipeline) -> None:
    stub = publisher_pb2_grpc.PublisherServiceStub(grpc.insecure_channel(pipeline.publisher.addr))
    with pytest.raises(grpc.RpcError) as info:
        stub.GetPublisherStatus(publisher_pb2.GetPublisherStatusRequest())
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert publisher_status(pipeline.publisher).nats_connected
