"""One change feed per scheduler process for every WatchEvents stream.

Each stream used to poll PostgreSQL every 0.2 s: 100 idle streams cost the scheduler a quarter of a
core and PostgreSQL 500 transactions a second. Now the events trigger sends NOTIFY
postsched_events with the tenant's id when a transaction that wrote the tenant's events commits
(migration 0009); one LISTEN connection per process hears it, and one query per tenant (a hub)
fetches what is new for all of that tenant's streams, each of which takes what its filters match.

A stream first catches up on its own from its cursor (history is per stream), attached to its
tenant's hub before it starts, so nothing committed meanwhile is missed (a tenant's events commit
in sequence order); repeats are dropped by the stream's cursor. A stream that does not read falls
behind: the hub stops queueing for it, and it catches up on its own again. Notifications lost while
the LISTEN connection was away are covered by waking every hub at reconnect and every POLL seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Sequence

import structlog

from postsched.store.database import Listen
from postsched.store.events import EventRecord, EventStore

log = structlog.get_logger("postsched.scheduler")
CHANNEL = "postsched_events"
BATCH = 500
POLL = 5.0  # seconds: how late a stream may learn of an event whose NOTIFY was lost
QUEUE_BATCHES = 64  # batches queued for a stream before it is left to catch up on its own


@dataclass(eq=False)
class _Watcher:
    queue: asyncio.Queue[Any] = field(default_factory=lambda: asyncio.Queue(QUEUE_BATCHES + 1))  # +1: the wake-up
    behind: bool = False  # the hub skipped it: it reads the store itself until it is current


class _Hub:
    """A tenant's watchers, and the one reader that fetches their new events."""

    def __init__(self, tenant: str, events: EventStore, last: int) -> None:
        self.tenant = tenant
        self.watchers: set[_Watcher] = set()
        self.wake = asyncio.Event()
        self._events = events
        self._last = last
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            try:
                await self._fetch()
            except Exception as exc:  # the database away: every stream reads the store itself, later
                log.warning("event feed query failed; its streams catch up on their own", tenant=self.tenant,
                            error=str(exc) or type(exc).__name__)
                for watcher in list(self.watchers):
                    self._leave_behind(watcher)
                await asyncio.sleep(1.0)
                self.wake.set()

    async def _fetch(self) -> None:
        while True:
            batch = await self._events.after(self.tenant, self._last, types=(), account_id=None, limit=BATCH)
            if not batch:
                return
            self._last = batch[-1].sequence
            for watcher in list(self.watchers):
                if watcher.behind:
                    continue
                if watcher.queue.qsize() < QUEUE_BATCHES:
                    watcher.queue.put_nowait(batch)
                else:
                    self._leave_behind(watcher)
            if len(batch) < BATCH:
                return

    @staticmethod
    def _leave_behind(watcher: _Watcher) -> None:
        """Stops queueing for a stream and wakes it to read the store from its cursor."""
        if not watcher.behind:
            watcher.behind = True
            if not watcher.queue.full():
                watcher.queue.put_nowait([])


class EventFeed:
    def __init__(self, listen: Listen, events: EventStore) -> None:
        self._listen = listen
        self._events = events
        self._hubs: dict[str, _Hub] = {}
        self.queries_saved = 0

    def _wake_all(self) -> None:
        for hub in self._hubs.values():
            hub.wake.set()

    async def run(self) -> None:
        """LISTEN for the tenants' new events (a loop duty); reconnects on its own."""
        async def poll() -> None:
            while True:
                await asyncio.sleep(POLL)
                self._wake_all()

        poller = asyncio.create_task(poll())
        try:
            # after every (re)connect, wake everyone: what was said while nobody listened is lost
            async for tenant in self._listen(CHANNEL, self._wake_all):
                hub = self._hubs.get(tenant)
                if hub is not None:
                    hub.wake.set()
        finally:
            poller.cancel()

    async def watch(
        self, tenant: str, after: int, *, types: Sequence[str], account_id: uuid.UUID | None
    ) -> AsyncIterator[EventRecord]:
        """The tenant's events after `after` that match the filters, as they come, until closed."""
        watcher = _Watcher()
        hub = self._hubs.get(tenant)
        if hub is not None and hub.task is not None and hub.task.done():
            hub = None  # its reader ended (it should not): a new one
        if hub is None:
            last = await self._events.last_sequence(tenant)
            hub = self._hubs.get(tenant)  # another stream may have made it meanwhile
            if hub is None or (hub.task is not None and hub.task.done()):
                hub = self._hubs[tenant] = _Hub(tenant, self._events, last)
                hub.task = asyncio.create_task(hub.run())
        hub.watchers.add(watcher)
        wanted = set(types)
        cursor = after
        try:
            while True:
                while True:  # on its own, from its cursor, until current
                    batch = await self._events.after(tenant, cursor, types=types, account_id=account_id, limit=BATCH)
                    for record in batch:
                        yield record
                        cursor = record.sequence
                    if len(batch) < BATCH:
                        break
                while not watcher.behind:  # from the hub
                    for record in await watcher.queue.get():
                        if record.sequence <= cursor:
                            continue
                        cursor = record.sequence
                        if (not wanted or record.type in wanted) and (account_id is None or record.account_id == account_id):
                            yield record
                # Left behind: what is queued is read again from the store, after the cursor. The
                # queue is emptied before the hub may queue again, so it always has room.
                while not watcher.queue.empty():
                    watcher.queue.get_nowait()
                watcher.behind = False
        finally:
            hub.watchers.discard(watcher)
            if not hub.watchers and self._hubs.get(tenant) is hub:
                del self._hubs[tenant]
                if hub.task is not None:
                    hub.task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await hub.task
