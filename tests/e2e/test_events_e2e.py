"""Post events through WatchEvents, with the suite as real processes and fake-meta."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
import pytest

from postsched.v1 import admin_pb2, admin_pb2_grpc, scheduler_pb2, scheduler_pb2_grpc
from postsched_devtools.tenant import Tenant
from tests.waiting import until
from tests.conftest import ADMIN_TOKEN, TENANT_TOKENS
from postsched_devtools.fake_meta.control import FakeMeta
from postsched_devtools.processes import Suite

pytestmark = pytest.mark.e2e
ACME = (("authorization", f"Bearer {TENANT_TOKENS['acme']}"),)
GLOBEX = (("authorization", f"Bearer {TENANT_TOKENS['globex']}"),)


class Watcher:
    """A backend following its events from a cursor, reconnecting whenever the stream breaks."""

    def __init__(self, addr: str, metadata: tuple, **filters: object) -> None:
        self.addr, self.metadata, self.filters = addr, metadata, filters
        self.events: list[scheduler_pb2.Event] = []
        self.reconnects = 0
        self._stop = threading.Event()
        self._call = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            after = self.events[-1].sequence if self.events else 0
            with grpc.insecure_channel(self.addr) as channel:
                stub = scheduler_pb2_grpc.SchedulerServiceStub(channel)
                self._call = stub.WatchEvents(
                    scheduler_pb2.WatchEventsRequest(after_sequence=after, **self.filters), metadata=self.metadata
                )
                try:
                    for event in self._call:
                        self.events.append(event)
                except grpc.RpcError:
                    if self._stop.is_set():
                        return
                    self.reconnects += 1
                    time.sleep(0.2)

    def stop(self) -> None:
        self._stop.set()
        if self._call is not None:
            self._call.cancel()
        self._thread.join(10)

    def wait_for(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.events) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(self.events) >= count, f"{len(self.events)} events of {count} within {timeout}s"


def test_watching_from_a_cursor_across_a_scheduler_restart_sees_every_event_once_in_order(
    suite: Suite, fake_meta: FakeMeta
) -> None:
    suite.base_env["POSTSCHED_META_GRAPH_URL"] = fake_meta.graph_url
    scheduler = suite.start("scheduler")
    suite.start("dispatcher")
    suite.start("publisher", POSTSCHED_RETRY_BASE="0.2", POSTSCHED_RETRY_MAX="1")
    admin = admin_pb2_grpc.AdminServiceStub(grpc.insecure_channel(suite.start("admin").addr))
    acme = Tenant(scheduler.addr, TENANT_TOKENS["acme"])
    globex = Tenant(scheduler.addr, TENANT_TOKENS["globex"])
    good, bad = acme.page_account("8880001"), acme.page_account("8880002")
    theirs = globex.page_account("8880003")
    fake_meta.fault(kind="error", account="8880002", endpoint="feed", times=0, http_status=400, code=100)
    watcher = Watcher(scheduler.addr, ACME)
    published_only = Watcher(scheduler.addr, ACME, types=["post.published"], account_id=good.account_id)
    other = Watcher(scheduler.addr, GLOBEX)

    def batch(account: str, n: int, text: str, at: datetime | None = None) -> list[str]:
        requests = [scheduler_pb2.CreatePostRequest(account_id=account, text=f"{text} {i}") for i in range(n)]
        for r in requests:
            if at:
                r.scheduled_at.FromDatetime(at)
        return [p.post_id for p in acme.BatchCreatePosts(scheduler_pb2.BatchCreatePostsRequest(requests=requests)).posts]

    later = datetime.now(timezone.utc) + timedelta(days=3)
    batch(good.account_id, 150, "go")
    failing = batch(bad.account_id, 20, "fail")
    waiting = batch(good.account_id, 30, "later", later)
    globex.CreatePost(scheduler_pb2.CreatePostRequest(account_id=theirs.account_id, text="not acme's"))
    watcher.wait_for(20)
    suite.wait_for("SELECT status::text FROM posts WHERE id = %s", "FAILED", params=(failing[0],))
    scheduler.stop()  # the stream breaks mid-flow; the backend reconnects from its cursor
    # Changes go on while the scheduler is down (the admin service and the publisher write too).
    admin.RetryPost(admin_pb2.RetryPostRequest(post_id=failing[0]), metadata=(("authorization", f"Bearer {ADMIN_TOKEN}"),))
    scheduler.start()
    for post_id in waiting[:10]:
        acme.CancelPost(scheduler_pb2.CancelPostRequest(post_id=post_id))
    moved = scheduler_pb2.ReschedulePostRequest(post_id=waiting[10])
    moved.scheduled_at.FromDatetime(later + timedelta(hours=1))
    acme.ReschedulePost(moved)
    acme.UpdateAccountCredentials(scheduler_pb2.UpdateAccountCredentialsRequest(account_id=good.account_id, access_token="EAAB-new"))
    suite.wait_for("SELECT count(*) FROM posts WHERE status IN ('PUBLISHED', 'FAILED')", 171, timeout=90)
    expected = suite.sql("SELECT sequence, event_id::text, type, coalesce(post_id::text, '') FROM events "
                         "WHERE tenant_id = 'acme' ORDER BY sequence")
    # 150 published + 20 failed + 1 retried + the retried one failing again + 10 cancelled + 1 rescheduled + 1 credentials
    assert len(expected) == 184, [t for _, _, t, _ in expected]
    watcher.wait_for(len(expected))
    published_only.wait_for(150)
    other.wait_for(1)
    time.sleep(0.5)
    for w in (watcher, published_only, other):
        w.stop()
    assert watcher.reconnects >= 1
    got = [(e.sequence, e.event_id, e.type, e.post_id) for e in watcher.events]
    assert got == [tuple(row) for row in expected]  # every event, once, in order
    assert [s for s, *_ in got] == list(range(1, len(got) + 1))
    assert {e.type for e in published_only.events} == {"post.published"}
    assert len(published_only.events) == 150 and {e.account_id for e in published_only.events} == {good.account_id}
    assert all(e.platform_post_id and e.post.platform_post_id == e.platform_post_id for e in published_only.events)
    assert [e.tenant_id for e in other.events] == ["globex"] and other.events[0].type == "post.published"
    failed = [e for e in watcher.events if e.type == "post.failed"]
    assert len(failed) == 21 and all("Meta error 100" in e.message for e in failed)
    assert [e.type for e in watcher.events].count("account.credentials_updated") == 1
    # A change that is refused (and so rolled back) emits nothing.
    with pytest.raises(grpc.RpcError):
        acme.CancelPost(scheduler_pb2.CancelPostRequest(post_id=published_only.events[0].post_id))
    assert suite.sql("SELECT count(*) FROM events WHERE tenant_id = 'acme'")[0][0] == len(expected)


def test_events_reach_nats_subjects_per_tenant_and_type_once_each(suite: Suite, fake_meta: FakeMeta) -> None:
    import asyncio
    import json

    import nats

    from postsched.broker import EVENTS_STREAM

    suite.base_env["POSTSCHED_META_GRAPH_URL"] = fake_meta.graph_url
    scheduler = suite.start("scheduler")
    suite.start("dispatcher")
    suite.start("dispatcher")  # two relays: still each event once, in order
    suite.start("publisher")
    acme = Tenant(scheduler.addr, TENANT_TOKENS["acme"])
    globex = Tenant(scheduler.addr, TENANT_TOKENS["globex"])
    page = acme.page_account("8880101")
    theirs = globex.page_account("8880102")
    requests = [scheduler_pb2.CreatePostRequest(account_id=page.account_id, text=f"n {i}") for i in range(300)]
    acme.BatchCreatePosts(scheduler_pb2.BatchCreatePostsRequest(requests=requests))
    globex.CreatePost(scheduler_pb2.CreatePostRequest(account_id=theirs.account_id, text="g"))
    suite.wait_for("SELECT count(*) FROM posts WHERE status = 'PUBLISHED'", 301, timeout=60)

    async def read(subject: str, expected: int) -> list[dict]:
        nc = await nats.connect(suite.nats_url)
        try:
            js = nc.jetstream()
            sub = await js.subscribe(subject, ordered_consumer=True)
            got: list[dict] = []
            deadline = asyncio.get_running_loop().time() + 30
            while len(got) < expected and asyncio.get_running_loop().time() < deadline:
                try:
                    msg = await sub.next_msg(timeout=1)
                except nats.errors.TimeoutError:
                    continue
                got.append({"subject": msg.subject, **json.loads(msg.data)})
            await asyncio.sleep(1)  # and nothing more arrives
            while True:
                try:
                    msg = await sub.next_msg(timeout=0.5)
                except nats.errors.TimeoutError:
                    break
                got.append({"subject": msg.subject, **json.loads(msg.data)})
            info = await js.stream_info(EVENTS_STREAM)
            assert info.state.messages == 301
            return got
        finally:
            await nc.close()

    mine = asyncio.run(read("postsched.events.acme.>", 300))
    assert [e["sequence"] for e in mine] == [str(n) for n in range(1, 301)]  # once each, in order
    assert {e["subject"] for e in mine} == {"postsched.events.acme.post.published"}
    assert all(e["tenant_id"] == "acme" and e["platform_post_id"] for e in mine)
    other = asyncio.run(read("postsched.events.globex.post.published", 1))
    assert [e["tenant_id"] for e in other] == ["globex"]


class Receiver:
    """An event callback endpoint: answers `fail_first` requests with 500, then 200; records all."""

    def __init__(self, port: int, secret: str, fail_first: int) -> None:
        import http.server

        self.secret, self.fail_left = secret, fail_first
        self.received: list[tuple[int, dict, dict]] = []  # (status answered, headers, body)
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                import json

                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = 500 if receiver.fail_left > 0 else 200
                receiver.fail_left -= 1
                receiver.received.append((status, dict(self.headers), json.loads(body) | {"_raw": body.decode()}))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_event_webhook_down_then_failing_then_back_gets_every_event_in_order_signed(
    suite: Suite, fake_meta: FakeMeta
) -> None:
    from postsched.embedded import free_port
    from postsched.signing import signature

    suite.base_env["POSTSCHED_META_GRAPH_URL"] = fake_meta.graph_url
    scheduler = suite.start("scheduler")
    suite.start("dispatcher")
    suite.start("publisher", POSTSCHED_EVENT_RETRY_MAX="0.5")
    suite.start("publisher", POSTSCHED_EVENT_RETRY_MAX="0.5")  # two deliverers: still in order, once
    acme = Tenant(scheduler.addr, TENANT_TOKENS["acme"])
    page = acme.page_account("8880201")
    port, secret = free_port(), "an-event-signing-secret"
    hook = acme.SetEventWebhook(scheduler_pb2.SetEventWebhookRequest(url=f"http://127.0.0.1:{port}/events", secret=secret))
    assert hook.url.endswith("/events") and hook.delivered_sequence == 0
    requests = [scheduler_pb2.CreatePostRequest(account_id=page.account_id, text=f"w {i}") for i in range(100)]
    acme.BatchCreatePosts(scheduler_pb2.BatchCreatePostsRequest(requests=requests))
    suite.wait_for("SELECT count(*) FROM events WHERE tenant_id = 'acme'", 100, timeout=60)
    # The endpoint is down: connection refused, retried.
    down = until(lambda: (hook := acme.GetEventWebhook(scheduler_pb2.GetEventWebhookRequest())).head_attempts >= 2
                 and hook, timeout=30, what="two refused deliveries of the first event")
    assert down.pending == 100 and down.head_attempts >= 2 and down.last_error
    receiver = Receiver(port, secret, fail_first=5)
    try:
        deadline = time.monotonic() + 60
        while acme.GetEventWebhook(scheduler_pb2.GetEventWebhookRequest()).pending and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        receiver.stop()
    answered = [(h, b) for status, h, b in receiver.received if status == 200]
    assert [int(b["sequence"]) for _, b in answered] == list(range(1, 101))  # every event, once, in order
    assert [s for s, _, _ in receiver.received[:5]] == [500] * 5 and len(receiver.received) == 105
    for headers, body in answered:
        assert headers["Idempotency-Key"] == body["event_id"]
        assert headers["X-Postsched-Event-Type"] == body["type"] == "post.published"
        t = int(headers["X-Postsched-Signature"].split(",")[0][2:])
        assert headers["X-Postsched-Signature"] == signature(secret, t, body["_raw"].encode())
    log = acme.ListEventDeliveries(scheduler_pb2.ListEventDeliveriesRequest(page_size=1000)).deliveries
    outcomes = [d.outcome for d in log]
    assert outcomes.count("delivered") == 100 and outcomes.count("retrying") >= 7
    assert any(d.status_code == 500 for d in log) and any(d.status_code == 0 and d.error for d in log)


def test_a_slow_event_endpoint_delays_only_its_own_tenant_and_no_call_waits_in_a_transaction(suite: Suite) -> None:
    """acme's endpoint answers after 8 s; globex's events still arrive within a second or two,
    and while acme's call hangs no database session sits idle in a transaction."""
    import asyncio as aio

    from aiohttp import web

    from tests.listeners import Receiver as HttpReceiver

    arrivals: dict[str, list[float]] = {"acme": [], "globex": []}

    def receiver_for(tenant: str, delay: float):  # type: ignore[no-untyped-def]
        async def handler(request: web.Request) -> web.Response:
            await aio.sleep(delay)
            arrivals[tenant].append(time.monotonic())
            return web.Response(status=204)
        return handler

    with HttpReceiver(receiver_for("acme", 8.0), host="127.0.0.1") as slow, \
            HttpReceiver(receiver_for("globex", 0.0), host="127.0.0.1") as fast:
        scheduler = suite.start("scheduler")
        suite.start("publisher")  # one deliverer: its rounds run side by side
        tenants = {name: Tenant(scheduler.addr, TENANT_TOKENS[name]) for name in ("acme", "globex")}
        for name, receiver in (("acme", slow), ("globex", fast)):
            client = tenants[name]
            client.SetEventWebhook(scheduler_pb2.SetEventWebhookRequest(url=f"{receiver.url}/events", secret="s" * 24))
        # Events for both: cancelling a post is one post.cancelled event each.
        accounts = {name: client.webhook_account(f"{name}-hook").account_id for name, client in tenants.items()}
        posts = {name: [client.CreatePost(scheduler_pb2.CreatePostRequest(
            account_id=accounts[name], text="x", scheduled_at=Timestamp(seconds=int(time.time()) + 3600))).post_id
            for _ in range(3)] for name, client in tenants.items()}
        started = time.monotonic()
        for name, client in tenants.items():
            for post_id in posts[name]:
                client.CancelPost(scheduler_pb2.CancelPostRequest(post_id=post_id))
        until(lambda: len(arrivals["globex"]) == 3, timeout=10, what="globex's three events")
        idle_in_transaction = suite.sql(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'")
        assert len(arrivals["globex"]) == 3 and max(arrivals["globex"]) - started < 2.5, arrivals
        assert arrivals["acme"] == []  # still waiting for its first answer
        assert idle_in_transaction == [(0,)]


def test_tenants_whose_ids_differ_only_by_dot_and_underscore_never_share_a_subject(suite: Suite) -> None:
    import asyncio
    import json

    import nats

    tokens = {"acme.corp": "token-of-acme-dot-corp-0123456789ab", "acme_corp": "token-of-acme-underscore-corp-012345"}
    suite.base_env["POSTSCHED_API_TOKENS"] = ",".join(f"{t}:{k}" for t, k in tokens.items())
    scheduler = suite.start("scheduler")
    suite.start("dispatcher")  # its relay publishes the events to NATS
    for tenant, token in tokens.items():
        client = Tenant(scheduler.addr, token)
        account = client.webhook_account(f"{tenant}-hook")
        post = client.CreatePost(scheduler_pb2.CreatePostRequest(
            account_id=account.account_id, text=tenant, scheduled_at=Timestamp(seconds=int(time.time()) + 3600)))
        client.CancelPost(scheduler_pb2.CancelPostRequest(post_id=post.post_id))

    async def read(subject: str) -> list[str]:
        nc = await nats.connect(suite.nats_url)
        try:
            sub = await nc.jetstream().subscribe(subject, ordered_consumer=True)
            got = []
            while True:
                try:
                    msg = await sub.next_msg(timeout=3)
                except nats.errors.TimeoutError:
                    return got
                got.append(json.loads(msg.data)["tenant_id"])
        finally:
            await nc.close()

    suite.wait_for("SELECT count(*) FROM event_relay WHERE relayed > 0", 2, timeout=30)
    assert asyncio.run(read("postsched.events.acme_corp.>")) == ["acme_corp"]
    assert asyncio.run(read("postsched.events.acme~corp.>")) == ["acme.corp"]
