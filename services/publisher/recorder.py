"""Outcome recording, batched: attempts finishing together are written by one statement.

While one batch is being written the next one gathers, so under load batches grow by themselves
and at low load an outcome is written at once.
"""

from __future__ import annotations

import asyncio

from postsched.clock import Clock
from postsched.store.posts.publishing import Outcome, PublishingStore

MAX_BATCH = 1000


class OutcomeRecorder:
    def __init__(self, store: PublishingStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._queue: list[tuple[Outcome, asyncio.Future[bool]]] = []
        self._ready = asyncio.Event()

    async def record(self, outcome: Outcome) -> bool:
        """Records the outcome; True if its compare-and-set matched. Raises the store's error if the write failed."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append((outcome, future))
        self._ready.set()
        return await future

    async def run(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                try:
                    recorded = await self._store.record([o for o, _ in batch], now=self._clock.now())
                except Exception as exc:  # every waiter gets the store's error
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for outcome, future in batch:
                    if not future.done():
                        future.set_result(outcome.post_id in recorded)
