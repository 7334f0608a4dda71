"""The scheduler's change feed without a database: many streams of a tenant from one reader, a
stream far behind catching up while events keep coming, and a reader that meets a database error."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timezone

from postsched.errors import Unavailable
from postsched.store.events import EventRecord
from services.scheduler import event_feed
from services.scheduler.event_feed import EventFeed

NOW = datetime(2027, 1, 1, tzinfo=timezone.utc)


class MemoryEvents:
    """The EventStore calls the feed makes, over a list; counts the reads."""

    def __init__(self) -> None:
        self.events: list[EventRecord] = []
        self.reads = 0
        self.fail_next = 0

    def add(self, n: int = 1, type_: str = "post.published") -> None:
        for _ in range(n):
            self.events.append(EventRecord(event_id=uuid.uuid4(), sequence=len(self.events) + 1, type=type_,
                                           tenant_id="acme", post_id=None, account_id=None, occurred_at=NOW,
                                           message="", data={}))

    async def after(self, tenant: str, after: int, *, types, account_id, limit):  # type: ignore[no-untyped-def]
        self.reads += 1
        await asyncio.sleep(0)
        if self.fail_next:
            self.fail_next -= 1
            raise Unavailable("database unavailable; retry")
        return [e for e in self.events if e.sequence > after and (not types or e.type in types)][:limit]

    async def last_sequence(self, tenant: str) -> int:
        return len(self.events)


async def collect(stream, n: int) -> list[int]:  # type: ignore[no-untyped-def]
    got = []
    async for record in stream:
        got.append(record.sequence)
        if len(got) == n:
            break
    return got


def wake(feed: EventFeed) -> None:
    for hub in feed._hubs.values():  # noqa: SLF001 (what a NOTIFY does)
        hub.wake.set()


async def test_many_streams_share_one_read_per_wake_up() -> None:
    store = MemoryEvents()
    feed = EventFeed("", store)  # type: ignore[arg-type]
    streams = [feed.watch("acme", 0, types=(), account_id=None) for _ in range(50)]
    readers = [asyncio.create_task(collect(s, 3)) for s in streams]
    await asyncio.sleep(0.05)
    before = store.reads
    store.add(3)
    wake(feed)
    results = await asyncio.wait_for(asyncio.gather(*readers), 5)
    assert all(r == [1, 2, 3] for r in results)
    assert store.reads - before <= 2  # one read for all fifty (and one that finds nothing more)


async def test_a_stream_far_behind_catches_up_while_events_keep_coming(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(event_feed, "BATCH", 10)
    monkeypatch.setattr(event_feed, "QUEUE_BATCHES", 2)
    store = MemoryEvents()
    store.add(95)
    feed = EventFeed("", store)  # type: ignore[arg-type]
    got: list[int] = []

    async def read() -> None:
        async for record in feed.watch("acme", 0, types=(), account_id=None):
            got.append(record.sequence)
            await asyncio.sleep(0.005)  # a slow reader: the hub leaves it behind again and again
            if record.sequence == 400:
                return

    reader = asyncio.create_task(read())
    for _ in range(305):
        store.add()
        wake(feed)
        await asyncio.sleep(0.0005)
    await asyncio.wait_for(reader, 10)
    assert got == list(range(1, 401))  # every event once, in order
    assert all(not hub.task.done() for hub in feed._hubs.values())  # noqa: SLF001


async def test_a_database_error_leaves_the_streams_reading_on_their_own() -> None:
    store = MemoryEvents()
    feed = EventFeed("", store)  # type: ignore[arg-type]
    reader = asyncio.create_task(collect(feed.watch("acme", 0, types=(), account_id=None), 4))
    await asyncio.sleep(0.05)
    store.add(2)
    store.fail_next = 1
    wake(feed)
    await asyncio.sleep(0.1)
    store.add(2)
    wake(feed)
    assert await asyncio.wait_for(reader, 5) == [1, 2, 3, 4]
