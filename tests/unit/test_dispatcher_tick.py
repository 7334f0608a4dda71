"""The dispatcher's periodic tick without processes: it leases, and leaves expired leases to the
rescuer duty (which used to run twice: inside every tick and on its own); DispatchNow does both."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from postsched.clock import FixedClock
from services.dispatcher.dispatcher import Dispatcher
from services.dispatcher.stats import DispatcherStats


class Store:
    def __init__(self) -> None:
        self.calls: list[str] = []

    async def lease(self, **_: object) -> list:
        self.calls.append("lease")
        return []

    async def rescue_expired(self, **_: object) -> int:
        self.calls.append("rescue")
        return 0


class Handover:
    def add(self, posts: list) -> None:
        pass


async def test_the_tick_leases_and_the_rescue_is_its_own_duty() -> None:
    now = datetime(2027, 1, 1, tzinfo=timezone.utc)
    store = Store()
    dispatcher = Dispatcher(store, Handover(), FixedClock(now), DispatcherStats(started_at=now),  # type: ignore[arg-type]
                            instance_id="d", interval=60.0, batch=500, lease_grace=30.0)
    assert await dispatcher.tick_once() == 0
    assert store.calls == ["lease"]
    store.calls.clear()
    assert await dispatcher.rescue_once() == 0
    assert store.calls == ["rescue"]
    store.calls.clear()
    result = await dispatcher.tick()  # DispatchNow
    assert store.calls == ["rescue", "lease"] and (result.leased, result.rescued) == (0, 0)


async def test_due_notices_wake_the_dispatcher_and_every_connect_asks_for_a_catch_up() -> None:
    from typing import AsyncIterator, Callable

    from services.dispatcher.dispatcher import EPOCH, NOTIFY_CHANNEL, listen_for_due

    noticed: list[datetime] = []

    class Noticing:
        def notice_due(self, at: datetime) -> None:
            noticed.append(at)

    async def listen(channel: str, connected: Callable[[], None]) -> AsyncIterator[str]:
        assert channel == NOTIFY_CHANNEL
        connected()
        yield "12.5"
        yield "not a number"  # ignored
        connected()  # a reconnect: what was said meanwhile is lost
        yield "20"

    await listen_for_due(listen, Noticing())  # type: ignore[arg-type]
    assert noticed == [EPOCH, EPOCH + timedelta(seconds=12.5), EPOCH, EPOCH + timedelta(seconds=20)]
