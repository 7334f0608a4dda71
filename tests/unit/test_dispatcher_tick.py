"""The dispatcher's periodic tick without processes: it leases, and leaves expired leases to the
rescuer duty (which used to run twice: inside every tick and on its own); DispatchNow does both."""

from __future__ import annotations

from datetime import datetime, timezone

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
