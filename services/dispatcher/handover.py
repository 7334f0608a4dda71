"""Hand-over: holds leased posts in memory until their time, then publishes them to JetStream.

A post leased ahead of time waits here, so it reaches JetStream at its scheduled second rather than
at the next tick. After JetStream acknowledges a batch, the hand-over is recorded in PostgreSQL.
A publish that fails is retried with a growing delay while the post's lease lasts; once the lease
is over the post is dropped from memory and the rescuer (in any dispatcher) returns it to
SCHEDULED, to be leased again under a new generation. The message of the old generation, if it
reached the stream after all, is then stale and dropped by the publisher: never published twice.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from datetime import datetime, timedelta
from typing import Any, Awaitable, Callable

import structlog
from opentelemetry.trace import SpanKind

from postsched import broker, instruments, telemetry
from postsched.backoff import Backoff
from postsched.broker import HandoverSigner, PublishMessage, publish_subject
from postsched.clock import Clock
from postsched.errors import PostschedError
from postsched.store.posts.dispatch import DispatchStore, LeasedPost
from postsched.tracecontext import trace_id_of
from postsched.turns import in_turns
from services.dispatcher.stats import DispatcherStats

log = structlog.get_logger("postsched.dispatcher")
TRACER = telemetry.tracer("postsched.dispatcher")

ACK_TIMEOUT = 5.0  # seconds to wait for JetStream to acknowledge a batch
MAX_BATCH = 5_000  # posts published per round; keep under the JetStream context's max pending
ACCOUNT_ROUND = 1_000  # posts of one account per round
ROUND_SCAN = 4 * MAX_BATCH  # due posts looked at per round
MAX_RECORDING = 2  # rounds whose hand-over records are still being written
REPAIR_EVERY = 2.0
PUBLISH_MAX_PENDING = 2 * MAX_BATCH
RETRY_BACKOFF = Backoff(0.25, 5.0)


class Handover:
    def __init__(
        self,
        nats: broker.Broker,
        store: DispatchStore,
        clock: Clock,
        stats: DispatcherStats,
        signer: HandoverSigner,
        *,
        lease_grace: float,
        handover_timeout: float,
    ) -> None:
        self._signer = signer
        self._broker = nats
        self._store = store
        self._clock = clock
        self._stats = stats
        self._lease_grace = timedelta(seconds=lease_grace)
        self._handover_timeout = handover_timeout
        # (when to publish, tie-breaker, post, failed attempts so far)
        self._heap: list[tuple[datetime, int, LeasedPost, int]] = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._publishing = asyncio.Lock()
        self._recording: set[asyncio.Task[None]] = set()
        # Called (at most every REPAIR_EVERY seconds) after a round with failed publishes.
        self.repair: Callable[[], Awaitable[None]] | None = None
        self._repairing: asyncio.Task[None] | None = None

    @property
    def holding(self) -> int:
        return len(self._heap)

    def add(self, posts: list[LeasedPost]) -> None:
        """Holds posts until their time; overdue ones go out in the order given (the lease's turns)."""
        now = self._clock.now()
        for post in posts:
            heapq.heappush(self._heap, (max(post.due_at, now), next(self._seq), post, 0))
        if posts:
            self._wake.set()

    async def run(self) -> None:
        """Publishes each post when its time comes, until cancelled."""
        while True:
            self._wake.clear()
            if not self._heap:
                await self._wake.wait()
                continue
            delay = (self._heap[0][0] - self._clock.now()).total_seconds()
            if delay > 0:
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=delay)
                except asyncio.TimeoutError:
                    pass
                continue
            await self.flush_due()

    async def flush_due(self) -> int:
        """Publishes everything due now; returns how many JetStream acknowledged."""
        published = 0
        async with self._publishing:
            while True:
                due = self._round(self._clock.now())
                if not due:
                    break
                published += await self._publish(due)
            await self._records_written()
        return published

    def _round(self, now: datetime) -> list[tuple[LeasedPost, int]]:
        """The posts to publish in one round: those due, in turns across tenants and accounts
        (each account's in its own order), at most ACCOUNT_ROUND of one account and MAX_BATCH in
        all; the rest stay for the next round. So when one account's burst and another's posts
        are due together, the other's go in the first round, not after the burst."""
        popped: list[tuple[datetime, int, LeasedPost, int]] = []
        while self._heap and self._heap[0][0] <= now and len(popped) < ROUND_SCAN:
            popped.append(heapq.heappop(self._heap))
        taken: list[tuple[LeasedPost, int]] = []
        per_account: dict[object, int] = {}
        for entry in in_turns(popped, tenant_of=lambda e: e[2].tenant_id, account_of=lambda e: e[2].account_id):
            account = entry[2].account_id
            if len(taken) < MAX_BATCH and per_account.get(account, 0) < ACCOUNT_ROUND:
                per_account[account] = per_account.get(account, 0) + 1
                taken.append((entry[2], entry[3]))
            else:
                heapq.heappush(self._heap, entry)
        return taken

    async def _publish(self, due: list[tuple[LeasedPost, int]]) -> int:
        sends = self._broker.sends()
        now = self._clock.now()
        for post, _ in due:
            lateness = (now - post.due_at).total_seconds()
            # A PRODUCER span in the post's own trace (started by CreatePost), named and described
            # as OpenTelemetry's messaging conventions say; its context travels in the message.
            subject, msg_id = publish_subject(post.platform), post.message.msg_id
            attributes: dict[str, Any] = {
                **telemetry.messaging_attributes("send", subject, msg_id),
                "postsched.post_id": str(post.id), "postsched.account_id": str(post.account_id),
                "postsched.generation": post.generation, "postsched.lateness_seconds": lateness,
            }
            with telemetry.post_span(TRACER, f"send {subject}", post.trace_context, kind=SpanKind.PRODUCER, **attributes):
                headers = telemetry.inject({"Nats-Msg-Id": msg_id})
                if "traceparent" not in headers and post.trace_context and not post.trace_context.endswith("-00"):
                    # Tracing off here: pass a sampled trace on. An unsampled one (a post created
                    # where nothing traced) records nothing downstream; the publisher has it from
                    # the claimed row, and the header would only cost every message its parsing.
                    headers["traceparent"] = post.trace_context
                try:
                    await sends.send(
                        subject,
                        self._signer.sign(PublishMessage(post.id, post.generation, post.tenant_id, post.account_id)).encode(),
                        headers,
                    )
                except broker.BrokerError as exc:
                    log.warning("publish to JetStream failed", post_id=str(post.id), error=exc.message)
            instruments.handover_lateness.record(max(0.0, lateness))
        acked: list[tuple[LeasedPost, int]] = []
        failed: list[tuple[LeasedPost, int]] = []
        for (post, attempts), seq in zip(due, await sends.settle(ACK_TIMEOUT)):
            if seq is not None:
                acked.append((post, seq))
            else:
                failed.append((post, attempts))
        if acked and log.is_enabled_for(logging.INFO):
            # One line per round, each post as "post id/trace id" (what `postsched logs` finds a
            # post's trace by): a line per post cost the dispatcher a quarter more CPU in a burst.
            log.info("posts handed over", count=len(acked),
                     max_late_ms=round(max((now - post.due_at).total_seconds() for post, _ in acked) * 1000),
                     posts=[f"{post.id}/{trace_id_of(post.trace_context) or ''}" for post, _ in acked])
        if acked:
            # Recorded while the next round is published: the record is bookkeeping (the claim
            # goes by generation), and waiting for it made a 20,000-post burst's rounds seconds long.
            if len(self._recording) >= MAX_RECORDING:
                await asyncio.wait(self._recording, return_when=asyncio.FIRST_COMPLETED)
            task = asyncio.create_task(self._record(acked))
            self._recording.add(task)
            task.add_done_callback(self._recording.discard)
        if failed:
            self._retry_later(failed)
        self._stats.published_total += len(acked)
        return len(acked)

    async def _records_written(self) -> None:
        if self._recording:
            await asyncio.wait(set(self._recording))

    async def _record(self, acked: list[tuple[LeasedPost, int]]) -> None:
        try:
            await self._store.handed_over(acked, now=self._clock.now(), timeout=self._handover_timeout)
        except PostschedError as exc:
            # The messages are in the stream; only the record is missing. The publisher claims by
            # generation either way, so this costs at worst a re-dispatch, never a second post.
            log.warning("could not record hand-over", posts=len(acked), error=str(exc))

    def _retry_later(self, failed: list[tuple[LeasedPost, int]]) -> None:
        now = self._clock.now()
        self._stats.publish_failures_total += len(failed)
        dropped = 0
        for post, attempts in failed:
            delay = RETRY_BACKOFF.delay(attempts + 1)
            retry_at = now + timedelta(seconds=delay)
            if retry_at >= post.due_at + self._lease_grace:
                dropped += 1  # the lease is running out: leave the post to the rescuer
                continue
            heapq.heappush(self._heap, (retry_at, next(self._seq), post, attempts + 1))
        log.warning("hand-over failed; retrying", posts=len(failed) - dropped, left_to_rescuer=dropped)
        self._wake.set()
        if self.repair is not None and (self._repairing is None or self._repairing.done()):
            # The stream may be gone (deleted, a NATS data loss): made again with its settings.
            self._repairing = asyncio.create_task(self._repair())

    async def _repair(self) -> None:
        assert self.repair is not None
        try:
            await self.repair()
        except Exception as exc:  # NATS away: the next failed round tries again
            log.warning("could not check or make the JetStream stream again", error=str(exc) or type(exc).__name__)
        await asyncio.sleep(REPAIR_EVERY)

    async def release_all(self, reason: str) -> int:
        """Returns every post still held to SCHEDULED (on shutdown); returns how many."""
        async with self._publishing:
            posts = [entry[2] for entry in self._heap]
            self._heap.clear()
            await self._records_written()
        released = await self._store.release(posts, now=self._clock.now(), reason=reason)
        self._stats.released_total += released
        return released
