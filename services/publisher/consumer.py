"""Consumption: pull from the shared durable consumer, claim, publish, record, then ack.

For each fetched batch: one statement claims every post still QUEUED under its message's
generation; a message whose post was not claimed (stale generation, duplicate, cancelled, or being
published elsewhere) is acked and dropped. Each claimed post is published concurrently (up to
`concurrency` at a time); its outcome is recorded, and only then is the message acked, nak'ed with
a delay (transient error, deliveries left) or terminated.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import nats.errors
import structlog
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from opentelemetry.trace import SpanKind, Status, StatusCode

from postsched import instruments, telemetry
from postsched.broker import CONSUMER, STREAM, PublishMessage
from postsched.clock import Clock
from postsched.errors import PostschedError
from postsched.store.publishing import ClaimedPost, PublishingStore
from services.publisher import alerts
from services.publisher.attempt import Attempts, Decision
from services.publisher.recorder import OutcomeRecorder
from services.publisher.stats import PublisherStats

log = structlog.get_logger("postsched.publisher")
TRACER = telemetry.tracer("postsched.publisher")
FETCH_MAX = 256
IDLE_WAIT = 1.0  # seconds one pull waits for a first message
GATHER = 0.01  # seconds more to gather the rest of a batch once one message is there
CLAIM_RETRY_DELAY = 5.0


class Consumer:
    def __init__(
        self,
        nc: NATS,
        store: PublishingStore,
        attempts: Attempts,
        recorder: OutcomeRecorder,
        clock: Clock,
        stats: PublisherStats,
        *,
        owner: str,
        concurrency: int,
        lease: float,
        ack_wait: float,
    ) -> None:
        self._nc = nc
        self._store = store
        self._attempts = attempts
        self._recorder = recorder
        self._clock = clock
        self._stats = stats
        self._owner = owner
        self._concurrency = concurrency
        self._lease = lease
        self.keepalive_every = max(1.0, ack_wait / 3)
        self._tasks: set[asyncio.Task] = set()
        self._working: dict[asyncio.Task, Msg] = {}
        self._slot_freed = asyncio.Event()
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        """Fetches and dispatches messages until stop() is called."""
        sub = await self._nc.jetstream().pull_subscribe_bind(durable=CONSUMER, stream=STREAM)
        try:
            # Refill in batches: fetching (and claiming) as soon as one slot frees up would turn
            # into one fetch and one claim statement per message, which caps throughput.
            refill_at = max(1, min(FETCH_MAX, self._concurrency // 4))
            while not self._stopping.is_set():
                free = self._concurrency - len(self._tasks)
                if free < refill_at and self._tasks:
                    self._slot_freed.clear()
                    await self._slot_freed.wait()
                    continue
                try:
                    messages = await self._fetch(sub, min(free, FETCH_MAX))
                except (nats.errors.TimeoutError, asyncio.TimeoutError):
                    continue
                except nats.errors.Error as exc:
                    log.warning("fetch failed; retrying", error=str(exc) or type(exc).__name__)
                    await asyncio.sleep(0.5)
                    continue
                if self._stopping.is_set():  # fetched while stopping: hand them straight back
                    for msg in messages:
                        with contextlib.suppress(nats.errors.Error):
                            await msg.nak()
                    break
                await self._dispatch(messages)
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    @staticmethod
    async def _fetch(sub: JetStreamContext.PullSubscription, want: int) -> list[Msg]:
        """Up to `want` messages, as soon as there is one.

        One fetch(want, timeout=1) would hold the first message back until `want` had arrived
        or the second was over: nats-server treats a pull with an expiry as a lingering one, and
        nats-py collects the batch until the deadline. At a steady trickle that was up to a
        second of lateness (p99 1.07 s at 125 posts/s). So wait for one message, then take
        whatever else is there within GATHER seconds: a burst still goes in full batches.
        """
        messages = await sub.fetch(1, timeout=IDLE_WAIT)
        if want > 1:
            with contextlib.suppress(nats.errors.TimeoutError, asyncio.TimeoutError):
                messages += await sub.fetch(want - 1, timeout=GATHER)
        return messages

    async def stop(self, grace: float) -> int:
        """Stops fetching and lets attempts in flight finish for up to `grace` seconds; returns how
        many were abandoned (not acked: JetStream redelivers them, and the rescuer reconciles)."""
        self._stopping.set()
        self._slot_freed.set()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)
        abandoned = [t for t in self._tasks if not t.done()]
        for task in abandoned:
            task.cancel()
        return len(abandoned)

    async def _dispatch(self, messages: list[Msg]) -> None:
        decoded: list[tuple[Msg, PublishMessage]] = []
        for msg in messages:
            try:
                decoded.append((msg, PublishMessage.decode(msg.data)))
            except (ValueError, KeyError, TypeError):
                log.error("unreadable message terminated", subject=msg.subject)
                await msg.term()
        try:
            claimed = await self._store.claim(
                [(m.post_id, m.generation) for _, m in decoded], owner=self._owner, now=self._clock.now(),
                lease=self._lease,
            )
        except PostschedError as exc:
            log.warning("claim failed; messages come back later", error=str(exc), messages=len(decoded))
            for msg, _ in decoded:
                await msg.nak(delay=CLAIM_RETRY_DELAY)
            return
        by_key = {(c.id, c.generation): c for c in claimed}
        for msg, body in decoded:
            post = by_key.pop((body.post_id, body.generation), None)
            if post is None:
                self._stats.dropped += 1
                await msg.ack()
                continue
            task = asyncio.create_task(self._process(msg, post))
            self._tasks.add(task)
            self._working[task] = msg
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        self._working.pop(task, None)
        self._stats.in_flight = len(self._tasks)
        self._slot_freed.set()

    async def _process(self, msg: Msg, post: ClaimedPost) -> None:
        self._stats.in_flight = len(self._tasks)
        started = time.monotonic()
        delivery = msg.metadata.num_delivered
        # A CONSUMER span in the post's own trace: the child of the dispatcher's `send` span (from
        # the headers) and linked to it, as OpenTelemetry's messaging conventions say.
        headers = msg.headers or {}
        with telemetry.post_span(TRACER, f"process {msg.subject}", headers.get("traceparent"), kind=SpanKind.CONSUMER,
                                 link_parent=True, **{
            **telemetry.messaging_attributes("process", msg.subject, headers.get("Nats-Msg-Id", "")),
            "messaging.consumer.group.name": CONSUMER,
            "postsched.post_id": str(post.id), "postsched.account_id": str(post.account_id),
            "postsched.platform": post.platform, "postsched.attempt": post.attempts, "postsched.delivery": delivery,
        }) as span, structlog.contextvars.bound_contextvars(post_id=str(post.id)):
            decision = await self._attempts.run(post, delivery=delivery)
            outcome = decision.outcome.status if decision.outcome else "UNKNOWN"
            span.set_attribute("postsched.outcome", outcome)
            if decision.outcome and decision.outcome.last_error:
                span.set_attribute("postsched.error", decision.outcome.last_error)
                if outcome in ("FAILED", "QUEUED"):
                    span.set_status(Status(StatusCode.ERROR, decision.outcome.last_error))
            await self._finish(msg, post, decision)
        instruments.publish_duration.record(time.monotonic() - started, {"platform": post.platform, "outcome": outcome})
        if outcome == "PUBLISHED":
            instruments.posts_published.add(1, {"platform": post.platform})
        elif outcome == "FAILED":
            instruments.posts_failed.add(1, {"platform": post.platform})

    async def _finish(self, msg: Msg, post: ClaimedPost, decision: Decision) -> None:
        if decision.outcome is not None:
            try:
                recorded = await self._recorder.record(decision.outcome)
            except Exception as exc:
                # Not acked: JetStream redelivers, the claim then finds the post PUBLISHING and drops
                # the message, and the rescuer reconciles the attempt once its lease expires.
                log.warning("outcome not recorded; leaving it to reconciliation", post_id=str(post.id), error=str(exc))
                return
            if not recorded:
                log.warning("outcome not recorded: the attempt was taken over", post_id=str(post.id))
            elif decision.outcome.status == "FAILED":
                await alerts.post_failed(self._nc, post, decision.outcome.last_error or "")
        try:
            if decision.reply == "nak":
                await msg.nak(delay=decision.delay)
            elif decision.reply == "term":
                await msg.term()
            else:
                await msg.ack()
        except nats.errors.Error as exc:
            log.warning("could not answer JetStream; the message will come back and be dropped",
                        post_id=str(post.id), error=str(exc))

    async def keep_alive_once(self) -> int:
        """Tells JetStream that the messages being worked on are in progress, so a long attempt
        (an Instagram video, a slow platform) is not redelivered while it runs; returns how many."""
        told = 0
        for task, msg in list(self._working.items()):
            if not task.done():
                with contextlib.suppress(nats.errors.Error):
                    await msg.in_progress()
                    told += 1
        return told
