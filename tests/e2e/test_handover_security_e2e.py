"""Hand-over messages that cannot be forged or misused: a publisher acts only on a message a
dispatcher signed, and never before the post is due, whoever else can publish on NATS."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import datetime, timedelta, timezone

import grpc
import nats
import pytest

from postsched.broker import HandoverSigner, PublishMessage, publish_subject
from postsched.v1 import publisher_pb2, publisher_pb2_grpc, resources_pb2, scheduler_pb2
from postsched_devtools.tenant import Tenant
from tests.conftest import ADMIN_TOKEN, TENANT_TOKENS
from tests.waiting import until
from postsched_devtools.fake_meta.control import FakeMeta
from postsched_devtools.processes import Suite
from tests.e2e.test_publisher_e2e import FAST

pytestmark = pytest.mark.e2e


async def publish(url: str, bodies: list[bytes]) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    for i, body in enumerate(bodies):
        await js.publish(publish_subject("facebook_page"), body, headers={"Nats-Msg-Id": f"forged-{time.time()}-{i}"})
    await nc.close()


def test_forged_and_early_hand_overs_publish_nothing(suite: Suite, fake_meta: FakeMeta, secret_key: str) -> None:
    suite.base_env["POSTSCHED_META_GRAPH_URL"] = fake_meta.graph_url
    scheduler = suite.start("scheduler")
    suite.start("dispatcher")
    publisher = suite.start("publisher", **FAST)
    client = Tenant(scheduler.addr, TENANT_TOKENS["acme"])
    page = client.page_account("5550900")
    due = datetime.now(timezone.utc) + timedelta(seconds=12)
    request = scheduler_pb2.CreatePostRequest(account_id=page.account_id, text="not before its time")
    request.scheduled_at.FromDatetime(due)
    post_id = client.CreatePost(request).post_id
    suite.wait_for("SELECT status::text FROM posts WHERE id = %s", "QUEUED", params=(post_id,))  # leased ahead
    (generation, tenant, account), = suite.sql("SELECT dispatch_generation, tenant_id, account_id FROM posts "
                                               "WHERE id = %s", (post_id,))
    named = PublishMessage(uuid.UUID(post_id), generation, tenant, account)
    unsigned = named.encode()
    badly_signed = json.dumps({**json.loads(unsigned), "mac": "0" * 32}).encode()
    # Signed with the deployment's key (as a stolen copy of a real message would be), but early.
    early = HandoverSigner(secret_key.encode()).sign(named).encode()
    asyncio.run(publish(suite.nats_url, [unsigned, badly_signed, b"{not json", early]))
    stub = publisher_pb2_grpc.PublisherServiceStub(grpc.insecure_channel(publisher.addr))

    def forged() -> int:
        return stub.GetPublisherStatus(publisher_pb2.GetPublisherStatusRequest(),
                                       metadata=(("authorization", f"Bearer {ADMIN_TOKEN}"),)).forged_total

    # The publisher has read all four: three dropped as forged, the early one put back until due.
    until(lambda: forged() == 3 and "hand-over message before its post is due" in publisher.log(), timeout=20,
          what="the publisher to drop three forged messages and put back the early one")
    assert fake_meta.posts("5550900") == []
    assert suite.sql("SELECT status::text, attempts FROM posts WHERE id = %s", (post_id,)) == [("QUEUED", 0)]
    assert forged() == 3
    suite.wait_for("SELECT status::text FROM posts WHERE id = %s", "PUBLISHED", params=(post_id,), timeout=30)
    (published,) = fake_meta.posts("5550900")  # once, though two messages named it
    assert published["created_time"] >= due.timestamp() - 0.5
    post = client.GetPost(scheduler_pb2.GetPostRequest(post_id=post_id))
    assert post.status == resources_pb2.PUBLISHED and post.attempts == 1
