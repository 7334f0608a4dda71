"""The publisher's consumer without processes, on the in-memory broker: what it answers each kind of
message, in which order it records and answers, and that an attempt that crashes is logged with its
post and its message answered (put back), never left to wait out the ack wait with its error unread."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import AsyncIterator, Callable

import structlog

from postsched.broker import HandoverSigner, PublishMessage
from postsched.clock import FixedClock
from postsched.keys import MessageKey
from postsched.lifecycle import PostStatus
from postsched.store.posts.publishing import ClaimedPost, Outcome
from postsched_devtools.memory_broker import Answer, MemoryBroker
from services.publisher.attempt import Decision, Reply
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
                        None, owner="test", lease=30.0, ack_wait=60.0)  # type: ignore[arg-type]
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


# --- The consumer on the in-memory broker: fetch, share, claim, attempt, record, answer. ---

SIGNER = HandoverSigner(b"k" * 32)
NOW = datetime(2027, 1, 5, 12, 0, tzinfo=timezone.utc)


def claimed_post(generation: int = 1) -> ClaimedPost:
    return ClaimedPost(id=uuid.uuid4(), tenant_id="acme", account_id=uuid.uuid4(), generation=generation, text="t",
                       media_urls=[], link="", scheduled_at=NOW, attempts=1, claimed_at=NOW, platform_state=None,
                       trace_context=None, epoch=1, platform="webhook", external_id="x", credentials=b"",
                       needs_credentials=False, throttled_until=None)


class ClaimingStore:
    """Claims the posts it was given, once each, by their message's key."""

    def __init__(self, *posts: ClaimedPost) -> None:
        self.queued = {p.message: p for p in posts}
        self.claims: list[list[MessageKey]] = []

    async def claim(self, keys: list[MessageKey], *, owner: str, now: datetime, lease: float) -> list[ClaimedPost]:
        self.claims.append(keys)
        return [self.queued.pop(k) for k in keys if k in self.queued]

    async def not_yet_due(self, keys: list[MessageKey], *, now: datetime) -> dict[MessageKey, datetime]:
        return {}


class ScriptedAttempts:
    """Answers each run with the next decision of the post's script; records (post, delivery)."""

    def __init__(self, decide: Callable[[ClaimedPost, int], Decision]) -> None:
        self.decide = decide
        self.runs: list[tuple[uuid.UUID, int]] = []

    def hold(self, post: ClaimedPost) -> AttemptLease:
        return AttemptLease(post.id, post.epoch, lease=30.0, monotonic=time.monotonic)

    async def run(self, post: ClaimedPost, delivery: int, lease: AttemptLease) -> Decision:
        self.runs.append((post.id, delivery))
        return self.decide(post, delivery)


class Recorder:
    """Records outcomes; checks that the message was not answered before its outcome was recorded."""

    def __init__(self, memory: MemoryBroker) -> None:
        self.memory = memory
        self.recorded: list[Outcome] = []
        self.answers_before: list[int] = []

    async def record(self, outcome: Outcome) -> bool:
        self.answers_before.append(len(self.memory.answers))
        self.recorded.append(outcome)
        return True


def published(post: ClaimedPost, delivery: int) -> Decision:
    return Decision(Outcome(post.id, post.epoch, PostStatus.PUBLISHED, "published", platform_post_id="p1"), Reply.ACK)


def signed(post: ClaimedPost) -> bytes:
    return SIGNER.sign(PublishMessage(post.id, post.generation, post.tenant_id, post.account_id)).encode()


async def hand_over(memory: MemoryBroker, body: bytes, msg_id: str) -> None:
    sends = memory.sends()
    await sends.send("postsched.publish.webhook", body, {"Nats-Msg-Id": msg_id})
    await sends.settle(1.0)


