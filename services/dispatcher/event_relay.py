"""Publishes post events to NATS (`postsched.events.<tenant>.<type>`, stream POSTSCHED_EVENTS)
for backends on the same NATS. Runs as a duty of every dispatcher; the store's relay cursor
keeps one relay per tenant at a time and each tenant's events in order."""

from __future__ import annotations

import structlog

from postsched import broker, telemetry
from postsched.broker import event_subject
from postsched.clock import Clock
from postsched.messages import event_json
from postsched.store.events import EventRecord, EventStore

log = structlog.get_logger("postsched.event_relay")
RELAY_PERIOD = 0.5
RELAY_BATCH = 500
PUBLISH_TIMEOUT = 5.0
RELAY_LEASE = 30.0  # a relay that dies holding tenants leaves them to another this long


class EventRelay:
    def __init__(self, nats: broker.Broker, events: EventStore, clock: Clock | None = None, *, owner: str = "") -> None:
        self._broker = nats
        self._events = events
        self._clock = clock or Clock()
        self._owner = owner
        self.relayed_total = 0

    async def _publish(self, events: list[EventRecord]) -> int:
        """Publishes a tenant's events pipelined, in order on one connection, so JetStream stores
        them in order; returns how many from the first on it acknowledged (the cursor moves past
        those only). One at a time, each acknowledged before the next, cost a round trip and, with
        sync_interval always, an fsync per event."""
        sends = self._broker.sends()
        try:
            for record in events:
                await sends.send(event_subject(record.tenant_id, record.type), event_json(record),
                                 headers={"Nats-Msg-Id": str(record.event_id), "Content-Type": "application/json"})
        finally:
            sequences = await sends.settle(PUBLISH_TIMEOUT)
        acked = 0
        for seq in sequences:
            if seq is None:
                break
            acked += 1
        if acked < len(events):
            # The rest goes again next round; copies of any that did arrive are dropped by the
            # stream's duplicate window (Nats-Msg-Id), so they keep their first place.
            log.warning("event relay: JetStream did not acknowledge every event; the rest goes next round",
                        acknowledged=acked, sent=len(sequences), events=len(events))
        return acked

    async def run_once(self) -> None:
        """Relays until no tenant is behind (or this round's share is done)."""
        with telemetry.untraced():  # a poll twice a second: spans of it would drown the real ones
            await self._relay_all()

    async def _relay_all(self) -> None:
        while True:
            try:
                n = await self._events.relay(self._publish, owner=self._owner, now=self._clock.now(),
                                             lease=RELAY_LEASE, limit=RELAY_BATCH)
            except broker.BrokerError as exc:
                # NATS away or slow: nothing moved the cursor, so the next round sends it all again.
                log.warning("event relay: publish failed; retrying next round", error=str(exc) or type(exc).__name__)
                return
            self.relayed_total += n
            if n < RELAY_BATCH:
                return
