"""Failed sign-ins counted per client address, and guessing slowed down.

An address is throttled when its recent failures pass FREE_FAILURES and outnumber its recent
successes — a guesser, not a busy client that sometimes sends a stale token (a test suite or a
fleet behind one NAT address keeps working). A throttled address gets one try per `spacing`
(doubling with each further failure up to MAX_SPACING): every try from it, right or wrong, waits
its turn before the token is even looked at, so parallel guesses gain nothing. A try that would
wait longer than MAX_WAIT is refused at once without being checked. Both counts halve every
HALF_LIFE seconds, so an address that stopped guessing is free again within minutes. At most
MAX_ADDRESSES are tracked (the quietest forgotten).

Both doors use it: the gRPC interceptor (per peer address) and the dashboard's sign-in.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Awaitable, Callable, TypeVar

import structlog

from postsched import instruments
from postsched.errors import Unauthenticated

log = structlog.get_logger("postsched.auth")

FREE_FAILURES = 5
FIRST_SPACING = 0.1  # seconds between tries once an address is over FREE_FAILURES
MAX_SPACING = 2.0
MAX_WAIT = 10.0
HALF_LIFE = 60.0
MAX_ADDRESSES = 10_000
T = TypeVar("T")


class TooManyFailures(Exception):
    """The address has failed too often to try again now."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many failed sign-ins from this address; try again in {retry_after:.0f} s")
        self.retry_after = retry_after


@dataclass
class _Address:
    failures: float = 0.0
    successes: float = 0.0
    at: float = 0.0  # when the counts were last brought up to date
    next_try: float = 0.0  # the earliest time the next try of a throttled address may be checked


def client_address(peer: str) -> str:
    """gRPC's 'ipv4:127.0.0.1:5123' / 'ipv6:[::1]:5123' -> the host without the port."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv6":
        return rest.rpartition("]")[0].lstrip("[") or rest
    if kind == "ipv4":
        return rest.rpartition(":")[0] or rest
    return peer  # unix sockets and the like: the whole name


def counted_as(address: str) -> str:
    """What failures are counted against: an IPv4 address, or an IPv6 address's /64 (one machine
    may hold a whole /64 and change address at will)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        if not ip.is_loopback:
            return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class FailedSignIns:
    def __init__(self, door: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._door = door  # named in the log: "grpc" or "dashboard"
        self._clock = clock
        # Least recently failed or tried first, so the one forgotten when full is the stalest.
        self._addresses: OrderedDict[str, _Address] = OrderedDict()

    def _entry(self, address: str, now: float) -> _Address:
        entry = self._addresses.get(address)
        if entry is None:
            if len(self._addresses) >= MAX_ADDRESSES:
                self._addresses.popitem(last=False)
            entry = self._addresses[address] = _Address(at=now)
        else:
            self._addresses.move_to_end(address)
        factor = 0.5 ** ((now - entry.at) / HALF_LIFE)
        entry.failures *= factor
        entry.successes *= factor
        entry.at = now
        return entry

    @staticmethod
    def _throttled(entry: _Address) -> bool:
        # Counts decay continuously: the FREE_FAILURES-th failure of a burst is 4.99…, not 5.
        return entry.failures >= FREE_FAILURES - 0.5 and entry.failures > entry.successes

    async def attempt(self, address: str, check: Callable[[], Awaitable[T]], **context: str) -> T:
        """One sign-in try from `address`: waits its turn if the address is throttled, runs `check`
        (which raises Unauthenticated for a wrong token) and counts the result. Raises
        TooManyFailures, unchecked, when the turn is too far off."""
        wait = self.wait_before_try(address)
        if wait:
            await asyncio.sleep(wait)
        try:
            result = await check()
        except Unauthenticated:
            self.failed(address, **context)
            raise
        self.succeeded(address)
        return result

    def wait_before_try(self, address: str) -> float:
        """Seconds this try must wait before its token is checked (0 for an address in good standing);
        raises TooManyFailures when the wait would be too long."""
        if not self._addresses:  # nobody failed lately: the usual case, nothing to look up
            return 0.0
        address = counted_as(address)
        entry = self._addresses.get(address)
        if entry is None:
            return 0.0
        now = self._clock()
        entry = self._entry(address, now)
        if not self._throttled(entry):
            return 0.0
        spacing = min(FIRST_SPACING * 2 ** max(0.0, entry.failures - FREE_FAILURES), MAX_SPACING)
        slot = max(now, entry.next_try)
        if slot - now > MAX_WAIT:
            raise TooManyFailures(slot - now)
        entry.next_try = slot + spacing
        return slot - now

    def succeeded(self, address: str) -> None:
        """Counts a success of an address that has failed lately (others are not tracked)."""
        if not self._addresses:
            return
        address = counted_as(address)
        if address in self._addresses:
            self._entry(address, self._clock()).successes += 1

    def failed(self, address: str, **context: str) -> None:
        """Counts a failure and logs it (what was tried is never logged, only where from)."""
        address = counted_as(address)
        entry = self._entry(address, self._clock())
        entry.failures += 1
        instruments.sign_in_failures.add(1, {"door": self._door, "throttled": self._throttled(entry)})
        count = round(entry.failures)
        # Every failure until throttling starts, then every doubling: a guessing run is seen
        # without one line per guess.
        if count <= FREE_FAILURES or count & (count - 1) == 0:
            log.warning("sign-in failed", door=self._door, client=address, recent_failures=count,
                        throttled=self._throttled(entry), **context)
