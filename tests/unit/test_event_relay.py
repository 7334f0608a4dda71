"""The event relay's pipelined publishing: the cursor moves only past events JetStream acknowledged
from the first on (a unit test with a stand-in for the broker)."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone


from postsched.store.events import EventRecord
from services.dispatcher.event_relay import EventRelay


class StubBroker:
    """Acknowledges every publish except those whose index is in `fail`; records what was sent."""

    def __init__(self, fail: set[int]) -> None:
        self.fail = fail
        self.sent: list[tuple[str, dict]] = []

    def sends(self) -> "StubBroker.Sends":
        return StubBroker.Sends(self)

    class Sends:
        def __init__(self, broker: "StubBroker") -> None:
            self._broker = broker
            self._sequences: list[int | None] = []

        async def send(self, subject: str, body: bytes, headers: dict[str, str]) -> None:
            sent = self._broker.sent
            self._sequences.append(None if len(sent) in self._broker.fail else len(sent) + 1)
            sent.append((subject, headers))

        async def settle(self, timeout: float) -> list[int | None]:
            return self._sequences


def events(n: int) -> list[EventRecord]:
    now = datetime.now(timezone.utc)
    return [EventRecord(event_id=uuid.uuid4(), sequence=i + 1, type="post.published", tenant_id="acme",
                        post_id=uuid.uuid4(), account_id=uuid.uuid4(), occurred_at=now, message="", data={})
            for i in range(n)]


async def test_every_event_acknowledged_moves_the_cursor_past_all() -> None:
    js = StubBroker(fail=set())
    batch = events(50)
    assert await EventRelay(js, None)._publish(batch) == 50  # type: ignore[arg-type]
    assert [h["Nats-Msg-Id"] for _, h in js.sent] == [str(e.event_id) for e in batch]  # in order
    assert {s for s, _ in js.sent} == {"postsched.events.acme.post.published"}


async def test_an_unacknowledged_event_stops_the_cursor_before_it_even_if_later_ones_arrived() -> None:
    js = StubBroker(fail={7})
    assert await EventRelay(js, None)._publish(events(20)) == 7  # type: ignore[arg-type]
    assert len(js.sent) == 20  # pipelined: the later ones went too (their copies are dropped next round)
