"""NATS with postsched's authorization (postsched.nats_auth) on a real nats-server: nobody without a
credential, and each service user only what its role needs; a tenant user reads only its events."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats
import nats.errors
import nats.js.errors
import pytest

from postsched import broker
from postsched.embedded import EmbeddedNats
from postsched.nats_auth import ROLES, authorization_block, new_password, user_url
from postsched.settings import JetStreamSettings
from tests.nats_login import login

pytestmark = pytest.mark.e2e
DENIED = (nats.errors.TimeoutError, asyncio.TimeoutError, nats.errors.Error, nats.js.errors.APIError)


@pytest.fixture
def server(tmp_path: Path):  # type: ignore[no-untyped-def]
    passwords = {role: new_password() for role in ROLES}
    tenants = {"acme.corp": new_password(), "acme_corp": new_password()}
    running = EmbeddedNats(tmp_path / "nats", authorization=authorization_block(passwords, tenants)).start()
    try:
        yield running, passwords, tenants
    finally:
        running.stop()


async def connect(url: str) -> nats.NATS:
    errors: list[Exception] = []

    async def on_error(exc: Exception) -> None:
        errors.append(exc)

    nc = await nats.connect(url, connect_timeout=2, allow_reconnect=False, error_cb=on_error)
    nc.errors = errors  # type: ignore[attr-defined]
    return nc


async def denied(call) -> bool:  # type: ignore[no-untyped-def]
    try:
        await asyncio.wait_for(call, 3)
    except DENIED:
        return True
    return False


def test_nobody_without_a_credential(server) -> None:  # type: ignore[no-untyped-def]
    running, passwords, _ = server
    for user, password in ((None, None), ("publisher", "wrong"), ("nobody", passwords["admin"]), ("admin", "")):
        assert "Authorization Violation" in login("127.0.0.1", running.port, user, password)
    assert login("127.0.0.1", running.port, "admin", passwords["admin"]) == "PONG"


def test_each_role_does_its_work_and_nothing_outside_it(server) -> None:  # type: ignore[no-untyped-def]
    running, passwords, _ = server
    url = {role: user_url(role, passwords[role], "127.0.0.1", running.port) for role in ROLES}

    async def check() -> None:
        dispatcher, publisher, admin = [await connect(url[r]) for r in ROLES]
        # What each role does in postsched works.
        await broker.ensure_jetstream(dispatcher.jetstream(), JetStreamSettings())
        await broker.ensure_jetstream(publisher.jetstream(), JetStreamSettings())
        ack = await dispatcher.jetstream().publish("postsched.publish.webhook", b"{}", headers={"Nats-Msg-Id": "1"})
        sub = await publisher.jetstream().pull_subscribe_bind(durable=broker.CONSUMER, stream=broker.STREAM)
        (msg,) = await sub.fetch(1, timeout=3)
        await msg.ack()
        assert (await dispatcher.jetstream().get_msg(broker.STREAM, seq=ack.seq)).data == b"{}"
        await admin.jetstream().consumer_info(broker.STREAM, broker.CONSUMER)
        # And nothing outside it.
        assert await denied(publisher.jetstream().delete_stream(broker.STREAM))
        assert await denied(dispatcher.jetstream().delete_consumer(broker.STREAM, broker.CONSUMER))
        assert await denied(admin.jetstream().delete_stream(broker.STREAM))
        assert await denied(publisher.jetstream().publish("postsched.publish.webhook", b"{}", timeout=2))
        assert await denied(publisher.jetstream().publish("postsched.events.acme.post.published", b"{}", timeout=2))
        await admin.publish("postsched.publish.webhook", b"{}")  # core publish: refused by the server
        await admin.flush()
        await asyncio.sleep(0.2)
        assert any("permissions violation" in str(e).lower() for e in admin.errors), admin.errors  # type: ignore[attr-defined]
        info = await dispatcher.jetstream().stream_info(broker.STREAM)
        assert info.state.messages == 1  # still there, and nothing else got in
        await dispatcher.jetstream().consumer_info(broker.STREAM, broker.CONSUMER)
        for nc in (dispatcher, publisher, admin):
            await nc.close()

    asyncio.run(check())


def test_a_tenant_user_reads_its_own_events_and_nothing_else(server) -> None:  # type: ignore[no-untyped-def]
    running, passwords, tenants = server

    async def check() -> None:
        dispatcher = await connect(user_url("dispatcher", passwords["dispatcher"], "127.0.0.1", running.port))
        dotted = await connect(f"nats://tenant-acme.corp:{tenants['acme.corp']}@127.0.0.1:{running.port}")
        own = await dotted.subscribe(f"postsched.events.{broker.tenant_token('acme.corp')}.>")
        await dotted.subscribe("postsched.events.acme_corp.>")  # another tenant's: refused
        await dotted.subscribe("postsched.publish.>")
        await dotted.flush()
        await asyncio.sleep(0.2)
        violations = [e for e in dotted.errors if "permissions violation" in str(e).lower()]  # type: ignore[attr-defined]
        assert len(violations) == 2
        await dispatcher.publish(broker.event_subject("acme.corp", "post.published"), b"mine")
        await dispatcher.publish(broker.event_subject("acme_corp", "post.published"), b"theirs")
        assert (await own.next_msg(timeout=3)).data == b"mine"
        with pytest.raises(nats.errors.TimeoutError):
            await own.next_msg(timeout=0.5)
        assert await denied(dotted.jetstream().stream_info(broker.EVENTS_STREAM))
        for nc in (dispatcher, dotted):
            await nc.close()

    asyncio.run(check())


def test_the_services_do_their_work_as_their_own_users(server, database_url: str, secret_key: str,  # type: ignore[no-untyped-def]
                                                         fake_meta, tmp_path: Path) -> None:
    from postsched_devtools.tenant import Tenant
    from tests.conftest import ADMIN_TOKEN, TENANT_TOKENS, service_env
    from postsched_devtools.processes import Suite

    running, passwords, _ = server
    suite = Suite(database_url, running.url, {**service_env(database_url, secret_key, running.url),
                                              "POSTSCHED_META_GRAPH_URL": fake_meta.graph_url}, tmp_path)
    try:
        scheduler = suite.start("scheduler")
        # Both ways to give credentials: separate variables (compose, Kubernetes), and in the URL.
        suite.start("dispatcher", POSTSCHED_NATS_USER="dispatcher", POSTSCHED_NATS_PASSWORD=passwords["dispatcher"])
        suite.start("publisher", POSTSCHED_NATS_URL=user_url("publisher", passwords["publisher"], "127.0.0.1", running.port))
        admin = suite.start("admin", POSTSCHED_NATS_USER="admin", POSTSCHED_NATS_PASSWORD=passwords["admin"])
        client = Tenant(scheduler.addr, TENANT_TOKENS["acme"])
        page = client.page_account("5551000")
        from postsched.v1 import admin_pb2, admin_pb2_grpc, scheduler_pb2

        client.CreatePost(scheduler_pb2.CreatePostRequest(account_id=page.account_id, text="as their own users"))
        suite.wait_for("SELECT count(*) FROM posts WHERE status = 'PUBLISHED'", 1, timeout=30)
        import grpc

        stats = admin_pb2_grpc.AdminServiceStub(grpc.insecure_channel(admin.addr)).GetQueueStats(
            admin_pb2.GetQueueStatsRequest(), metadata=(("authorization", f"Bearer {ADMIN_TOKEN}"),))
        assert stats.consumer.waiting >= 1 and "Permissions Violation" not in "".join(s.log() for s in suite.services)
    finally:
        suite.stop_all()
