"""How one publisher shares itself among tenants and accounts.

A publisher runs at most `concurrency` attempts at once (its slots), at most `per_account` of one
account (Meta meters and throttles per Page; a burst of parallel calls on one earns its limits).
Before this module a post waiting for its account's turn was parked in memory holding a slot, so
one slow account could hold every slot. Now:

- Admission, before a message is claimed (`plan`): a publisher holds at most `concurrency` posts
  (running, or queued to run next), as many of one account as it can run in the next
  HORIZON at the pace its attempts finish here (at least 2 x per_account, at most a quarter of
  the publisher, so even its own tenant's other accounts are reached), and of one tenant its
  weighted share of the `concurrency` among the tenants with posts here. A message beyond that is
  not claimed but given back (the consumer defers it: QUEUED -> SCHEDULED with a not-before time),
  spread at the account's pace, so it comes back about when there is room, and the messages behind
  it in the stream (other accounts', other tenants') are reached at once. A lone tenant may fill
  the publisher; fetching then pauses until there is room, so a burst of many fast accounts is not
  churned through the database.
- Running (`next`): a free slot goes to the next tenant in turn that is under its weighted fair
  share of the slots (concurrency x weight / total weight of the tenants with work here), and within
  it to the next account in turn with a free account slot. A tenant over its share may take a slot
  only while more than `reserve` slots stay free, and no tenant holds more than concurrency -
  reserve: a tenant arriving while another is busy finds slots at once (attempts are never
  pre-empted, and a slow one holds its slot until its timeout).

Queued posts hold no slot. Everything here is in memory and per process; the counters never wait.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Generic, Hashable, TypeVar

W = TypeVar("W")

# What an attempt of an account not seen yet is assumed to take (seconds), and how fast the
# estimate follows what attempts really take.
FIRST_GUESS = 0.25
EWMA_WEIGHT = 0.2
# An account may have as many posts here as it can run in this long, and at most 1/ACCOUNT_SHARE
# of the publisher.
HORIZON = 2.0
ACCOUNT_SHARE = 4
# An idle account's pace is remembered this long (seconds).
REMEMBER = 300.0
# A deferred post comes back at most this far ahead, whatever the estimate (then it is looked at again).
MAX_DEFER = timedelta(minutes=10)
MIN_DEFER = timedelta(milliseconds=200)


@dataclass
class _Account(Generic[W]):
    tenant: str
    running: int = 0
    queue: deque[W] = field(default_factory=deque)
    ready: bool = False  # in its tenant's ready deque: queued work and a free account slot
    seconds: float = FIRST_GUESS  # moving average of its attempts' durations here
    defer_horizon: datetime | None = None  # the latest not-before handed out for it
    last_active: float = 0.0  # monotonic

    @property
    def held(self) -> int:
        return self.running + len(self.queue)


@dataclass
class _Tenant:
    weight: int
    running: int = 0
    held: int = 0
    ready: deque[object] = field(default_factory=deque)  # account ids


@dataclass(frozen=True)
class Plan:
    claim: list[int]  # indexes of the messages to claim
    defer: list[tuple[int, datetime]]  # indexes of the messages to give back, and until when


class FairShare(Generic[W]):
    def __init__(
        self, concurrency: int, per_account: int, *, weight: Callable[[str], int] = lambda tenant: 1,
        reserve: int | None = None, monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._monotonic = monotonic
        if concurrency < 1 or per_account < 1:
            raise ValueError("concurrency and per_account must be at least 1")
        self.concurrency = concurrency
        self.per_account = per_account
        # A tenth of the slots, at most an account's worth: enough for a newcomer's first accounts,
        # small enough that a small publisher is not held back.
        self.reserve = min(concurrency - 1, reserve if reserve is not None else min(per_account, concurrency // 10))
        self._weight = weight
        self._accounts: dict[Hashable, _Account[W]] = {}
        self._tenants: dict[str, _Tenant] = {}
        self._ready: OrderedDict[str, None] = OrderedDict()  # tenants with a ready account, in turn
        self.running = 0
        self.held = 0

    # --- admission -------------------------------------------------------------------------------

    @property
    def room(self) -> int:
        """How many more messages the consumer may fetch."""
        return max(0, self.concurrency - self.held)

    def account_cap(self, account_id: Hashable) -> int:
        """How many posts of the account this publisher takes on: what it can run within HORIZON,
        but never so many that one account fills the publisher (its own tenant's other accounts
        behind it in the stream are reached), and at least two rounds of its slots."""
        account = self._accounts.get(account_id)
        seconds = account.seconds if account else FIRST_GUESS
        return max(2 * self.per_account, min(int(self.per_account * HORIZON / seconds), self.concurrency // ACCOUNT_SHARE))

    def plan(self, owners: list[tuple[str | None, uuid.UUID | None]], now: datetime) -> Plan:
        """Which of a fetched batch's messages (by tenant and account) to claim, which to give back."""
        claim: list[int] = []
        defer: list[tuple[int, datetime]] = []
        extra_accounts: dict[uuid.UUID, int] = {}
        extra_tenants: dict[str, int] = {}
        for i, (tenant, account_id) in enumerate(owners):
            if tenant is None or account_id is None:  # a message of an earlier version: claimed as before
                claim.append(i)
                continue
            account = self._accounts.get(account_id)
            account_held = (account.held if account else 0) + extra_accounts.get(account_id, 0)
            tenant_held = (self._tenants[tenant].held if tenant in self._tenants else 0) + extra_tenants.get(tenant, 0)
            if account_held < self.account_cap(account_id) and tenant_held < self._tenant_cap(tenant, extra_tenants):
                claim.append(i)
                extra_accounts[account_id] = extra_accounts.get(account_id, 0) + 1
                extra_tenants[tenant] = extra_tenants.get(tenant, 0) + 1
            else:
                defer.append((i, self._defer_until(tenant, account_id, account_held, now)))
        return Plan(claim, defer)

    def _tenant_cap(self, tenant: str, arriving: dict[str, int]) -> float:
        """The tenant's weighted share of the publisher among the tenants with posts here."""
        weights = {name: t.weight for name, t in self._tenants.items() if t.held or arriving.get(name)}
        weights[tenant] = self._tenants[tenant].weight if tenant in self._tenants else max(1, self._weight(tenant))
        return self.concurrency * weights[tenant] / sum(weights.values())

    def _defer_until(self, tenant: str, account_id: uuid.UUID, held: int, now: datetime) -> datetime:
        """When a post given back should come again: one slot's worth after the one given back
        before it (so they come back in order, at the pace the account's attempts finish here,
        about when there is room again; one that comes early is given back again)."""
        account = self._account(tenant, account_id)
        spacing = timedelta(seconds=max(account.seconds / self.per_account, 0.001))
        at = max(now + MIN_DEFER, (account.defer_horizon or now) + spacing)
        at = min(at, now + MAX_DEFER)
        account.defer_horizon = at
        return at

    # --- queue and slots ----------------------------------------------------------------------

    def enqueue(self, tenant: str, account_id: Hashable, work: W) -> None:
        """A claimed post waits for a slot (holding none)."""
        account = self._account(tenant, account_id)
        account.queue.append(work)
        self._tenants[tenant].held += 1
        self.held += 1
        self._mark_ready(account_id, account)

    def next(self) -> W | None:
        """The post to run in the next free slot (counted as running), or None."""
        if self.running >= self.concurrency or not self._ready:
            return None
        active = [t for t in self._tenants.values() if t.held]
        total_weight = sum(t.weight for t in active) or 1
        most = self.concurrency - self.reserve  # what one tenant may hold: the rest is for newcomers
        for name in self._ready:
            tenant = self._tenants[name]
            if tenant.running < min(most, self.concurrency * tenant.weight / total_weight):
                return self._take(name, tenant)
        if self.concurrency - self.running > self.reserve:
            # Everyone with work is at its share: lend the slots nobody needs now, in turn.
            for name in self._ready:
                tenant = self._tenants[name]
                if tenant.running < most:
                    return self._take(name, tenant)
        return None

    def done(self, tenant: str, account_id: Hashable, seconds: float) -> None:
        """An attempt that `next` handed out ended after `seconds`."""
        account = self._accounts[account_id]
        account.running -= 1
        account.seconds += EWMA_WEIGHT * (max(seconds, 0.001) - account.seconds)
        state = self._tenants[tenant]
        state.running -= 1
        state.held -= 1
        self.running -= 1
        self.held -= 1
        account.last_active = self._monotonic()
        self._mark_ready(account_id, account)

    def _take(self, name: str, tenant: _Tenant) -> W:
        account_id = tenant.ready.popleft()
        account = self._accounts[account_id]
        work = account.queue.popleft()
        account.running += 1
        tenant.running += 1
        self.running += 1
        if account.queue and account.running < self.per_account:
            tenant.ready.append(account_id)  # its turn again after the tenant's other accounts
        else:
            account.ready = False
        self._ready.move_to_end(name)
        if not tenant.ready:
            del self._ready[name]
        return work

    def _mark_ready(self, account_id: Hashable, account: _Account[W]) -> None:
        if account.ready or not account.queue or account.running >= self.per_account:
            return
        account.ready = True
        self._tenants[account.tenant].ready.append(account_id)
        if account.tenant not in self._ready:
            self._ready[account.tenant] = None

    def _account(self, tenant: str, account_id: Hashable) -> _Account[W]:
        account = self._accounts.get(account_id)
        if account is None:
            account = self._accounts[account_id] = _Account(tenant)
        account.last_active = self._monotonic()
        if tenant not in self._tenants:
            self._tenants[tenant] = _Tenant(weight=max(1, self._weight(tenant)))
        return account

    def sweep(self, now: datetime) -> None:
        """Forgets accounts idle here for REMEMBER seconds whose posts given back are due again,
        and tenants with nothing here: thousands of accounts pass through one publisher."""
        idle_since = self._monotonic() - REMEMBER
        for account_id, account in list(self._accounts.items()):
            if (not account.held and account.last_active < idle_since
                    and (account.defer_horizon is None or account.defer_horizon <= now)):
                del self._accounts[account_id]
        known = {account.tenant for account in self._accounts.values()}
        for tenant in [t for t, state in self._tenants.items() if not state.held and t not in known]:
            del self._tenants[tenant]

    def drain(self) -> list[W]:
        """Takes every queued post out (the publisher is stopping); running ones stay counted."""
        drained: list[W] = []
        for account_id, account in list(self._accounts.items()):
            drained.extend(account.queue)
            self._tenants[account.tenant].held -= len(account.queue)
            self.held -= len(account.queue)
            account.queue.clear()
            account.ready = False
        for tenant in self._tenants.values():
            tenant.ready.clear()
        self._ready.clear()
        return drained

    # --- status ---------------------------------------------------------------------------------

    def running_of(self, account_id: Hashable) -> int:
        account = self._accounts.get(account_id)
        return account.running if account else 0

    def queued_of(self, account_id: Hashable) -> int:
        account = self._accounts.get(account_id)
        return len(account.queue) if account else 0
