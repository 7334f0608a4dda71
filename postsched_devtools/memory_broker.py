"""The broker port (postsched.broker.Broker) in memory, for the fast tests: one hand-over stream
and the publishers' consumer with JetStream's rules, and core subjects, in one process.

What it keeps of JetStream: stream sequences from 1; a message whose Nats-Msg-Id was seen within
the duplicate window is acknowledged with the first one's sequence and not stored again; the
consumer delivers every stored message in order (deliver-all), at most `max_deliveries` times;
a message delivered and not answered comes back after the ack wait (or the consumer's backoff
step for that delivery); nak comes back after its delay, term never, in_progress restarts the ack
wait; a consumer made again starts from the stream's first message. Time is the host's monotonic
clock plus what `advance()` added, so a test can let a nak's delay or an ack wait pass at once.

Faults a test can set: `down` (every call raises BrokerError, as when NATS is away), `lose_acks`
(messages are stored but their acknowledgements never come: settle gives None, the ghost
hand-over), `delete_consumer()` and `delete_stream()` (then NotThere, until `ensure`/`pull` makes
them again). Every answer to a delivery is kept in `answers` for assertions.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from postsched.broker import EVENT_SUBJECTS, PUBLISH_SUBJECTS, BrokerError, ConsumerState, Delivery, NotThere, Pull, Sends
from postsched.settings import JetStreamSettings


@dataclass
class Stored:
    seq: int
    subject: str
    data: bytes
    headers: dict[str, str]
    stored_at: float


@dataclass
class _Outstanding:
    """A delivered message not yet answered: when it comes back unless answered."""

    due_again: float


@dataclass(frozen=True)
class Answer:
    seq: int
    how: str  # ack, nak, term
    delay: float | None
    delivered: int


@dataclass
class _ConsumerCursor:
    next_seq: int = 1  # the first stream sequence never delivered
    delivered: dict[int, int] = field(default_factory=dict)  # seq -> deliveries so far
    outstanding: dict[int, _Outstanding] = field(default_factory=dict)
    again_at: dict[int, float] = field(default_factory=dict)  # nak'd: seq -> when it may come again
    done: set[int] = field(default_factory=set)  # acked or terminated


def _matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: `*` one token, `>` the rest."""
    want, have = pattern.split("."), subject.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return len(have) > i
        if i >= len(have) or (token != "*" and token != have[i]):
            return False
    return len(want) == len(have)


