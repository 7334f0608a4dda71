"""At most N platform calls in flight per account, per publisher process.

A page that receives hundreds of posts in one minute would otherwise get as many calls at once as
the publisher has slots: Meta meters and throttles per page and per app, and a burst of parallel
calls on one page is what earns its rate limits (and, once throttled, every one of them fails at
once). The limit is per process: with P publishers an account has at most N x P attempts in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator


class AccountSlots:
    def __init__(self, per_account: int) -> None:
        if per_account < 1:
            raise ValueError("per_account must be at least 1")
        self.per_account = per_account
        self._running: dict[uuid.UUID, int] = {}
        self._waiters: dict[uuid.UUID, list[asyncio.Future[None]]] = {}

    def in_flight(self, account_id: uuid.UUID) -> int:
        return self._running.get(account_id, 0)

    def waiting(self, account_id: uuid.UUID) -> int:
        return len(self._waiters.get(account_id, ()))

    @contextlib.asynccontextmanager
    async def hold(self, account_id: uuid.UUID) -> AsyncIterator[None]:
        """Waits (first come, first served) until the account has a free slot, holds it inside."""
        await self._acquire(account_id)
        try:
            yield
        finally:
            self._release(account_id)

    async def _acquire(self, account_id: uuid.UUID) -> None:
        running = self._running.get(account_id, 0)
        if running < self.per_account and not self._waiters.get(account_id):
            self._running[account_id] = running + 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(account_id, []).append(waiter)
        try:
            await waiter  # the slot is handed over by _release, already counted as running
        except asyncio.CancelledError:
            queue = self._waiters.get(account_id, [])
            if waiter in queue:
                queue.remove(waiter)
                if not queue:
                    del self._waiters[account_id]
            elif waiter.done() and not waiter.cancelled():
                self._release(account_id)  # handed a slot just as it was cancelled: pass it on
            raise

    def _release(self, account_id: uuid.UUID) -> None:
        queue = self._waiters.get(account_id)
        while queue:
            waiter = queue.pop(0)
            if not waiter.done():
                waiter.set_result(None)  # the slot goes straight to the next waiter
                if not queue:
                    del self._waiters[account_id]
                return
        self._waiters.pop(account_id, None)
        left = self._running.get(account_id, 0) - 1
        if left > 0:
            self._running[account_id] = left
        else:  # forget idle accounts: thousands of them pass through one publisher
            self._running.pop(account_id, None)
