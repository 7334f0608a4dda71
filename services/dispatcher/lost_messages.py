"""Lost messages: a post handed over to JetStream whose message is no longer in the stream.

JetStream acknowledges a publish before it is on disk (it fsyncs every `sync_interval`, 2 minutes
by default), so a power failure can lose acknowledged messages; an operator may purge or recreate
the stream. PostgreSQL is the truth: a post still QUEUED under the generation of a message that
JetStream acknowledged at sequence N, for longer than POSTSCHED_LOST_MESSAGE_AFTER seconds, is
checked. Its message is lost when N is below the stream's first sequence (purged), above its last
(the stream was recreated), or absent, or when another message now stands at N; the post is then
handed over again under a new generation. A message merely waiting behind a backlog is still in
the stream at N and is left alone.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import structlog

from postsched import broker
from postsched.broker import STREAM, PublishMessage
from postsched.clock import Clock
from postsched.store.posts.dispatch import DispatchStore, HandedOver

log = structlog.get_logger("postsched.dispatcher")
SLICE = 500  # posts checked per round; a longer backlog is walked a slice per round


class LostMessages:
    def __init__(
        self,
        nats: broker.Broker,
        store: DispatchStore,
        clock: Clock,
        *,
        lost_after: float,
    ) -> None:
        self._broker = nats
        self._store = store
        self._clock = clock
        self._lost_after = timedelta(seconds=lost_after)
        self.period = max(1.0, lost_after / 2)
        self._cursor: tuple[datetime, uuid.UUID] | None = None

    async def run_once(self) -> int:
        """Checks one slice of old hand-overs; returns how many posts were handed over again."""
        now = self._clock.now()
        candidates = await self._store.handed_over_before(now - self._lost_after, after=self._cursor, limit=SLICE)
        self._cursor = (candidates[-1].handed_over_at, candidates[-1].id) if len(candidates) == SLICE else None
        if not candidates:
            return 0
        try:
            first_seq, last_seq = await self._broker.stream_bounds()
        except broker.NotThere:
            log.error("the stream is gone; recreating it and handing its posts over again", stream=STREAM)
            await self._broker.ensure()
            lost = candidates
        else:
            lost = [post for post in candidates if not await self._in_stream(post, first_seq, last_seq)]
        again = await self._store.hand_over_again(
            lost, now=self._clock.now(), reason="its JetStream message vanished after hand-over; dispatching again"
        )
        if again:
            log.warning("messages lost after hand-over; posts handed over again", posts=again,
                        checked=len(candidates))
        return again

    async def _in_stream(self, post: HandedOver, first_seq: int, last_seq: int) -> bool:
        if post.seq < first_seq or post.seq > last_seq:
            return False
        try:
            data = await self._broker.stream_message(post.seq)
        except broker.NotThere:
            return False
        except broker.BrokerError:
            return True  # cannot tell now: assume it is there; the next round looks again
        try:
            body = PublishMessage.decode(data)
        except (ValueError, KeyError, TypeError):
            return False
        return body.key == post.message
