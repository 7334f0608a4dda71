"""SchedulerService end to end: `postsched serve scheduler` as a real process, over real gRPC."""

from __future__ import annotations

import concurrent.futures
import itertools
import signal
from datetime import datetime, timedelta, timezone
from typing import Iterator

import grpc
import psycopg
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2, health_pb2_grpc

from postsched.v1 import resources_pb2, scheduler_pb2
from postsched_devtools.tenant import Tenant, field_violations
from tests.conftest import TENANT_TOKENS
from postsched_devtools.processes import ServiceProcess

pytestmark = pytest.mark.e2e
Req = scheduler_pb2
_external_ids = itertools.count(17841400000000700)


def ts(value: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(value)
    return out


@pytest.fixture(scope="module")
def acme(scheduler: ServiceProcess) -> Iterator[Tenant]:
    client = Tenant(scheduler.addr, TENANT_TOKENS["acme"])
    yield client
    client.close()


@pytest.fixture(scope="module")
def globex(scheduler: ServiceProcess) -> Iterator[Tenant]:
    client = Tenant(scheduler.addr, TENANT_TOKENS["globex"])
    yield client
    client.close()


@pytest.fixture(scope="module")
def hook(acme: Tenant) -> resources_pb2.Account:
    return acme.webhook_account("main-hook")


def row_counts(scheduler: ServiceProcess) -> tuple[int, int, int]:
    with psycopg.connect(scheduler.database_url) as conn:  # type: ignore[attr-defined]
        return tuple(  # type: ignore[return-value]
            conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("accounts", "posts", "processing_logs")
        )


def expect_error(code: grpc.StatusCode, call, request) -> grpc.RpcError:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as info:
        call(request)
    assert info.value.code() == code, info.value.details()
    assert "Traceback" not in (info.value.details() or "")
    return info.value


# --- accounts -------------------------------------------------------------------------------


def test_create_get_list_accounts_never_return_credentials(acme: Tenant, scheduler: ServiceProcess) -> None:
    page = acme.page_account("1111", token="EAAB-secret-page-token")
    assert page.platform == resources_pb2.FACEBOOK_PAGE and page.external_id == "1111"
    got = acme.GetAccount(Req.GetAccountRequest(account_id=page.account_id))
    assert got == page
    listed = acme.ListAccounts(Req.ListAccountsRequest(platform=resources_pb2.FACEBOOK_PAGE))
    assert page.account_id in [a.account_id for a in listed.accounts]
    for message in (page, got, listed):
        assert b"EAAB-secret-page-token" not in message.SerializeToString()
    assert "EAAB-secret-page-token" not in scheduler.log()
    with psycopg.connect(scheduler.database_url) as conn:  # type: ignore[attr-defined]
        (stored,) = conn.execute("SELECT credentials FROM accounts WHERE id = %s", (page.account_id,)).fetchone()
    assert b"EAAB-secret-page-token" not in bytes(stored)  # encrypted at rest


def test_duplicate_account_is_already_exists(acme: Tenant) -> None:
    acme.page_account("2222")
    expect_error(grpc.StatusCode.ALREADY_EXISTS, lambda r: acme.page_account("2222"), None)


def test_account_validation(acme: Tenant) -> None:
    err = expect_error(
        grpc.StatusCode.INVALID_ARGUMENT,
        acme.CreateAccount,
        Req.CreateAccountRequest(platform=resources_pb2.INSTAGRAM, external_id="not-a-number"),
    )
    violations = field_violations(err)
    assert set(violations) == {"external_id", "access_token"}
    err = expect_error(
        grpc.StatusCode.INVALID_ARGUMENT,
        acme.CreateAccount,
        Req.CreateAccountRequest(platform=resources_pb2.WEBHOOK, external_id="h", webhook_url="ftp://x", webhook_secret="short"),
    )
    assert set(field_violations(err)) == {"webhook_url", "webhook_secret"}
    expect_error(grpc.StatusCode.INVALID_ARGUMENT, acme.CreateAccount, Req.CreateAccountRequest())


def test_list_accounts_pages(acme: Tenant) -> None:
    for i in range(5):
        acme.webhook_account(f"paged-{i}")
    seen: list[str] = []
    token = ""
    while True:
        page = acme.ListAccounts(Req.ListAccountsRequest(page_size=2, page_token=token, platform=resources_pb2.WEBHOOK))
        assert len(page.accounts) <= 2
        seen += [a.external_id for a in page.accounts]
        token = page.next_page_token
        if not token:
            break
    assert [s for s in seen if s.startswith("paged-")] == [f"paged-{i}" for i in range(5)]
    assert len(seen) == len(set(seen))


# --- posts ----------------------------------------------------------------------------------


def test_create_and_get_post(acme: Tenant, hook: resources_pb2.Account) -> None:
    at = datetime.now(timezone.utc) + timedelta(hours=1)
    post = acme.CreatePost(
        Req.CreatePostRequest(account_id=hook.account_id, text="hello", media_urls=["https://img.example.com/a.jpg"],
                              link="https://example.com", scheduled_at=ts(at))
    )
    assert post.status == resources_pb2.SCHEDULED
    assert post.scheduled_at.ToDatetime(tzinfo=timezone.utc) == at.replace(microsecond=at.microsecond)
    assert post.attempts == 0 and post.text == "hello" and list(post.media_urls) == ["https://img.example.com/a.jpg"]
    assert acme.GetPost(Req.GetPostRequest(post_id=post.post_id)) == post


def test_empty_or_past_schedule_means_now(acme: Tenant, hook: resources_pb2.Account) -> None:
    before = datetime.now(timezone.utc)
    past = acme.CreatePost(Req.CreatePostRequest(account_id=hook.account_id, text="late",
                                                  scheduled_at=ts(before - timedelta(hours=23))))
    empty = acme.CreatePost(Req.CreatePostRequest(account_id=hook.account_id, text="asap"))
    after = datetime.now(timezone.utc)
    for post in (past, empty):
        assert before - timedelta(seconds=1) <= post.scheduled_at.ToDatetime(tzinfo=timezone.utc) <= after + timedelta(seconds=1)


def test_a_time_more_than_a_day_back_is_refused_naming_the_field(acme: Tenant, hook: resources_pb2.Account) -> None:
    last_year = datetime.now(timezone.utc) - timedelta(days=365)
    with pytest.raises(grpc.RpcError) as info:
        acme.CreatePost(Req.CreatePostRequest(account_id=hook.account_id, text="wrong year", scheduled_at=ts(last_year)))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "24 hours in the past" in field_violations(info.value)["scheduled_at"]
    post = acme.CreatePost(Req.CreatePostRequest(account_id=hook.account_id, text="right year"))
    with pytest.raises(grpc.RpcError) as info:
        acme.ReschedulePost(Req.ReschedulePostRequest(post_id=post.post_id, scheduled_at=ts(last_year)))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_idempotency_key_returns_first_post(acme: Tenant, globex: Tenant, hook: resources_pb2.Account) -> None:
    first = acme.CreatePost(Req.CreatePostRequest(account_id=hook.account_id, text="one", idempotency_key="k-1"))
    again = acme.CreatePost(Req.CreatePostRequest(account_id=hook.account_id, text="two", idempotency_key="k-1"))
    assert again.post_id == first.post_id and again.text == "one"
    # Another tenant's identical key is its own.
    other_hook = globex.webhook_account("globex-hook-idem")
    theirs = globex.CreatePost(Req.CreatePostRequest(account_id=other_hook.account_id, text="x", idempotency_key="k-1"))
    assert theirs.post_id != first.post_id


def test_twenty_concurrent_creates_with_one_key_make_one_post(acme: Tenant, hook: resources_pb2.Account, scheduler: ServiceProcess) -> None:
    request = Req.CreatePostRequest(account_id=hook.account_id, text="race", idempotency_key="race-key")
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        posts = list(pool.map(lambda _: acme.CreatePost(request), range(20)))
    assert len({p.post_id for p in posts}) == 1
    with psycopg.connect(scheduler.database_url) as conn:  # type: ignore[attr-defined]
        (count,) = conn.execute("SELECT count(*) FROM posts WHERE idempotency_key = 'race-key'").fetchone()
    assert count == 1


def test_batch_create_in_order_with_idempotency(acme: Tenant, hook: resources_pb2.Account) -> None:
    existing = acme.CreatePost(Req.CreatePostRequest(account_id=hook.account_id, text="pre", idempotency_key="b-0"))
    requests = [Req.CreatePostRequest(account_id=hook.account_id, text=f"p{i}") for i in range(10)]
    requests += [
        Req.CreatePostRequest(account_id=hook.account_id, text="dup", idempotency_key="b-0"),
        Req.CreatePostRequest(account_id=hook.account_id, text="new", idempotency_key="b-1"),
        Req.CreatePostRequest(account_id=hook.account_id, text="same batch", idempotency_key="b-1"),
    ]
    posts = acme.BatchCreatePosts(Req.BatchCreatePostsRequest(requests=requests)).posts
    assert [p.text for p in posts[:10]] == [f"p{i}" for i in range(10)]
    assert posts[10].post_id == existing.post_id
    assert posts[11].post_id == posts[12].post_id and posts[11].text == "new"
    assert len({p.post_id for p in posts}) == 12


def test_batch_is_all_or_nothing(acme: Tenant, hook: resources_pb2.Account, scheduler: ServiceProcess) -> None:
    before = row_counts(scheduler)
    requests = [Req.CreatePostRequest(account_id=hook.account_id, text=f"ok {i}") for i in range(5)]
    requests.append(Req.CreatePostRequest(account_id=hook.account_id, text=""))  # invalid
    err = expect_error(grpc.StatusCode.INVALID_ARGUMENT, acme.BatchCreatePosts, Req.BatchCreatePostsRequest(requests=requests))
    assert "requests[5].text" in field_violations(err)
    requests[5] = Req.CreatePostRequest(account_id="00000000-0000-0000-0000-000000000000", text="ghost")
    err = expect_error(grpc.StatusCode.NOT_FOUND, acme.BatchCreatePosts, Req.BatchCreatePostsRequest(requests=requests))
    assert "requests[5]" in err.details()
    expect_error(grpc.StatusCode.INVALID_ARGUMENT, acme.BatchCreatePosts, Req.BatchCreatePostsRequest(requests=[]))
    too_many = [Req.CreatePostRequest(account_id=hook.account_id, text="x")] * 1001
    expect_error(grpc.StatusCode.INVALID_ARGUMENT, acme.BatchCreatePosts, Req.BatchCreatePostsRequest(requests=too_many))
    assert row_counts(scheduler) == before


def test_batch_of_1000(acme: Tenant, hook: resources_pb2.Account) -> None:
    requests = [Req.CreatePostRequest(account_id=hook.account_id, text=f"bulk {i}") for i in range(1000)]
    posts = acme.BatchCreatePosts(Req.BatchCreatePostsRequest(requests=requests)).posts
    assert len(posts) == 1000 and len({p.post_id for p in posts}) == 1000


@pytest.mark.parametrize(
    "platform, request_fields, field",
    [
        ("instagram", dict(text="no media"), "media_urls"),
        ("instagram", dict(text="x" * 2201, media_urls=["https://e.com/a.jpg"]), "text"),
        ("instagram", dict(text=" ".join(f"#t{i}" for i in range(31)), media_urls=["https://e.com/a.jpg"]), "text"),
        ("instagram", dict(text="x", media_urls=["https://e.com/a.jpg"], link="https://e.com"), "link"),
        ("facebook", dict(text="x" * 63_207), "text"),
        ("facebook", dict(text="x", media_urls=["file:///etc/passwd"]), "media_urls[0]"),
        ("facebook", dict(text="x", link="javascript:alert(1)"), "link"),
        ("facebook", dict(text="   "), "text"),
        ("facebook", dict(text="nul\x00byte"), "text"),
        ("facebook", dict(text="far", scheduled_at=ts(datetime.now(timezone.utc) + timedelta(days=401))), "scheduled_at"),
        ("facebook", dict(text="x", media_urls=[f"https://e.com/{i}.jpg" for i in range(11)]), "media_urls"),
    ],
)
def test_post_validation_changes_nothing(
    acme: Tenant, scheduler: ServiceProcess, platform: str, request_fields: dict, field: str
) -> None:
    external_id = str(next(_external_ids))
    account = acme.instagram_account(external_id) if platform == "instagram" else acme.page_account(external_id)
    before = row_counts(scheduler)
    err = expect_error(grpc.StatusCode.INVALID_ARGUMENT, acme.CreatePost,
                       Req.CreatePostRequest(account_id=account.account_id, **request_fields))
    assert field in field_violations(err), field_violations(err)
    assert row_counts(scheduler) == before


def test_unknown_or_foreign_ids_are_not_found(acme: Tenant, globex: Tenant, hook: resources_pb2.Account) -> None:
    post = acme.CreatePost(Req.CreatePostRequest(account_id=hook.account_id, text="mine"))
    expect_error(grpc.StatusCode.NOT_FOUND, globex.GetPost, Req.GetPostRequest(post_id=post.post_id))
    expect_error(grpc.StatusCode.NOT_FOUND, globex.CancelPost, Req.CancelPostRequest(post_id=post.post_id))
    expect_error(grpc.StatusCode.NOT_FOUND, globex.GetAccount, Req.GetAccountRequest(account_id=hook.account_id))
    expect_error(grpc.StatusCode.NOT_FOUND, globex.CreatePost,
                 Req.CreatePostRequest(account_id=hook.account_id, text="into acme's account"))
    listed = globex.ListPosts(Req.ListPostsRequest(page_size=1000))
    assert post.post_id not in [p.post_id for p in listed.posts]
    err = expect_error(grpc.StatusCode.INVALID_ARGUMENT, acme.GetPost, Req.GetPostRequest(post_id="nope"))
    assert "post_id" in field_violations(err)


def test_auth(scheduler: ServiceProcess) -> None:
    for token in (None, "wrong"):
        client = Tenant(scheduler.addr, token)
        expect_error(grpc.StatusCode.UNAUTHENTICATED, client.ListPosts, Req.ListPostsRequest())
        client.close()
    with grpc.insecure_channel(scheduler.addr) as channel:  # health needs no token
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="postsched.v1.SchedulerService"), timeout=5
        )
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_list_posts_pages_and_filters(acme: Tenant) -> None:
    account = acme.webhook_account("list-hook")
    base = datetime.now(timezone.utc) + timedelta(days=2)
    made = [
        acme.CreatePost(Req.CreatePostRequest(account_id=account.account_id, text=f"l{i}", scheduled_at=ts(base + timedelta(minutes=i))))
        for i in range(7)
    ]
    acme.CancelPost(Req.CancelPostRequest(post_id=made[3].post_id))
    seen: list[str] = []
    token = ""
    while True:
        page = acme.ListPosts(Req.ListPostsRequest(account_id=account.account_id, page_size=3, page_token=token))
        seen += [p.post_id for p in page.posts]
        token = page.next_page_token
        if not token:
            break
    assert seen == [p.post_id for p in made]  # ordered by scheduled_at
    cancelled = acme.ListPosts(Req.ListPostsRequest(account_id=account.account_id, status=resources_pb2.CANCELLED))
    assert [p.post_id for p in cancelled.posts] == [made[3].post_id]
    expect_error(grpc.StatusCode.INVALID_ARGUMENT, acme.ListPosts, Req.ListPostsRequest(page_size=5000))
    expect_error(grpc.StatusCode.INVALID_ARGUMENT, acme.ListPosts, Req.ListPostsRequest(page_token="garbage!"))
    expect_error(grpc.StatusCode.INVALID_ARGUMENT, acme.ListPosts, Req.ListPostsRequest(status=99))


