"""Each tenant limit hit through the running scheduler: RESOURCE_EXHAUSTED with a
google.rpc.QuotaFailure naming the limit, nothing changed, and the other tenant untouched."""

from __future__ import annotations

import json
import time

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from postsched.v1 import resources_pb2, scheduler_pb2
from postsched_devtools.tenant import Tenant
from tests.waiting import until
from tests.conftest import TENANT_TOKENS
from postsched_devtools.processes import Suite

pytestmark = pytest.mark.e2e
Req = scheduler_pb2
LIMITS = {
    "default": {"live_posts": 5, "accounts": 2, "watch_streams": 2, "recurring_posts": 2},
    "tenants": {"globex": {"requests_per_second": 5, "request_burst": 20}},
}


def quota_failure(error: grpc.RpcError) -> error_details_pb2.QuotaFailure.Violation:
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            for detail in status_pb2.Status.FromString(value).details:
                failure = error_details_pb2.QuotaFailure()
                if detail.Unpack(failure):
                    (violation,) = failure.violations
                    return violation
    raise AssertionError(f"no QuotaFailure in {error}")


def refused(call, request) -> error_details_pb2.QuotaFailure.Violation:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as info:
        call(request)
    return quota_failure(info.value)


@pytest.fixture
def tenants(suite: Suite) -> dict[str, Tenant]:
    scheduler = suite.start("scheduler", POSTSCHED_TENANT_LIMITS=json.dumps(LIMITS))
    return {name: Tenant(scheduler.addr, TENANT_TOKENS[name]) for name in ("acme", "globex")}


def test_accounts_and_live_posts(suite: Suite, tenants: dict[str, Tenant]) -> None:
    acme = tenants["acme"]
    first, _ = acme.webhook_account("one"), acme.webhook_account("two")
    violation = refused(acme.CreateAccount, Req.CreateAccountRequest(
        platform=resources_pb2.WEBHOOK, external_id="three", webhook_url="https://hooks.example.com/3", webhook_secret="s" * 32))
    assert violation.quota_id == "accounts" and violation.subject == "tenant:acme"
    assert len(acme.ListAccounts(Req.ListAccountsRequest()).accounts) == 2

    later = Req.CreatePostRequest(account_id=first.account_id, text="later")
    later.scheduled_at.FromSeconds(int(time.time()) + 3600)
    posts = [acme.CreatePost(later).post_id for _ in range(4)]
    violation = refused(acme.BatchCreatePosts, Req.BatchCreatePostsRequest(requests=[later, later]))
    assert violation.quota_id == "live_posts" and "4 posts are scheduled or in flight" in violation.description
    assert suite.sql("SELECT count(*) FROM posts") == [(4,)]  # the batch is all or nothing
    posts.append(acme.CreatePost(later).post_id)
    assert refused(acme.CreatePost, later).quota_id == "live_posts"
    acme.CancelPost(Req.CancelPostRequest(post_id=posts[0]))  # a cancelled post is not live...

    def created() -> bool:
        try:
            acme.CreatePost(later)
        except grpc.RpcError as error:
            assert quota_failure(error).quota_id == "live_posts", error
            return False
        return True

    # ...once the scheduler reads the count again (at most once a second)
    until(created, timeout=5, what="a post accepted in the cancelled one's place", every=0.2)
    # globex has the same default quotas, and none of acme's are its.
    assert tenants["globex"].webhook_account("one").account_id


def test_request_rate_and_burst(tenants: dict[str, Tenant]) -> None:
    globex = tenants["globex"]
    answers = []
    for _ in range(30):
        try:
            globex.ListAccounts(Req.ListAccountsRequest())
            answers.append("ok")
        except grpc.RpcError as error:
            answers.append(quota_failure(error).quota_id)
    assert answers.count("ok") in range(20, 24) and set(answers[24:]) == {"requests_per_second"}, answers
    tenants["acme"].ListAccounts(Req.ListAccountsRequest())  # acme's own rate is untouched
    time.sleep(1.0)
    globex.ListAccounts(Req.ListAccountsRequest())  # refilled
    batch = Req.BatchCreatePostsRequest(requests=[Req.CreatePostRequest(account_id="x", text="t")] * 21)
    assert refused(globex.BatchCreatePosts, batch).quota_id == "request_burst"  # each item counts


def test_watch_streams(tenants: dict[str, Tenant]) -> None:
    acme = tenants["acme"]
    streams = [acme.WatchEvents(Req.WatchEventsRequest()) for _ in range(2)]
    time.sleep(0.5)
    third = acme.WatchEvents(Req.WatchEventsRequest())
    with pytest.raises(grpc.RpcError) as info:
        next(third)
    assert quota_failure(info.value).quota_id == "watch_streams"
    other = tenants["globex"].WatchEvents(Req.WatchEventsRequest())  # another tenant's count is its own
    streams[0].cancel()
    time.sleep(0.5)
    again = acme.WatchEvents(Req.WatchEventsRequest())  # the freed place serves a new stream
    account = acme.webhook_account("for-an-event")
    post = acme.CreatePost(Req.CreatePostRequest(account_id=account.account_id, text="x"))
    acme.CancelPost(Req.CancelPostRequest(post_id=post.post_id))
    event = next(again)
    assert event.type == "post.cancelled" and event.post_id == post.post_id
    for stream in (again, other, streams[1]):
        stream.cancel()


def test_recurring_posts_and_enqueued_posts_count_against_the_tenants_limits(tenants: dict[str, Tenant]) -> None:
    acme, globex = tenants["acme"], tenants["globex"]
    account = acme.webhook_account("rhythm")

    def rule(key: str) -> Req.CreateRecurringPostRequest:
        return Req.CreateRecurringPostRequest(account_id=account.account_id, text="weekly", idempotency_key=key,
                                              start_time="2027-01-04T09:00:00", recurrence=["RRULE:FREQ=WEEKLY"])

    first, _ = acme.CreateRecurringPost(rule("r1")), acme.CreateRecurringPost(rule("r2"))
    violation = refused(acme.CreateRecurringPost, rule("r3"))
    assert violation.quota_id == "recurring_posts" and violation.subject == "tenant:acme"
    assert len(acme.ListRecurringPosts(Req.ListRecurringPostsRequest()).recurring_posts) == 2
    acme.CancelRecurringPost(Req.CancelRecurringPostRequest(recurring_post_id=first.recurring_post_id))
    acme.CreateRecurringPost(rule("r3"))  # a cancelled one frees its place
    other = globex.webhook_account("theirs")  # another tenant's limit is its own
    globex.CreateRecurringPost(Req.CreateRecurringPostRequest(
        account_id=other.account_id, text="x", start_time="2027-01-04T09:00:00", recurrence=["RRULE:FREQ=WEEKLY"]))

    # EnqueuePost counts towards live_posts (5) at once, like CreatePost.
    acme.SetPostingSchedule(Req.SetPostingScheduleRequest(account_id=account.account_id, slots=[
        resources_pb2.PostingSlot(day_of_week=day, time="09:00") for day in range(1, 8)]))
    for n in range(5):
        acme.EnqueuePost(Req.EnqueuePostRequest(post=Req.CreatePostRequest(account_id=account.account_id, text=f"q{n}")))
    violation = refused(acme.EnqueuePost, Req.EnqueuePostRequest(
        post=Req.CreatePostRequest(account_id=account.account_id, text="one too many")))
    assert violation.quota_id == "live_posts"
