"""The event relay's pipelined publishing: the cursor moves only past events JetStream acknowledged
from the first on (a unit test with a stand-in for the JetStream context)."""

from __future__ import annotations

import asyncio
import uuid
from types import SimpleNamespace
from datetime import datetime, timezone

import nats.errors

from postsched.store.events import EventRecord
from services.dispatcher.event_relay import EventRelay


class StubJetStream:
    """Acknowledges every publish except those whose index is in `fail`; records what was sent."""

    def __init__(self, fail: set[int]) -> None:
        self.fail = fail
        self.sent: list[tuple[str, dict]] = []

    async def publish_async(self, subject: str, payload: bytes, headers: dict) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        if len(self.sent) in self.fail:
            future.set_exception(nats.errors.TimeoutError())
        else:
            future.set_result(SimpleNamespace(seq=len(self.sent) + 1))  # JetStream's PubAck
        self.sent.append((subject, headers))
        return future


def events(n: int) -> list[EventRecord]:
    now = datetime.now(timezone.utc)
    return [EventRecord(event_id=uuid.uuid4(), sequence=i + 1, type="post.published", tenant_id="acme",
                        post_id=uuid.uuid4(), account_id=uuid.uuid4(), occurred_at=now, message="", data={})
            for i in range(n)]


async def test_every_event_acknowledged_moves_the_cursor_past_all() -> None:
    js = StubJetStream(fail=set())
    batch = events(50)
    assert await EventRelay(js, None)._publish(batch) == 50  # type: ignore[arg-type]
    assert [h["Nats-Msg-Id"] for _, h in js.sent] == [str(e.event_id) for e in batch]  # in order
    assert {s for s, _ in js.sent} == {"postsched.events.acme.post.published"}


async def test_an_unacknowledged_event_stops_the_cursor_before_it_even_if_later_ones_arrived() -> None:
    js = StubJetStream(fail={7})
    assert await EventRelay(js, None)._publish(events(20)) == 7  # type: ignore[arg-type]
    assert len(js.sent) == 20  # pipelined: the later ones went too (their copies are dropped next round)