class MemoryBroker:
    def __init__(self, settings: JetStreamSettings | None = None,
                 *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings or JetStreamSettings()
        self._monotonic = monotonic
        self._offset = 0.0
        self.stream: dict[int, Stored] | None = {}  # the hand-over stream
        self.events: dict[int, Stored] = {}  # the post-events stream the event relay fills
        self._last_seq = 0
        self._seen_ids: dict[str, tuple[int, float]] = {}
        self.consumer: _ConsumerCursor | None = _ConsumerCursor()
        self.answers: list[Answer] = []
        self.notified: list[tuple[str, bytes]] = []
        self._listeners: list[tuple[str, Callable[[bytes], Awaitable[None]]]] = []
        self._changed = asyncio.Event()
        self._waiting = 0
        self.down = False
        self.lose_acks = False
        self.ensured = 0  # how many times the streams and consumer were made or checked

    # --- time and faults ---

    def now(self) -> float:
        return self._monotonic() + self._offset

    def advance(self, seconds: float) -> None:
        """Lets `seconds` pass for the broker (nak delays, ack waits)."""
        self._offset += seconds
        self._changed.set()

    def delete_consumer(self) -> None:
        self.consumer = None
        self._changed.set()

    def delete_stream(self) -> None:
        self.stream, self.consumer = None, None
        self._changed.set()

    def _check_up(self) -> None:
        if self.down:
            raise BrokerError("nats: no servers available for connection")

    def _the_stream(self) -> dict[int, Stored]:
        self._check_up()
        if self.stream is None:
            raise NotThere("stream not found")
        return self.stream

    def _the_consumer(self) -> _ConsumerCursor:
        self._the_stream()
        if self.consumer is None:
            raise NotThere("consumer not found")
        return self.consumer

    # --- the port ---

    @property
    def connected(self) -> bool:
        return not self.down

    async def ensure(self) -> None:
        self._check_up()
        self.ensured += 1
        if self.stream is None:
            self.stream = {}
        if self.consumer is None:
            self.consumer = _ConsumerCursor(next_seq=min(self.stream, default=self._last_seq + 1))

    async def pull(self) -> Pull:
        await self.ensure()
        return _MemoryPull(self)

    def sends(self) -> Sends:
        return _MemorySends(self)

    async def consumer_state(self, *, timeout: float) -> ConsumerState:
        cursor = self._the_consumer()
        stream = self._the_stream()
        return ConsumerState(pending=sum(1 for seq in stream if seq >= cursor.next_seq),
                             ack_pending=len(cursor.outstanding),
                             redelivered=sum(1 for seq in cursor.outstanding if cursor.delivered[seq] > 1),
                             waiting=self._waiting)

    async def stream_bounds(self) -> tuple[int, int]:
        stream = self._the_stream()
        return (min(stream, default=self._last_seq + 1), self._last_seq)

    async def stream_message(self, seq: int) -> bytes:
        stored = self._the_stream().get(seq)
        if stored is None:
            raise NotThere(f"message {seq} not found")
        return stored.data

    async def notify(self, subject: str, body: bytes) -> None:
        self._check_up()
        self.notified.append((subject, body))
        for pattern, on_message in list(self._listeners):
            if _matches(pattern, subject):
                await on_message(body)

    async def hear(self, subject: str, on_message: Callable[[bytes], Awaitable[None]]) -> None:
        self._check_up()
        self._listeners.append((subject, on_message))

    async def drain(self) -> None:
        self._listeners.clear()

    # --- the stream and the consumer ---

    def store(self, subject: str, data: bytes, headers: dict[str, str]) -> int:
        """Stores a message as JetStream would; returns its sequence (the first one's, for a duplicate)."""
        stream = self._the_stream()
        if _matches(EVENT_SUBJECTS, subject):
            stream = self.events
        elif not _matches(PUBLISH_SUBJECTS, subject):
            raise BrokerError(f"nats: no response from stream for subject {subject}")
        now = self.now()
        msg_id = headers.get("Nats-Msg-Id")
        if msg_id:
            seen = self._seen_ids.get(msg_id)
            if seen is not None and now - seen[1] < self.settings.duplicate_window:
                return seen[0]
        if stream is self.events:
            seq = len(stream) + 1
        else:
            self._last_seq = seq = self._last_seq + 1
        stream[seq] = Stored(seq, subject, data, dict(headers), now)
        if msg_id:
            self._seen_ids[msg_id] = (seq, now)
        self._changed.set()
        return seq

    def _ack_wait(self, delivered: int) -> float:
        backoff = list(self.settings.backoff)
        if backoff:
            return backoff[min(delivered, len(backoff)) - 1]
        return self.settings.ack_wait

    def _take(self, want: int) -> list[Delivery]:
        """Up to `want` messages that may be delivered now: those due again first, then new ones."""
        cursor = self._the_consumer()
        stream = self._the_stream()
        now = self.now()
        for seq, outstanding in list(cursor.outstanding.items()):
            if outstanding.due_again <= now:  # not answered within the ack wait
                del cursor.outstanding[seq]
                cursor.again_at[seq] = now
        ready = sorted(seq for seq, at in cursor.again_at.items() if at <= now)
        taken: list[Delivery] = []
        for seq in ready + list(range(cursor.next_seq, self._last_seq + 1)):
            if len(taken) >= want:
                break
            cursor.again_at.pop(seq, None)
            cursor.next_seq = max(cursor.next_seq, seq + 1)
            stored = stream.get(seq)
            if stored is None or seq in cursor.done or cursor.delivered.get(seq, 0) >= self.settings.max_deliveries:
                continue
            cursor.delivered[seq] = cursor.delivered.get(seq, 0) + 1
            cursor.outstanding[seq] = _Outstanding(now + self._ack_wait(cursor.delivered[seq]))
            taken.append(MemoryDelivery(self, cursor, stored, cursor.delivered[seq]))
        return taken

    def _next_change_in(self) -> float | None:
        """Seconds until a message becomes deliverable again by itself (a nak's delay, an ack wait)."""
        cursor = self.consumer
        if cursor is None:
            return None
        times = [o.due_again for o in cursor.outstanding.values()] + list(cursor.again_at.values())
        return max(0.0, min(times) - self.now()) if times else None

    async def fetch(self, want: int, idle: float) -> list[Delivery]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + idle
        while True:
            taken = self._take(want)
            left = deadline - loop.time()
            if taken or left <= 0:
                return taken
            self._changed.clear()
            soon = self._next_change_in()
            self._waiting += 1
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=min(left, soon if soon is not None else left))
            except asyncio.TimeoutError:
                pass
            finally:
                self._waiting -= 1

    def answer(self, cursor: _ConsumerCursor, stored: Stored, delivered: int, how: str,
               delay: float | None = None) -> None:
        self._check_up()
        if cursor is not self.consumer:
            raise NotThere("consumer not found")  # answered on a consumer since deleted
        self.answers.append(Answer(stored.seq, how, delay, delivered))
        seq = stored.seq
        if how == "progress":
            if seq in cursor.outstanding:
                cursor.outstanding[seq].due_again = self.now() + self._ack_wait(delivered)
            return
        cursor.outstanding.pop(seq, None)
        if how == "nak":
            cursor.again_at[seq] = self.now() + (delay or 0.0)
        else:
            cursor.done.add(seq)
        self._changed.set()


