"""The publisher's consumer without processes: an attempt that crashes is logged with its post and
its message is answered (put back), never left to wait out the ack wait with its error unread."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone
from types import SimpleNamespace

import structlog

from postsched.store.posts.publishing import ClaimedPost
from services.publisher import consumer as consumer_module
from services.publisher.consumer import Consumer, Work
from services.publisher.fair_share import FairShare
from services.publisher.leases import AttemptLease
from services.publisher.stats import PublisherStats


class FakeMsg:
    subject = "postsched.publish.acme.x"
    headers: dict = {}
    metadata = SimpleNamespace(num_delivered=1)

    def __init__(self) -> None:
        self.answers: list[tuple[str, float | None]] = []

    async def nak(self, delay: float | None = None) -> None:
        self.answers.append(("nak", delay))

    async def ack(self) -> None:
        self.answers.append(("ack", None))


class CrashingAttempts:
    def __init__(self) -> None:
        self.dropped: list = []

    async def run(self, post, delivery, lease):  # type: ignore[no-untyped-def]
        raise KeyError("a bug in an adapter")

    def drop(self, lease) -> None:  # type: ignore[no-untyped-def]
        self.dropped.append(lease)


async def test_a_crashed_attempt_is_logged_and_its_message_put_back() -> None:
    now = datetime.now(timezone.utc)
    fair: FairShare[Work] = FairShare(10, 2)
    attempts = CrashingAttempts()
    consumer = Consumer(None, None, attempts, None, None, PublisherStats(started_at=now), fair,  # type: ignore[arg-type]
                        None, None, owner="test", lease=30.0, ack_wait=60.0)  # type: ignore[arg-type]
    post = ClaimedPost(id=uuid.uuid4(), tenant_id="acme", account_id=uuid.uuid4(), generation=1, text="t", media_urls=[],
                       link="", scheduled_at=now, attempts=1, claimed_at=now, platform_state=None, trace_context=None,
                       epoch=1, platform="webhook", external_id="x", credentials=b"", needs_credentials=False,
                       throttled_until=None)
    msg = FakeMsg()
    work = Work(msg, post, AttemptLease(post.id, 1, lease=30.0, monotonic=time.monotonic))  # type: ignore[arg-type]
    fair.enqueue(post.tenant_id, post.account_id, work)
    assert fair.next() is work
    with structlog.testing.capture_logs() as logs:
        await consumer._process(work)  # returns: the crash does not escape the task
    (crash,) = [e for e in logs if e["event"] == "attempt crashed; the message is put back"]
    assert crash["post_id"] == str(post.id) and crash["log_level"] == "error" and crash["exc_info"]
    assert msg.answers == [("nak", consumer_module.CRASHED_ATTEMPT_DELAY)]
    assert fair.running == 0  # its slot is free again
    assert attempts.dropped == [work.lease]  # no longer renewed: it expires and the rescuer reconciles
