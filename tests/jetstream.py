"""Reading what is in postsched's JetStream stream, for tests."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import nats
import nats.js.errors

from postsched.broker import CONSUMER, STREAM, PublishMessage


@dataclass(frozen=True)
class StoredMessage:
    subject: str
    msg_id: str
    traceparent: str | None
    body: PublishMessage


async def _messages(url: str) -> list[StoredMessage]:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(STREAM)
        out: list[StoredMessage] = []
        if info.state.messages == 0:
            return out
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            try:
                msg = await js.get_msg(STREAM, seq)
            except nats.js.errors.NotFoundError:
                continue
            headers = msg.headers or {}
            out.append(StoredMessage(msg.subject, headers.get("Nats-Msg-Id", ""), headers.get("traceparent"),
                                     PublishMessage.decode(msg.data)))
        return out
    finally:
        await nc.close()


def stream_messages(url: str) -> list[StoredMessage]:
    return asyncio.run(_messages(url))


async def _info(url: str):  # type: ignore[no-untyped-def]
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        return await js.stream_info(STREAM), await js.consumer_info(STREAM, CONSUMER)
    finally:
        await nc.close()


def stream_and_consumer(url: str):  # type: ignore[no-untyped-def]
    return asyncio.run(_info(url))