class MemoryDelivery:
    def __init__(self, broker: MemoryBroker, cursor: _ConsumerCursor, stored: Stored, delivered: int) -> None:
        self._broker = broker
        self._cursor = cursor
        self._stored = stored
        self._delivered = delivered

    @property
    def data(self) -> bytes:
        return self._stored.data

    @property
    def subject(self) -> str:
        return self._stored.subject

    @property
    def headers(self) -> dict[str, str]:
        return self._stored.headers

    @property
    def delivered(self) -> int:
        return self._delivered

    @property
    def seq(self) -> int:
        return self._stored.seq

    async def ack(self) -> None:
        self._broker.answer(self._cursor, self._stored, self._delivered, "ack")

    async def nak(self, delay: float | None = None) -> None:
        self._broker.answer(self._cursor, self._stored, self._delivered, "nak", delay)

    async def term(self) -> None:
        self._broker.answer(self._cursor, self._stored, self._delivered, "term")

    async def in_progress(self) -> None:
        self._broker.answer(self._cursor, self._stored, self._delivered, "progress")


class _MemoryPull:
    def __init__(self, broker: MemoryBroker) -> None:
        self._broker = broker

    async def fetch(self, want: int, *, idle: float, gather: float) -> list[Delivery]:
        return await self._broker.fetch(want, idle)

    async def close(self) -> None:
        pass


class _MemorySends:
    def __init__(self, broker: MemoryBroker) -> None:
        self._broker = broker
        self._sequences: list[int | None] = []

    async def send(self, subject: str, body: bytes, headers: dict[str, str]) -> None:
        try:
            seq = self._broker.store(subject, body, headers)
        except BrokerError:
            self._sequences.append(None)
            raise
        self._sequences.append(None if self._broker.lose_acks else seq)

    def __len__(self) -> int:
        return len(self._sequences)

    async def settle(self, timeout: float) -> list[int | None]:
        return list(self._sequences)
