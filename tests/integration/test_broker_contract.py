"""The broker port's contract, run against both of its implementations: NatsBroker on a real
nats-server with JetStream, and the in-memory MemoryBroker the fast tests use. Whatever the fast
tests conclude from the memory broker holds only as far as these rules hold for both."""

from __future__ import annotations

import asyncio
import contextlib
from typing import AsyncIterator, Awaitable, Callable

import nats.js.errors
import pytest

from postsched import broker
from postsched.broker import STREAM, Broker, NatsBroker, NotThere
from postsched.settings import JetStreamSettings
from postsched_devtools.memory_broker import MemoryBroker

SETTINGS = JetStreamSettings(ack_wait=1.0, max_deliveries=2, duplicate_window=60.0)
SUBJECT = "postsched.publish.webhook"
PassTime = Callable[[float], Awaitable[None]]


@pytest.fixture(params=["memory", "nats"])
async def port(request: pytest.FixtureRequest,
               nats_server_url: str) -> AsyncIterator[tuple[Broker, PassTime, Callable[[], Awaitable[None]]]]:
    """(the broker, a way to let seconds pass for it, a way to delete its consumer)."""
    if request.param == "memory":
        memory = MemoryBroker(SETTINGS)

        async def advance(seconds: float) -> None:
            memory.advance(seconds)

        async def delete_memory_consumer() -> None:
            memory.delete_consumer()

        await memory.ensure()
        yield memory, advance, delete_memory_consumer
        return
    nc = await broker.connect([nats_server_url], "contract-test")
    with contextlib.suppress(nats.js.errors.NotFoundError):
        await nc.jetstream().delete_stream(STREAM)  # and the consumer with it: each test starts empty
    real = NatsBroker(nc, SETTINGS)
    await real.ensure()

    async def delete_nats_consumer() -> None:
        await nc.jetstream().delete_consumer(STREAM, broker.CONSUMER)

    try:
        yield real, asyncio.sleep, delete_nats_consumer
    finally:
        await nc.close()


async def send(port: Broker, *bodies_and_ids: tuple[bytes, str]) -> list[int | None]:
    sends = port.sends()
    for body, msg_id in bodies_and_ids:
        await sends.send(SUBJECT, body, {"Nats-Msg-Id": msg_id})
    return await sends.settle(5.0)


async def fetch_all(pull: broker.Pull, idle: float = 0.3) -> list[broker.Delivery]:
    return await pull.fetch(10, idle=idle, gather=0.05)


async def test_sequences_and_the_duplicate_window(port: tuple[Broker, PassTime, Callable[[], Awaitable[None]]]) -> None:
    nats, _, _ = port
    seqs = await send(nats, (b"a", "p1:1"), (b"b", "p2:1"), (b"a again", "p1:1"))
    assert seqs[0] is not None and seqs[1] == seqs[0] + 1
    assert seqs[2] == seqs[0]  # the same Nats-Msg-Id within the window: the first one's sequence, not stored again
    first, last = await nats.stream_bounds()
    assert (first, last) == (seqs[0], seqs[1])
    assert await nats.stream_message(seqs[1]) == b"b"
    with pytest.raises(NotThere):
        await nats.stream_message(last + 5)
    pull = await nats.pull()
    try:
        got = await fetch_all(pull)
        assert [d.data for d in got] == [b"a", b"b"] and [d.delivered for d in got] == [1, 1]
        assert got[0].headers["Nats-Msg-Id"] == "p1:1" and got[0].subject == SUBJECT
        for delivery in got:
            await delivery.ack()
        assert await fetch_all(pull) == []
    finally:
        await pull.close()


async def test_nak_comes_back_after_its_delay_term_never_and_deliveries_are_counted(
        port: tuple[Broker, PassTime, Callable[[], Awaitable[None]]]) -> None:
    nats, pass_time, _ = port
    await send(nats, (b"nak", "n:1"), (b"term", "t:1"))
    pull = await nats.pull()
    try:
        nak, term = await fetch_all(pull)
        await nak.nak(delay=1.0)
        await term.term()
        assert await fetch_all(pull, idle=0.2) == []  # before the delay: nothing
        await pass_time(1.2)
        (again,) = await fetch_all(pull, idle=1.0)
        assert again.data == b"nak" and again.delivered == 2
        await again.nak()  # the last delivery (max_deliveries=2): it never comes again
        await pass_time(0.3)
        assert await fetch_all(pull, idle=0.3) == []
        state = await nats.consumer_state(timeout=2)
        assert state.ack_pending == 0 and state.pending == 0
    finally:
        await pull.close()


async def test_an_unanswered_message_comes_back_after_the_ack_wait(
        port: tuple[Broker, PassTime, Callable[[], Awaitable[None]]]) -> None:
    nats, pass_time, _ = port
    await send(nats, (b"slow", "s:1"))
    pull = await nats.pull()
    try:
        (first,) = await fetch_all(pull)
        assert (await nats.consumer_state(timeout=2)).ack_pending == 1
        await pass_time(1.3)  # past the ack wait, unanswered
        (again,) = await fetch_all(pull, idle=1.0)
        assert again.data == b"slow" and again.delivered == 2
        await again.ack()
    finally:
        await pull.close()


async def test_a_deleted_consumer_is_reported_and_made_again_by_pull(
        port: tuple[Broker, PassTime, Callable[[], Awaitable[None]]]) -> None:
    nats, _, delete_consumer = port
    await send(nats, (b"x", "x:1"))
    pull = await nats.pull()
    (x,) = await fetch_all(pull)
    await x.ack()
    await pull.close()
    await delete_consumer()
    with pytest.raises(NotThere):
        await nats.consumer_state(timeout=2)
    pull = await nats.pull()  # makes it again: delivers the stream from its first message
    try:
        (again,) = await fetch_all(pull, idle=1.0)
        assert again.data == b"x" and again.delivered == 1
        await again.ack()
    finally:
        await pull.close()


async def test_core_messages_reach_who_listens_by_wildcard(
        port: tuple[Broker, PassTime, Callable[[], Awaitable[None]]]) -> None:
    nats, _, _ = port
    heard: list[bytes] = []
    arrived = asyncio.Event()

    async def on_message(body: bytes) -> None:
        heard.append(body)
        arrived.set()

    await nats.hear("postsched.status.>", on_message)
    await nats.notify("postsched.other", b"not this")
    await nats.notify("postsched.status.publisher.p1", b"beat")
    await asyncio.wait_for(arrived.wait(), timeout=5)
    assert heard == [b"beat"]