def test_reschedule_and_cancel(acme: Tenant, hook: resources_pb2.Account, scheduler: ServiceProcess) -> None:
    post = acme.CreatePost(Req.CreatePostRequest(account_id=hook.account_id, text="move me"))
    later = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=1)
    moved = acme.ReschedulePost(Req.ReschedulePostRequest(post_id=post.post_id, scheduled_at=ts(later)))
    assert moved.scheduled_at.ToDatetime(tzinfo=timezone.utc) == later
    expect_error(grpc.StatusCode.INVALID_ARGUMENT, acme.ReschedulePost,
                 Req.ReschedulePostRequest(post_id=post.post_id, scheduled_at=ts(later + timedelta(days=500))))
    cancelled = acme.CancelPost(Req.CancelPostRequest(post_id=post.post_id))
    assert cancelled.status == resources_pb2.CANCELLED
    assert acme.CancelPost(Req.CancelPostRequest(post_id=post.post_id)).status == resources_pb2.CANCELLED
    err = expect_error(grpc.StatusCode.FAILED_PRECONDITION, acme.ReschedulePost,
                       Req.ReschedulePostRequest(post_id=post.post_id, scheduled_at=ts(later)))
    assert "CANCELLED" in err.details()
    # A QUEUED post can still be cancelled; a PUBLISHED one cannot.
    queued = acme.CreatePost(Req.CreatePostRequest(account_id=hook.account_id, text="queued"))
    published = acme.CreatePost(Req.CreatePostRequest(account_id=hook.account_id, text="published"))
    with psycopg.connect(scheduler.database_url) as conn:  # type: ignore[attr-defined]
        conn.execute("UPDATE posts SET status = 'QUEUED' WHERE id = %s", (queued.post_id,))
        conn.execute("UPDATE posts SET status = 'PUBLISHED' WHERE id = %s", (published.post_id,))
    assert acme.CancelPost(Req.CancelPostRequest(post_id=queued.post_id)).status == resources_pb2.CANCELLED
    expect_error(grpc.StatusCode.FAILED_PRECONDITION, acme.CancelPost, Req.CancelPostRequest(post_id=published.post_id))
    expect_error(grpc.StatusCode.FAILED_PRECONDITION, acme.ReschedulePost,
                 Req.ReschedulePostRequest(post_id=published.post_id, scheduled_at=ts(later)))
    with psycopg.connect(scheduler.database_url) as conn:  # type: ignore[attr-defined]
        events = [r[0] for r in conn.execute(
            "SELECT event FROM processing_logs WHERE post_id = %s ORDER BY id", (post.post_id,))]
    assert events == ["created", "rescheduled", "cancelled"]


def test_sigterm_stops_cleanly(databases, secret_key: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import service_env

    service = ServiceProcess("scheduler", service_env(databases.fresh(), secret_key), tmp_path).start()
    assert service.stop(signal.SIGTERM) == 0
    assert "scheduler stopped" in service.log()
