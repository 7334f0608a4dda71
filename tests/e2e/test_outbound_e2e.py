"""The outbound guard through the running services: a tenant's URL cannot reach a private address
(refused when set, or never connected to when called), redirects are not visits, and no answer
can grow a publisher. A listener on a forbidden loopback port counts every connection: zero
proves nothing was called."""

from __future__ import annotations

import json
import time
from pathlib import Path

import grpc
import pytest

from postsched.credentials import CredentialBox
from postsched.v1 import resources_pb2, scheduler_pb2
from postsched_devtools.tenant import Tenant, field_violations
from tests.conftest import TENANT_TOKENS
from postsched_devtools.processes import ServiceProcess, Suite
from tests.listeners import CountingListener, Receiver, huge_answer, loopback_name, redirect_to
from tests.unit.test_outbound import FORBIDDEN_URLS

pytestmark = pytest.mark.e2e
Req = scheduler_pb2
SECRET = "s" * 32
FAST = dict(POSTSCHED_RETRY_BASE="0.2", POSTSCHED_RETRY_MAX="1", POSTSCHED_DISPATCH_INTERVAL="1")


def test_every_forbidden_url_is_refused_where_it_is_set(suite: Suite) -> None:
    scheduler = suite.start("scheduler", POSTSCHED_OUTBOUND_ALLOW="")
    acme = Tenant(scheduler.addr, TENANT_TOKENS["acme"])
    hook = acme.webhook_account("allowed-hook")  # a public name is fine
    for url in FORBIDDEN_URLS:
        for call, request, field in (
            (acme.CreateAccount, Req.CreateAccountRequest(platform=resources_pb2.WEBHOOK, external_id="h",
                                                          webhook_url=url, webhook_secret=SECRET), "webhook_url"),
            (acme.UpdateAccountCredentials, Req.UpdateAccountCredentialsRequest(
                account_id=hook.account_id, webhook_url=url, webhook_secret=SECRET), "webhook_url"),
            (acme.SetEventWebhook, Req.SetEventWebhookRequest(url=url, secret=SECRET), "url"),
        ):
            with pytest.raises(grpc.RpcError) as err:
                call(request)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, url
            assert field in field_violations(err.value), (url, field_violations(err.value))
    assert [a.external_id for a in acme.ListAccounts(Req.ListAccountsRequest()).accounts] == ["allowed-hook"]
    assert acme.GetEventWebhook(Req.GetEventWebhookRequest()).url == ""


def _webhook(acme: Tenant, name: str, url: str) -> resources_pb2.Account:
    return acme.CreateAccount(Req.CreateAccountRequest(
        platform=resources_pb2.WEBHOOK, external_id=name, webhook_url=url, webhook_secret=SECRET))


def _post(acme: Tenant, account: resources_pb2.Account, text: str) -> str:
    return acme.CreatePost(Req.CreatePostRequest(account_id=account.account_id, text=text)).post_id


def _wait_ended(acme: Tenant, post_ids: list[str], timeout: float = 60) -> dict[str, resources_pb2.Post]:
    deadline = time.monotonic() + timeout
    while True:
        posts = {p: acme.GetPost(Req.GetPostRequest(post_id=p)) for p in post_ids}
        if all(p.status in (resources_pb2.PUBLISHED, resources_pb2.FAILED) for p in posts.values()):
            return posts
        assert time.monotonic() < deadline, {k: resources_pb2.PostStatus.Name(v.status) for k, v in posts.items()}
        time.sleep(0.2)