@contextlib.asynccontextmanager
async def running(memory: MemoryBroker, store: ClaimingStore, attempts: ScriptedAttempts,
                  recorder: Recorder) -> AsyncIterator[tuple[Consumer, PublisherStats, list[tuple[bool, str]]]]:
    stats = PublisherStats(started_at=NOW)
    consumer = Consumer(memory, store, attempts, recorder, FixedClock(NOW), stats, FairShare(10, 2),  # type: ignore[arg-type]
                        SIGNER, owner="test", lease=30.0, ack_wait=60.0)
    health: list[tuple[bool, str]] = []

    async def report(ok: bool, error: str) -> None:
        health.append((ok, error))

    consumer.health_to(report)
    task = asyncio.create_task(consumer.run())
    try:
        yield consumer, stats, health
    finally:
        await consumer.stop(1.0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def answered(memory: MemoryBroker, count: int) -> list[Answer]:
    """Waits (at most 5 s) until `count` answers were given; returns them."""
    async with asyncio.timeout(5):
        while len(memory.answers) < count:
            await asyncio.sleep(0.005)
    return memory.answers


async def test_a_claimed_post_is_attempted_its_outcome_recorded_and_only_then_its_message_acked() -> None:
    memory, post = MemoryBroker(), claimed_post()
    store, attempts = ClaimingStore(post), ScriptedAttempts(published)
    recorder = Recorder(memory)
    async with running(memory, store, attempts, recorder):
        await hand_over(memory, signed(post), post.message.msg_id)
        (answer,) = await answered(memory, 1)
    assert answer.how == "ack" and answer.delivered == 1
    assert attempts.runs == [(post.id, 1)]
    assert [o.status for o in recorder.recorded] == [PostStatus.PUBLISHED] and recorder.answers_before == [0]


async def test_a_forged_or_unsigned_message_is_terminated_and_never_claimed() -> None:
    memory, post = MemoryBroker(), claimed_post()
    store, attempts = ClaimingStore(post), ScriptedAttempts(published)
    forged = PublishMessage(post.id, post.generation, post.tenant_id, post.account_id, mac="0" * 32).encode()
    async with running(memory, store, attempts, Recorder(memory)) as (_, stats, _):
        await hand_over(memory, forged, "forged")
        await hand_over(memory, b"{not json", "garbage")
        answers = await answered(memory, 2)
    assert [a.how for a in answers] == ["term", "term"]
    assert store.claims == [] and attempts.runs == [] and stats.forged == 2


async def test_a_message_whose_post_is_not_claimed_is_acked_and_dropped() -> None:
    memory, post = MemoryBroker(), claimed_post(generation=2)
    store, attempts = ClaimingStore(post), ScriptedAttempts(published)
    stale = claimed_post(generation=1)  # an older generation's message: the store does not claim it
    stale = ClaimedPost(**{**stale.__dict__, "id": post.id})
    async with running(memory, store, attempts, Recorder(memory)) as (_, stats, _):
        await hand_over(memory, signed(stale), stale.message.msg_id)
        (answer,) = await answered(memory, 1)
    assert answer.how == "ack" and attempts.runs == [] and stats.dropped == 1


async def test_a_retry_is_nakd_with_its_delay_and_comes_back_as_the_next_delivery() -> None:
    memory, post = MemoryBroker(), claimed_post()

    def fail_then_publish(p: ClaimedPost, delivery: int) -> Decision:
        if delivery == 1:
            return Decision(Outcome(p.id, p.epoch, PostStatus.QUEUED, "attempt_failed", last_error="503"),
                            Reply.NAK, delay=30.0)
        return published(p, delivery)

    store, attempts = ClaimingStore(post), ScriptedAttempts(fail_then_publish)
    async with running(memory, store, attempts, Recorder(memory)):
        await hand_over(memory, signed(post), post.message.msg_id)
        (first,) = await answered(memory, 1)
        assert (first.how, first.delay) == ("nak", 30.0)
        store.queued[post.message] = post  # QUEUED again under the same generation: claimable
        memory.advance(30.0)  # the nak's delay passes
        second = (await answered(memory, 2))[1]
    assert second.how == "ack" and second.delivered == 2
    assert attempts.runs == [(post.id, 1), (post.id, 2)]


async def test_an_unrecorded_outcome_leaves_the_message_unanswered_for_the_rescuer() -> None:
    memory, post = MemoryBroker(), claimed_post()

    class Failing(Recorder):
        async def record(self, outcome: Outcome) -> bool:
            raise ConnectionError("database away")

    async with running(memory, ClaimingStore(post), ScriptedAttempts(published), Failing(memory)) as (consumer, _, _):
        await hand_over(memory, signed(post), post.message.msg_id)
        async with asyncio.timeout(5):
            while not consumer._tasks and not memory.consumer.outstanding:  # type: ignore[union-attr]
                await asyncio.sleep(0.005)
            while consumer._tasks:
                await asyncio.sleep(0.005)
        assert memory.answers == []  # not acked: redelivered after the ack wait, then dropped by the claim
        assert (await memory.consumer_state(timeout=1)).ack_pending == 1


async def test_a_deleted_consumer_is_made_again_and_health_says_so_meanwhile() -> None:
    memory, post = MemoryBroker(), claimed_post()
    async with running(memory, ClaimingStore(post), ScriptedAttempts(published), Recorder(memory)) as (_, _, health):
        await asyncio.sleep(0.05)
        memory.delete_consumer()
        async with asyncio.timeout(5):
            while not health:
                await asyncio.sleep(0.005)
        assert health[0][0] is False and "consumer not found" in health[0][1]
        async with asyncio.timeout(5):
            while memory.consumer is None:  # made again after BROKEN_RETRY
                await asyncio.sleep(0.01)
        await hand_over(memory, signed(post), post.message.msg_id)
        (answer,) = await answered(memory, 1)
    assert answer.how == "ack" and health[-1] == (True, "")
