"""The rest of the posts API: UpdatePost (and its race with the publisher), GetPost by
idempotency key, ListPosts by time range, permalinks, DisableAccount / EnableAccount."""

from __future__ import annotations

import concurrent.futures
from datetime import datetime, timedelta, timezone

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from postsched.v1 import resources_pb2, scheduler_pb2
from postsched_devtools.tenant import Tenant, field_violations
from tests.conftest import TENANT_TOKENS
from postsched_devtools.fake_meta.control import FakeMeta
from postsched_devtools.processes import ServiceProcess, Suite

pytestmark = pytest.mark.e2e
Req = scheduler_pb2


def ts(value: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(value)
    return out


def code_of(call, request) -> grpc.StatusCode:  # type: ignore[no-untyped-def]
    try:
        call(request)
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


def test_update_get_by_key_and_list_by_range(scheduler: ServiceProcess) -> None:
    acme = Tenant(scheduler.addr, TENANT_TOKENS["acme"])
    globex = Tenant(scheduler.addr, TENANT_TOKENS["globex"])
    insta = acme.instagram_account("17841400000000777")
    now = datetime.now(timezone.utc)
    posts = [
        acme.CreatePost(Req.CreatePostRequest(account_id=insta.account_id, text=f"day {d}", idempotency_key=f"k-{d}",
                                              media_urls=["https://cdn.example.com/a.jpg"],
                                              scheduled_at=ts(now + timedelta(days=d))))
        for d in range(1, 6)
    ]
    updated = acme.UpdatePost(Req.UpdatePostRequest(post_id=posts[0].post_id, text="new caption #x",
                                                    media_urls=["https://cdn.example.com/b.jpg"]))
    assert updated.text == "new caption #x" and list(updated.media_urls) == ["https://cdn.example.com/b.jpg"]
    assert updated.scheduled_at == posts[0].scheduled_at and updated.idempotency_key == "k-1"
    # Validated as CreatePost is, with the account's platform rules: Instagram needs media, no link.
    with pytest.raises(grpc.RpcError) as caught:
        acme.UpdatePost(Req.UpdatePostRequest(post_id=posts[0].post_id, text="no media", link="https://e.com"))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {"media_urls", "link"} <= set(field_violations(caught.value))
    assert acme.GetPost(Req.GetPostRequest(post_id=posts[0].post_id)).text == "new caption #x"  # unchanged by the refusal
    assert code_of(globex.UpdatePost, Req.UpdatePostRequest(post_id=posts[1].post_id, text="x")) == grpc.StatusCode.NOT_FOUND
    acme.CancelPost(Req.CancelPostRequest(post_id=posts[4].post_id))
    assert code_of(acme.UpdatePost, Req.UpdatePostRequest(
        post_id=posts[4].post_id, text="late", media_urls=["https://cdn.example.com/a.jpg"])) == grpc.StatusCode.FAILED_PRECONDITION

    assert acme.GetPost(Req.GetPostRequest(idempotency_key="k-3")).post_id == posts[2].post_id
    assert code_of(globex.GetPost, Req.GetPostRequest(idempotency_key="k-3")) == grpc.StatusCode.NOT_FOUND
    assert code_of(acme.GetPost, Req.GetPostRequest(post_id=posts[2].post_id, idempotency_key="k-3")) == grpc.StatusCode.INVALID_ARGUMENT

    window = Req.ListPostsRequest(account_id=insta.account_id, page_size=1,
                                  scheduled_from=ts(now + timedelta(days=2)), scheduled_until=ts(now + timedelta(days=4)))
    first = acme.ListPosts(window)
    window.page_token = first.next_page_token
    second = acme.ListPosts(window)
    assert [p.post_id for p in (*first.posts, *second.posts)] == [posts[1].post_id, posts[2].post_id]
    assert not second.next_page_token
    window.scheduled_until.CopyFrom(ts(now + timedelta(days=5)))  # another filter: the token does not apply
    assert code_of(acme.ListPosts, window) == grpc.StatusCode.INVALID_ARGUMENT


def test_update_racing_the_publisher_never_half_updates_and_disabled_accounts_wait(
    suite: Suite, fake_meta: FakeMeta
) -> None:
    suite.base_env["POSTSCHED_META_GRAPH_URL"] = fake_meta.graph_url
    scheduler = suite.start("scheduler")
    # A 1 s tick leases 6 s ahead (tick + 5 s margin), so posts due in 10 s stay SCHEDULED (updatable)
    # for about 4 s, and the updates race the lease.
    suite.start("dispatcher", POSTSCHED_DISPATCH_INTERVAL="1")
    suite.start("publisher")
    acme = Tenant(scheduler.addr, TENANT_TOKENS["acme"])
    page = acme.page_account("9990001")
    held = acme.page_account("9990002")
    assert acme.DisableAccount(Req.DisableAccountRequest(account_id=held.account_id)).disabled
    at = datetime.now(timezone.utc) + timedelta(seconds=10)
    requests = [Req.CreatePostRequest(account_id=page.account_id, text=f"v1 {i}", scheduled_at=ts(at)) for i in range(200)]
    posts = acme.BatchCreatePosts(Req.BatchCreatePostsRequest(requests=requests)).posts
    waiting = acme.CreatePost(Req.CreatePostRequest(account_id=held.account_id, text="held"))

    def keep_updating(post: resources_pb2.Post) -> tuple[str, int]:
        """Updates the post again and again until the dispatcher has it; returns its last text."""
        text, n = post.text, 0
        while True:
            n += 1
            try:
                text = acme.UpdatePost(Req.UpdatePostRequest(post_id=post.post_id, text=f"v{n + 1} {post.text[3:]}")).text
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.FAILED_PRECONDITION, error.details()
                return post.post_id, text

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        last_texts = dict(pool.map(keep_updating, posts))
    suite.wait_for("SELECT count(*) FROM posts WHERE status = 'PUBLISHED' AND account_id = %s", 200,
                   params=(page.account_id,), timeout=60)
    on_platform = {p["message"] for p in fake_meta.posts("9990001")}
    db_texts = dict(suite.sql("SELECT id::text, text FROM posts WHERE account_id = %s", (page.account_id,)))
    assert len(on_platform) == 200
    # What went out is exactly what the post held when the dispatcher took it: the last update
    # that succeeded, never a later one and never a mix.
    assert on_platform == set(db_texts.values()) == set(last_texts.values())
    assert sum(1 for t in last_texts.values() if not t.startswith("v1 ")) > 0  # updates did land
    published = acme.GetPost(Req.GetPostRequest(post_id=posts[0].post_id))
    page_id, _, post_id = published.platform_post_id.partition("_")
    assert published.permalink == f"https://www.facebook.com/{page_id}/posts/{post_id}"

    assert acme.GetPost(Req.GetPostRequest(post_id=waiting.post_id)).status == resources_pb2.SCHEDULED
    assert not acme.EnableAccount(Req.EnableAccountRequest(account_id=held.account_id)).disabled
    suite.wait_for("SELECT status::text FROM posts WHERE id = %s", "PUBLISHED", params=(waiting.post_id,), timeout=30)


def test_delete_account_cancels_its_posts_with_events_and_frees_its_id(scheduler: ServiceProcess) -> None:
    import psycopg

    acme = Tenant(scheduler.addr, TENANT_TOKENS["acme"])
    globex = Tenant(scheduler.addr, TENANT_TOKENS["globex"])
    page = acme.page_account("9990101")
    later = datetime.now(timezone.utc) + timedelta(days=2)
    posts = acme.BatchCreatePosts(Req.BatchCreatePostsRequest(requests=[
        Req.CreatePostRequest(account_id=page.account_id, text=f"d {i}", scheduled_at=ts(later)) for i in range(40)
    ])).posts
    assert code_of(globex.DeleteAccount, Req.DeleteAccountRequest(account_id=page.account_id)) == grpc.StatusCode.NOT_FOUND
    assert acme.DeleteAccount(Req.DeleteAccountRequest(account_id=page.account_id)).cancelled_posts == 40
    assert {acme.GetPost(Req.GetPostRequest(post_id=p.post_id)).status for p in posts} == {resources_pb2.CANCELLED}
    assert code_of(acme.GetAccount, Req.GetAccountRequest(account_id=page.account_id)) == grpc.StatusCode.NOT_FOUND
    assert code_of(acme.CreatePost, Req.CreatePostRequest(account_id=page.account_id, text="x")) == grpc.StatusCode.NOT_FOUND
    assert code_of(acme.DeleteAccount, Req.DeleteAccountRequest(account_id=page.account_id)) == grpc.StatusCode.NOT_FOUND
    assert page.account_id not in {a.account_id for a in acme.ListAccounts(Req.ListAccountsRequest(page_size=1000)).accounts}
    again = acme.page_account("9990101")  # the page may be connected again
    assert again.account_id != page.account_id
    with psycopg.connect(scheduler.database_url, autocommit=True) as conn:  # type: ignore[attr-defined]
        events = conn.execute("SELECT count(*) FROM events WHERE account_id = %s AND type = 'post.cancelled'",
                              (page.account_id,)).fetchone()[0]
    assert events == 40
