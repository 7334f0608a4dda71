"""Publishing leases: short, renewed while an attempt works, and fenced by the attempt epoch.

A claim gives an attempt a lease of POSTSCHED_PUBLISH_LEASE seconds (30 by default). The keeper
renews the leases of every attempt in flight in one statement, a few times per lease, for at most
POSTSCHED_PUBLISH_TIMEOUT seconds (the attempt's hard deadline, after which it is cancelled). A
killed or hung publisher stops renewing, so its posts are taken over by a rescuer within about a
lease and a rescue period. The take-over bumps the attempt epoch: renewals, checkpoints and
outcomes of the old attempt match nothing in the database, and the old attempt learns at its next
renewal that it is fenced.

Before a call that cannot be repeated safely an attempt checks its lease here, in memory: it may
call only while its last confirmed renewal is younger than the lease less a safety margin, so an
attempt that wakes after a pause (a stopped process, a long GC) longer than that never calls the
platform, whether or not a rescuer has already taken it over.
"""

from __future__ import annotations

import time
import uuid
from typing import Callable

from postsched.clock import Clock
from postsched.keys import AttemptKey
from postsched.store.posts.publishing import PublishingStore
from services.publisher.platforms.outcomes import Fenced

# Of each lease, the part an attempt does not rely on: the time between its check and its request
# reaching the platform, and clock-rate differences between machines.
SAFETY_SHARE = 0.25


class AttemptLease:
    """One attempt's hold on its post, as this process knows it."""

    def __init__(self, post_id: uuid.UUID, epoch: int, *, lease: float, monotonic: Callable[[], float]) -> None:
        self.post_id = post_id
        self.epoch = epoch
        self._lease = lease
        self._monotonic = monotonic
        self.started: float | None = None  # when it began working (None: queued for a slot)
        self.valid_until = monotonic() + lease * (1 - SAFETY_SHARE)
        self.fenced_because: str | None = None

    @property
    def key(self) -> AttemptKey:
        return AttemptKey(self.post_id, self.epoch)

    def working(self) -> None:
        """The attempt starts working now (it may have waited for one of its account's slots):
        the keeper renews its lease for up to the attempt's deadline from here."""
        self.started = self._monotonic()

    def renewed(self, at: float) -> None:
        self.valid_until = max(self.valid_until, at + self._lease * (1 - SAFETY_SHARE))

    def fence(self, reason: str) -> None:
        self.fenced_because = self.fenced_because or reason

    def check(self) -> None:
        """Raises Fenced unless the attempt may still act on the platform."""
        if self.fenced_because:
            raise Fenced(self.fenced_because)
        if self._monotonic() >= self.valid_until:
            self.fence("its publishing lease ran out before it could be renewed")
            raise Fenced(self.fenced_because or "")


class LeaseKeeper:
    """Renews the leases of the attempts in flight in this process."""

    def __init__(
        self,
        store: PublishingStore,
        clock: Clock,
        *,
        lease: float,
        max_hold: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._clock = clock
        self.lease = lease
        self._max_hold = max_hold
        self._monotonic = monotonic
        self._held: dict[AttemptKey, AttemptLease] = {}
        self.period = max(0.2, lease / 4)

    def hold(self, attempt: AttemptKey) -> AttemptLease:
        lease = AttemptLease(attempt.post_id, attempt.epoch, lease=self.lease, monotonic=self._monotonic)
        self._held[lease.key] = lease
        return lease

    def release(self, lease: AttemptLease) -> None:
        self._held.pop(lease.key, None)

    @property
    def holding(self) -> int:
        return len(self._held)

    async def run_once(self) -> int:
        """Renews every lease still worth renewing; returns how many were renewed."""
        started = self._monotonic()
        # Queued attempts are renewed whatever they waited: the deadline counts from working().
        due = [held for held in self._held.values()
               if not held.fenced_because and (held.started is None or started - held.started < self._max_hold)]
        if not due:
            return 0
        kept = await self._store.renew([h.key for h in due], now=self._clock.now(), lease=self.lease)
        for held in due:
            if held.key in kept:
                held.renewed(started)
            else:
                held.fence("the attempt was taken over (its post is no longer PUBLISHING under its epoch)")
        return len(kept)