def test_at_call_time_no_forbidden_address_is_connected_to_and_posts_fail_clearly(suite: Suite, secret_key: str) -> None:
    """Names that resolve to loopback, redirects to it, and a URL of a numeric form stored before
    the guard existed: every post ends FAILED with the reason, none stays PUBLISHING, and the
    listener on the forbidden address counts no connection."""
    with CountingListener("127.0.0.1") as forbidden, \
            Receiver(redirect_to(f"http://127.0.0.1:{forbidden.port}/internal", 302)) as found, \
            Receiver(redirect_to(f"http://127.0.0.1:{forbidden.port}/internal", 307)) as temporary:
        scheduler = suite.start("scheduler", POSTSCHED_OUTBOUND_ALLOW="127.0.0.2/32")
        suite.start("dispatcher", **FAST)
        suite.start("publisher", POSTSCHED_OUTBOUND_ALLOW="127.0.0.2/32", **FAST)
        acme = Tenant(scheduler.addr, TENANT_TOKENS["acme"])
        name = loopback_name()
        by_name = _webhook(acme, "by-name", f"http://{name}:{forbidden.port}/hook")
        redirected = _webhook(acme, "redirected", f"{found.url}/in")
        re_posted = _webhook(acme, "re-posted", f"{temporary.url}/in")
        legacy = _webhook(acme, "legacy", "https://hooks.example.com/in")
        # As an earlier version would have stored it: the scheduler refuses this form today.
        sealed = CredentialBox(secret_key.encode()).seal(
            {"webhook_url": f"http://2130706433:{forbidden.port}/", "webhook_secret": SECRET})
        suite.sql("UPDATE accounts SET credentials = %s WHERE id = %s", (sealed, legacy.account_id))
        acme.SetEventWebhook(Req.SetEventWebhookRequest(url=f"http://{name}:{forbidden.port}/events", secret=SECRET))

        posts = _wait_ended(acme, [_post(acme, a, f"to {a.external_id}") for a in (by_name, redirected, re_posted, legacy)])
        by_account = {p.account_id: p for p in posts.values()}
        for account in (by_name, redirected, re_posted, legacy):
            post = by_account[account.account_id]
            assert post.status == resources_pb2.FAILED and post.attempts == 1, post
        assert f"{name} resolves to 127.0.0.1 is a loopback address" in by_account[by_name.account_id].last_error
        assert "302, a redirect: redirects are not followed" in by_account[redirected.account_id].last_error
        assert "307, a redirect" in by_account[re_posted.account_id].last_error
        assert "127.0.0.1 is a loopback address" in by_account[legacy.account_id].last_error
        assert found.requests == 1 and temporary.requests == 1  # each post went once, to the allowed receiver

        deadline = time.monotonic() + 20
        while not (deliveries := acme.ListEventDeliveries(Req.ListEventDeliveriesRequest()).deliveries):
            assert time.monotonic() < deadline, "no event delivery was attempted"
            time.sleep(0.2)
        assert deliveries[0].status_code == 0 and deliveries[0].duration_ms == 0
        assert deliveries[0].error.startswith(f"not called: {name} resolves to 127.0.0.1 is a loopback address")
        time.sleep(0.5)
        assert forbidden.connections == 0
    assert suite.sql("SELECT count(*) FROM posts WHERE status = 'PUBLISHING'") == [(0,)]


def _peak_rss_kib(service: ServiceProcess) -> int:
    assert service.proc is not None
    status = Path(f"/proc/{service.proc.pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))


def test_a_200_mb_answer_neither_grows_the_publisher_nor_reaches_the_tenant(suite: Suite) -> None:
    with Receiver(huge_answer(400, 200)) as huge, Receiver(huge_answer(200, 200)) as huge_ok:
        scheduler = suite.start("scheduler", POSTSCHED_OUTBOUND_ALLOW="127.0.0.2/32")
        suite.start("dispatcher", **FAST)
        publisher = suite.start("publisher", POSTSCHED_OUTBOUND_ALLOW="127.0.0.2/32", **FAST)
        acme = Tenant(scheduler.addr, TENANT_TOKENS["acme"])
        time.sleep(1.0)  # past start-up's own peak
        before = _peak_rss_kib(publisher)
        failing, fine = _webhook(acme, "huge", f"{huge.url}/in"), _webhook(acme, "huge-ok", f"{huge_ok.url}/in")
        posts = _wait_ended(acme, [_post(acme, failing, "big answer 1"), _post(acme, failing, "big answer 2"),
                                   _post(acme, fine, "big but fine")])
        grown_mib = (_peak_rss_kib(publisher) - before) / 1024
        by_account = {p.account_id: p for p in posts.values()}
        failed = [p for p in posts.values() if p.account_id == failing.account_id]
        assert all(p.status == resources_pb2.FAILED for p in failed)
        for post in failed:
            assert post.last_error.startswith("webhook answered 400: xxxx") and len(post.last_error) < 300
            assert "not read further" in post.last_error
        ok = by_account[fine.account_id]
        assert ok.status == resources_pb2.PUBLISHED and ok.platform_post_id == f"webhook:{ok.post_id}"
        assert grown_mib < 20, f"publisher peak RSS grew by {grown_mib:.1f} MiB"
        print(json.dumps({"publisher_peak_rss_growth_mib": round(grown_mib, 1)}))
