"""The dispatcher's hand-over without processes: an injected clock decides what is due, the in-memory
broker stands for JetStream. A post goes out at its time, signed, under its message key; a hand-over
is recorded only once the broker acknowledged it; a failed one is retried while the lease lasts and
then left to the rescuer; a lost acknowledgement never makes a second message."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

from postsched.broker import HandoverSigner, PublishMessage
from postsched.clock import FixedClock
from postsched.store.posts.dispatch import LeasedPost
from postsched_devtools.memory_broker import MemoryBroker
from services.dispatcher import handover as handover_module
from services.dispatcher.handover import Handover
from services.dispatcher.stats import DispatcherStats

NOW = datetime(2027, 1, 5, 12, 0, tzinfo=timezone.utc)
SIGNER = HandoverSigner(b"k" * 32)
LEASE_GRACE = 10.0


class DispatchStore:
    def __init__(self) -> None:
        self.handed_over_: list[tuple[LeasedPost, int]] = []
        self.released: list[LeasedPost] = []

    async def handed_over(self, posts: list[tuple[LeasedPost, int]], *, now: datetime, timeout: float) -> None:
        self.handed_over_.extend(posts)

    async def release(self, posts: list[LeasedPost], *, now: datetime, reason: str) -> int:
        self.released.extend(posts)
        return len(posts)


def leased(due_in: float, account: uuid.UUID | None = None) -> LeasedPost:
    due = NOW + timedelta(seconds=due_in)
    return LeasedPost(id=uuid.uuid4(), tenant_id="acme", account_id=account or uuid.uuid4(), platform="webhook",
                      generation=1, scheduled_at=due, trace_context=None, due_at=due)


def make(memory: MemoryBroker) -> tuple[Handover, DispatchStore, FixedClock, DispatcherStats]:
    store, clock, stats = DispatchStore(), FixedClock(NOW), DispatcherStats(started_at=NOW)
    handover = Handover(memory, store, clock, stats, SIGNER, lease_grace=LEASE_GRACE,  # type: ignore[arg-type]
                        handover_timeout=30.0)
    return handover, store, clock, stats


async def test_a_post_goes_out_at_its_time_signed_under_its_message_key_and_is_then_recorded() -> None:
    memory = MemoryBroker()
    handover, store, clock, _ = make(memory)
    later, sooner = leased(2.0), leased(1.0)
    handover.add([later, sooner])
    assert await handover.flush_due() == 0 and memory.stream == {}  # not yet due
    clock.at = NOW + timedelta(seconds=1)
    assert await handover.flush_due() == 1
    clock.at = NOW + timedelta(seconds=2)
    assert await handover.flush_due() == 1
    assert memory.stream is not None
    sent = [memory.stream[seq] for seq in sorted(memory.stream)]
    assert [s.headers["Nats-Msg-Id"] for s in sent] == [sooner.message.msg_id, later.message.msg_id]
    bodies = [PublishMessage.decode(s.data) for s in sent]
    assert all(SIGNER.valid(b) for b in bodies) and [b.key for b in bodies] == [sooner.message, later.message]
    assert sent[0].subject == "postsched.publish.webhook"
    assert [(p.id, seq) for p, seq in store.handed_over_] == [(sooner.id, 1), (later.id, 2)]
    assert handover.holding == 0


async def test_a_failed_hand_over_is_retried_while_the_lease_lasts_then_left_to_the_rescuer() -> None:
    memory = MemoryBroker()
    handover, store, clock, stats = make(memory)
    repairs: list[int] = []

    async def repair() -> None:
        repairs.append(1)

    handover.repair = repair
    post = leased(0.0)
    handover.add([post])
    memory.down = True
    assert await handover.flush_due() == 0
    assert handover.holding == 1 and stats.publish_failures_total == 1 and store.handed_over_ == []
    await asyncio.sleep(0)
    assert repairs == [1]  # the stream may be gone: its repair was asked for (at most every REPAIR_EVERY s)
    # Each retry waits longer (Backoff); the post is dropped once a retry would fall past its lease.
    retries = 0
    while handover.holding:
        clock.at = handover._heap[0][0]
        await handover.flush_due()
        retries += 1
        assert retries < 20
    assert clock.at < post.due_at + timedelta(seconds=LEASE_GRACE) and store.handed_over_ == []
    assert retries >= 3 and stats.publish_failures_total == retries + 1
    memory.down = False
    assert await handover.flush_due() == 0 and memory.stream == {}  # nothing left to send: the rescuer's now
    assert repairs == [1]
    assert handover._repairing is not None
    handover._repairing.cancel()


async def test_a_lost_acknowledgement_is_retried_and_the_copy_is_deduplicated_by_its_message_key() -> None:
    memory = MemoryBroker()
    handover, store, clock, _ = make(memory)
    post = leased(0.0)
    handover.add([post])
    memory.lose_acks = True  # stored, but the acknowledgement never comes back
    assert await handover.flush_due() == 0 and store.handed_over_ == []
    memory.lose_acks = False
    clock.at = handover._heap[0][0]
    assert await handover.flush_due() == 1
    assert memory.stream is not None and list(memory.stream) == [1]  # one message: the retry was a duplicate
    assert store.handed_over_ == [(post, 1)]


async def test_one_accounts_burst_does_not_hold_back_another_accounts_post() -> None:
    memory = MemoryBroker()
    handover, _, _, _ = make(memory)
    busy = uuid.uuid4()
    burst = [leased(0.0, busy) for _ in range(handover_module.ACCOUNT_ROUND + 5)]
    other = leased(0.0)
    handover.add(burst + [other])
    first_round = handover._round(NOW)
    assert other in [p for p, _ in first_round]
    assert sum(1 for p, _ in first_round if p.account_id == busy) == handover_module.ACCOUNT_ROUND


async def test_on_shutdown_every_held_post_is_given_back() -> None:
    memory = MemoryBroker()
    handover, store, _, stats = make(memory)
    posts = [leased(60.0), leased(120.0)]
    handover.add(posts)
    assert await handover.release_all("stopping") == 2
    assert set(p.id for p in store.released) == {p.id for p in posts} and handover.holding == 0
    assert stats.released_total == 2 and memory.stream == {}
