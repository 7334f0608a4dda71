"""AccountSlots: at most N attempts of one account at once, first come first served, nothing leaked."""

from __future__ import annotations

import asyncio
import random
import uuid

import pytest

from services.publisher.account_slots import AccountSlots


async def hold_until(slots: AccountSlots, account: uuid.UUID, release: asyncio.Event) -> None:
    async with slots.hold(account):
        await release.wait()


async def take_turn(slots: AccountSlots, account: uuid.UUID, turns: list, name: object) -> None:
    async with slots.hold(account):
        turns.append(name)


async def test_never_more_than_the_limit_per_account_under_hundreds_of_attempts() -> None:
    slots = AccountSlots(3)
    accounts = [uuid.uuid4() for _ in range(4)]
    now: dict[uuid.UUID, int] = {a: 0 for a in accounts}
    most: dict[uuid.UUID, int] = {a: 0 for a in accounts}
    draw = random.Random(7)

    async def attempt(account: uuid.UUID) -> None:
        async with slots.hold(account):
            now[account] += 1
            most[account] = max(most[account], now[account])
            assert now[account] <= slots.in_flight(account) <= 3  # handed-over slots count before they run
            await asyncio.sleep(draw.random() / 500)
            now[account] -= 1

    await asyncio.gather(*(attempt(accounts[i % 4] if i % 5 else accounts[0]) for i in range(400)))
    assert most == {a: 3 for a in accounts}  # reached, never passed
    assert all(slots.in_flight(a) == 0 and slots.waiting(a) == 0 for a in accounts)
    assert not slots._running and not slots._waiters  # idle accounts are forgotten


async def test_waiters_go_in_arrival_order_and_other_accounts_do_not_wait() -> None:
    slots = AccountSlots(1)
    busy, other = uuid.uuid4(), uuid.uuid4()
    order: list[int] = []
    release = asyncio.Event()

    holder = asyncio.create_task(hold_until(slots, busy, release))
    await asyncio.sleep(0)
    waiters = [asyncio.create_task(take_turn(slots, busy, order, n)) for n in range(5)]
    await asyncio.sleep(0.01)
    assert slots.waiting(busy) == 5 and order == []
    async with asyncio.timeout(1):  # another account is not held up by a busy one
        async with slots.hold(other):
            assert slots.in_flight(other) == 1
    release.set()
    await asyncio.gather(holder, *waiters)
    assert order == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("when", ["waiting", "just handed the slot"])
async def test_a_cancelled_waiter_gives_its_place_or_its_slot_to_the_next(when: str) -> None:
    slots = AccountSlots(1)
    account = uuid.uuid4()
    got: list[str] = []
    release = asyncio.Event()

    first = asyncio.create_task(hold_until(slots, account, release))
    await asyncio.sleep(0)
    doomed = asyncio.create_task(take_turn(slots, account, got, "doomed"))
    survivor = asyncio.create_task(take_turn(slots, account, got, "survivor"))
    await asyncio.sleep(0.01)
    if when == "waiting":
        doomed.cancel()
        release.set()
    else:
        release.set()
        await asyncio.sleep(0)  # the holder leaves and hands its slot to `doomed`, not yet running
        assert slots.in_flight(account) == 1 and slots.waiting(account) == 1 and got == []
        doomed.cancel()
    await asyncio.gather(first, survivor)
    with pytest.raises(asyncio.CancelledError):
        await doomed
    assert got == ["survivor"]
    assert slots.in_flight(account) == 0 and slots.waiting(account) == 0
