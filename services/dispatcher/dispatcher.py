"""The dispatcher's duties: the tick, the catch-up lease on NOTIFY, and the lease rescuer.

The tick (every POSTSCHED_DISPATCH_INTERVAL seconds, and on DispatchNow) leases everything due
before the next tick, so the hand-over can publish each post at its second. A post created or
rescheduled between ticks into the already-leased window is announced by the database (NOTIFY
postsched_due, see migration 0002) and leased at once by the catch-up duty.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import structlog

from postsched import telemetry
from postsched.clock import Clock
from postsched.store.database import Listen
from postsched.store.posts.dispatch import DispatchStore
from services.dispatcher.handover import Handover
from services.dispatcher.stats import DispatcherStats

log = structlog.get_logger("postsched.dispatcher")
TRACER = telemetry.tracer("postsched.dispatcher")

# Lease a little past the next tick, so a tick that starts late leaves no gap.
HORIZON_MARGIN = timedelta(seconds=5)
# Overdue posts ordered in turns by one read (the rest, if any, in the next round), with those due
# within a few seconds: a small account's post due a second after a big account's burst is leased
# in the first batch, not after the burst.
MAX_FAIR_LEASE = 200_000
FAIR_LOOKAHEAD = timedelta(seconds=5)
NOTIFY_CHANNEL = "postsched_due"
# Seconds between rounds of the pacing duty: a paced account's next post is leased within this of
# its turn (leasing happens ahead of the due time, so the hand-over is still at its second).
PACE_PERIOD = 1.0
MISSED_PERIOD = 10.0  # seconds between looks for occurrences too late to publish
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class TickResult:
    leased: int
    rescued: int


class Dispatcher:
    def __init__(
        self,
        store: DispatchStore,
        handover: Handover,
        clock: Clock,
        stats: DispatcherStats,
        *,
        instance_id: str,
        interval: float,
        batch: int,
        lease_grace: float,
    ) -> None:
        self._store = store
        self._handover = handover
        self._clock = clock
        self._stats = stats
        self.instance_id = instance_id
        self.interval = interval
        self._batch = batch
        self._lease_grace = lease_grace
        # Everything due up to here has been leased, by this dispatcher or another.
        self.horizon = EPOCH
        self._lease_lock = asyncio.Lock()
        self._catch_up = asyncio.Event()

    async def tick(self) -> TickResult:
        """DispatchNow: rescues expired leases, then leases everything due before the next tick."""
        rescued = await self.rescue_once()
        return TickResult(leased=await self._lease_window(), rescued=rescued)

    async def _lease_window(self) -> int:
        now = self._clock.now()
        leased = await self._lease_until(now + timedelta(seconds=self.interval) + HORIZON_MARGIN)
        self._stats.last_tick_at = now
        return leased

    async def _lease_until(self, horizon: datetime) -> int:
        total = 0
        async with self._lease_lock:
            with TRACER.start_as_current_span("dispatcher.lease") as span:
                while True:
                    now = self._clock.now()
                    posts = await self._store.lease(
                        owner=self.instance_id, now=now, horizon=horizon, batch=self._batch, grace=self._lease_grace,
                    )
                    self._handover.add(posts)
                    total += len(posts)
                    if len(posts) < self._batch:
                        break
                    if max(p.due_at for p in posts) <= now:  # more overdue than one lease: the rest in turns
                        total += await self._lease_overdue_fairly()
                self.horizon = max(self.horizon, horizon)
                span.set_attribute("postsched.leased", total)
        self._stats.leased_total += total
        if total:
            log.info("leased", posts=total, horizon=horizon.isoformat())
        return total

    async def _lease_overdue_fairly(self) -> int:
        """Leases the overdue posts, and those due within FAIR_LOOKAHEAD, in turns across tenants
        and accounts (the store's DUE_IN_TURNS, read once), a batch at a time; the hand-over
        publishes those due together in turns too."""
        horizon = self._clock.now() + FAIR_LOOKAHEAD
        ids = await self._store.due_in_turns(now=self._clock.now(), horizon=horizon, limit=MAX_FAIR_LEASE)
        total = 0
        for start in range(0, len(ids), self._batch):
            posts = await self._store.lease_these(ids[start:start + self._batch], owner=self.instance_id,
                                                  now=self._clock.now(), horizon=horizon, grace=self._lease_grace)
            self._handover.add(posts)
            total += len(posts)
        return total

    async def pace_once(self) -> int:
        """The pacing duty (every PACE_PERIOD): says which due posts of paced accounts wait for their
        turn, then leases each paced account's next post when its turn comes within the window."""
        now = self._clock.now()
        horizon = max(self.horizon, now + HORIZON_MARGIN)
        async with self._lease_lock:
            posts = await self._store.lease_paced(owner=self.instance_id, now=now, horizon=horizon, grace=self._lease_grace)
            self._handover.add(posts)
        self._stats.leased_total += len(posts)
        await self._store.note_paced(now=now)  # after the lease: the post going next is not said to wait
        return len(posts)

    async def skip_missed_once(self) -> int:
        """Records occurrences of recurring posts more than the grace late as skipped."""
        skipped = await self._store.skip_missed(now=self._clock.now())
        if skipped:
            log.warning("skipped missed occurrences", posts=skipped, grace=str(self._store.missed_grace))
        return skipped

    async def rescue_once(self) -> int:
        """Returns expired leases to SCHEDULED (their NOTIFY brings them back to a dispatcher)."""
        rescued = 0
        while True:
            count = await self._store.rescue_expired(now=self._clock.now())
            rescued += count
            if count < 1000:
                break
        if rescued:
            log.warning("rescued expired leases", posts=rescued)
        self._stats.rescued_total += rescued
        return rescued

    def notice_due(self, earliest: datetime) -> None:
        """A post became due at `earliest`: lease it now if this dispatcher's window already passed it."""
        if earliest <= self.horizon:
            self._catch_up.set()

    async def tick_once(self) -> int:
        """The periodic duty: leases what is due before the next tick; returns how many (expired
        leases are the rescuer duty's, every rescue_period)."""
        self._stats.next_tick_at = self._clock.now() + timedelta(seconds=self.interval)
        return await self._lease_window()

    @property
    def rescue_period(self) -> float:
        """Checks for expired leases a few times per lease grace period."""
        return max(0.5, min(self._lease_grace / 2, self.interval))

    async def run_catch_up(self) -> None:
        """Leases, within the current window, posts announced by NOTIFY (a loop duty)."""
        while True:
            await self._catch_up.wait()
            self._catch_up.clear()
            try:
                await self._lease_until(self.horizon)
            except BaseException:
                self._catch_up.set()  # the restarted duty tries again
                raise


async def listen_for_due(listen: Listen, dispatcher: Dispatcher) -> None:
    """Hears postsched_due. After any (re)connect it asks for a catch-up lease, since notifications
    sent while it was away are lost."""
    async for payload in listen(NOTIFY_CHANNEL, lambda: dispatcher.notice_due(EPOCH)):
        try:
            earliest = EPOCH + timedelta(seconds=float(payload))
        except ValueError:
            continue
        dispatcher.notice_due(earliest)
