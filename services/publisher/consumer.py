"""Consumption: pull from the shared durable consumer, share fairly, claim, publish, record, then ack.

For each fetched batch: the publisher's fair share (fair_share.py) decides which messages it takes
on now; the others' posts are given back in one statement (deferred: SCHEDULED again, not handed
over before a time spread at their account's pace) and their messages acked, so no tenant's
backlog stands between another tenant's posts and this publisher. One statement claims every
post still QUEUED under its message's generation; a message whose post was not claimed (stale
generation, duplicate, cancelled, or being published elsewhere) is acked and dropped. Claimed
posts wait for a slot without holding one (their leases renewed meanwhile); each runs when the
fair share gives it a slot. Its outcome is recorded, and only then is the message acked, nak'ed
with a delay (transient error, deliveries left) or terminated.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Awaitable, Callable

import structlog

from opentelemetry.trace import SpanKind, Status, StatusCode

from postsched import instruments, telemetry
from postsched import broker
from postsched.broker import CONSUMER, HandoverSigner, PublishMessage
from postsched.keys import MessageKey
from postsched.tracecontext import trace_id_of
from postsched.clock import Clock
from postsched.errors import PostschedError
from postsched.store.posts.publishing import ClaimedPost, PublishingStore
from services.publisher import alerts
from services.publisher.attempt import Attempts, Decision, Reply
from services.publisher.fair_share import FairShare
from services.publisher.leases import AttemptLease
from services.publisher.recorder import OutcomeRecorder
from services.publisher.stats import PublisherStats

log = structlog.get_logger("postsched.publisher")


class LogOnce:
    """One warning per `every` seconds for a repeated event, with how many happened meanwhile (a
    flood of forged messages must not become a flood of log lines)."""

    def __init__(self, event: str, *, every: float) -> None:
        self._event = event
        self._every = every
        self._last = -every
        self._since = 0

    def note(self, **fields: object) -> None:
        self._since += 1
        now = time.monotonic()
        if now - self._last >= self._every:
            log.warning(self._event, count=self._since, **fields)
            self._last, self._since = now, 0
TRACER = telemetry.tracer("postsched.publisher")
FETCH_MAX = 256
IDLE_WAIT = 1.0  # seconds one pull waits for a first message
CONSUMER_CHECK_TIMEOUT = 5.0  # seconds an idle publisher's look at its consumer may take
GATHER = 0.01  # seconds more to gather the rest of a batch once one message is there
CLAIM_RETRY_DELAY = 5.0
CRASHED_ATTEMPT_DELAY = 10.0  # seconds before a message whose attempt crashed comes back
SWEEP_EVERY = 30.0  # seconds between forgetting idle accounts and tenants
BROKEN_RETRY = 1.0  # seconds between attempts to make the stream and consumer again
CONSUMER_CHECK_EVERY = 5.0  # seconds of idleness after which the consumer's existence is checked


class _ConsumerGone(Exception):
    """Fetching failed: the consumer (or its stream, or NATS) is not there."""


@dataclass(eq=False)
class Work:
    """A claimed post in this publisher: its message, and its lease (renewed while it waits)."""

    msg: broker.Delivery
    post: ClaimedPost
    lease: AttemptLease
    started: float = field(default=0.0)  # monotonic, when it got its slot


class Consumer:
    def __init__(
        self,
        nats: broker.Broker,
        store: PublishingStore,
        attempts: Attempts,
        recorder: OutcomeRecorder,
        clock: Clock,
        stats: PublisherStats,
        fair: FairShare[Work],
        signer: HandoverSigner,
        *,
        owner: str,
        lease: float,
        ack_wait: float,
    ) -> None:
        self._broker = nats
        self._store = store
        self._attempts = attempts
        self._recorder = recorder
        self._clock = clock
        self._stats = stats
        self._fair = fair
        self._signer = signer
        # Told when fetching stops or works again (the duty's health: NOT_SERVING meanwhile).
        self._health: Callable[[bool, str], Awaitable[None]] | None = None
        self._health_ok = True
        self._forged_log = LogOnce("hand-over messages without a valid signature dropped", every=60.0)
        self._owner = owner
        self._lease = lease
        self.keepalive_every = max(1.0, ack_wait / 3)
        self._tasks: set[asyncio.Task[None]] = set()
        self._held: set[Work] = set()  # queued and running: their messages are kept alive
        self._changed = asyncio.Event()
        self._stopping = asyncio.Event()
        self._dispatching = asyncio.Lock()  # stop() waits for a batch being claimed to be queued
        self._swept_at = 0.0

    def stopped(self) -> bool:
        """Whether stop() was called (then run() returning is its end, not a failure)."""
        return self._stopping.is_set()

    async def run(self) -> None:
        """Fetches and dispatches messages until stop() is called. When the stream or the consumer
        is gone (deleted by hand, a NATS data loss), it makes them again with the configured
        settings and fetches on; meanwhile the duty reports unhealthy (NOT_SERVING), logged once
        per episode."""
        while not self._stopping.is_set():
            try:
                sub = await self._broker.pull()
            except broker.BrokerError as exc:
                await self._broken(exc)
                continue
            try:
                await self._pull(sub)
                return
            except _ConsumerGone as gone:
                await self._broken(gone.__cause__ or gone)
            finally:
                await sub.close()

    def health_to(self, report: Callable[[bool, str], Awaitable[None]]) -> None:
        """Where to say that fetching stopped or works again (the supervisor's duty health)."""
        self._health = report

    async def _broken(self, exc: BaseException) -> None:
        if self._health_ok:
            self._health_ok = False
            log.warning("cannot fetch from JetStream; making the stream and consumer again if they are gone, "
                        "and reporting NOT_SERVING until fetching works", error=str(exc) or type(exc).__name__)
            if self._health is not None:
                await self._health(False, str(exc) or type(exc).__name__)
        await asyncio.sleep(BROKEN_RETRY)

    async def _fetching(self) -> None:
        if not self._health_ok:
            self._health_ok = True
            log.info("fetching from JetStream again")
            if self._health is not None:
                await self._health(True, "")

    async def _pull(self, sub: broker.Pull) -> None:
        # Refill in batches: fetching (and claiming) as soon as one slot frees up would turn
        # into one fetch and one claim statement per message, which caps throughput.
        refill_at = max(1, min(FETCH_MAX, self._fair.concurrency // 4))
        checked_at = time.monotonic()
        while not self._stopping.is_set():
            room = self._fair.room
            if room < refill_at and self._held:
                self._changed.clear()
                await self._changed.wait()
                continue
            try:
                messages = await sub.fetch(min(room, FETCH_MAX), idle=IDLE_WAIT, gather=GATHER)
            except broker.BrokerError as exc:
                raise _ConsumerGone() from exc
            if not messages:
                self._fair.sweep(self._clock.now())
                if time.monotonic() - checked_at > CONSUMER_CHECK_EVERY:  # idle: is the consumer still there?
                    checked_at = time.monotonic()
                    try:
                        await self._broker.consumer_state(timeout=CONSUMER_CHECK_TIMEOUT)
                    except broker.NotThere as exc:
                        raise _ConsumerGone() from exc
                    except broker.BrokerError:
                        pass  # NATS away: the fetch says so
                    await self._fetching()
                continue
            await self._fetching()
            async with self._dispatching:
                if self._stopping.is_set():  # fetched while stopping: hand them straight back
                    for msg in messages:
                        with contextlib.suppress(broker.BrokerError):
                            await msg.nak()
                    return
                await self._dispatch(messages)
            if time.monotonic() - self._swept_at > SWEEP_EVERY:
                self._swept_at = time.monotonic()
                self._fair.sweep(self._clock.now())

    async def stop(self, grace: float) -> int:
        """Stops fetching, gives the claimed posts still waiting for a slot back (due again now),
        and lets attempts in flight finish for up to `grace` seconds; returns how many were
        abandoned (not acked: JetStream redelivers them, and the rescuer reconciles)."""
        self._stopping.set()
        self._changed.set()
        async with self._dispatching:  # a batch being claimed now is queued first, then given back
            waiting = self._fair.drain()
        await asyncio.gather(*(self._finish(w, self._attempts.give_back(w.post, w.lease, "the publisher stopped before "
                                                                          "its turn came; due again now"))
                               for w in waiting))
        self._held.difference_update(waiting)
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)
        abandoned = [t for t in self._tasks if not t.done()]
        for task in abandoned:
            task.cancel()
        return len(abandoned)

    async def _dispatch(self, messages: list[broker.Delivery]) -> None:
        decoded: list[tuple[broker.Delivery, PublishMessage]] = []
        for msg in messages:
            try:
                body = PublishMessage.decode(msg.data)
            except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
                body = None
            if body is None or not self._signer.valid(body):
                # Not a dispatcher's: anyone who can publish on the subject could have made it.
                self._stats.forged += 1
                self._forged_log.note(subject=msg.subject)
                with contextlib.suppress(broker.BrokerError):
                    await msg.term()
                continue
            decoded.append((msg, body))
        if not decoded:
            return
        now = self._clock.now()
        plan = self._fair.plan([(m.tenant_id, m.account_id) for _, m in decoded], now)
        if plan.defer and not await self._defer([(decoded[i], until) for i, until in plan.defer]):
            for i in plan.claim:  # the whole batch comes back later
                with contextlib.suppress(broker.BrokerError):
                    await decoded[i][0].nak(delay=CLAIM_RETRY_DELAY)
            return
        decoded = [decoded[i] for i in plan.claim]
        try:
            claimed = await self._store.claim(
                [m.key for _, m in decoded], owner=self._owner, now=now, lease=self._lease,
            )
        except PostschedError as exc:
            log.warning("claim failed; messages come back later", error=str(exc), messages=len(decoded))
            for msg, _ in decoded:
                await msg.nak(delay=CLAIM_RETRY_DELAY)
            return
        by_key = {c.message: c for c in claimed}
        unclaimed = [m.key for _, m in decoded if m.key not in by_key]
        early = await self._not_yet_due(unclaimed, now)
        for msg, body in decoded:
            post = by_key.pop(body.key, None)
            if post is None:
                due = early.get(body.key)
                if due is not None:  # signed but early (a clock far off): back when it is due
                    log.warning("hand-over message before its post is due; it comes back then",
                                post_id=str(body.post_id), due=due.isoformat())
                    await msg.nak(delay=max(1.0, (due - now).total_seconds()))
                    continue
                self._stats.dropped += 1
                await msg.ack()
                continue
            work = Work(msg, post, self._attempts.hold(post))
            self._held.add(work)
            self._fair.enqueue(post.tenant_id, post.account_id, work)
        self._start_what_may_run()

    async def _not_yet_due(self, unclaimed: list[MessageKey], now: datetime) -> dict[MessageKey, datetime]:
        try:
            return await self._store.not_yet_due(unclaimed, now=now)
        except PostschedError:
            return {}  # dropped as stale: a post left QUEUED is handed over again by the dispatcher's checks

    async def _defer(self, deferred: list[tuple[tuple[broker.Delivery, PublishMessage], datetime]]) -> bool:
        """Gives back the posts of messages this publisher does not take on now, then acks them
        (a deferred post is handed over again under a new generation). False if the database
        would not take it (the whole batch comes back later)."""
        try:
            await self._store.defer([(m.key, until) for (_, m), until in deferred],
                                    owner=self._owner, now=self._clock.now())
        except PostschedError as exc:
            log.warning("deferral failed; messages come back later", error=str(exc), messages=len(deferred))
            for (msg, _), _ in deferred:
                await msg.nak(delay=CLAIM_RETRY_DELAY)
            return False
        self._stats.deferred += len(deferred)
        for (msg, _), _ in deferred:
            with contextlib.suppress(broker.BrokerError):
                await msg.ack()
        return True

    def _start_what_may_run(self) -> None:
        while not self._stopping.is_set():
            work = self._fair.next()
            if work is None:
                break
            work.started = time.monotonic()
            task = asyncio.create_task(self._process(work))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self._stats.in_flight = self._fair.running

    async def _process(self, work: Work) -> None:
        post = work.post
        seconds = 0.0
        try:
            seconds = await self._attempt(work)
        except Exception:
            # A bug in an attempt must not leave its message unanswered until the ack wait, nor
            # its error unread: logged with the post, and the message put back a while. A post
            # claimed meanwhile is PUBLISHING under a lease: the claim drops the redelivery and the
            # rescuer reconciles it when the lease ends.
            log.exception("attempt crashed; the message is put back", post_id=str(post.id))
            self._attempts.drop(work.lease)
            with contextlib.suppress(Exception):
                await work.msg.nak(delay=CRASHED_ATTEMPT_DELAY)
        finally:
            self._held.discard(work)
            self._fair.done(post.tenant_id, post.account_id, seconds or time.monotonic() - work.started)
            self._changed.set()
            self._start_what_may_run()

    async def _attempt(self, work: Work) -> float:
        """Runs the attempt and answers its message; returns how long the attempt itself took
        (the platform's pace, without the recording)."""
        post, msg = work.post, work.msg
        started = work.started
        delivery = msg.delivered
        # A CONSUMER span in the post's own trace: the child of the dispatcher's `send` span (from
        # the headers) and linked to it, as OpenTelemetry's messaging conventions say.
        headers = msg.headers
        with telemetry.post_span(TRACER, f"process {msg.subject}", headers.get("traceparent") or post.trace_context,
                                 kind=SpanKind.CONSUMER,
                                 link_parent=True, **{
            **telemetry.messaging_attributes("process", msg.subject, headers.get("Nats-Msg-Id", "")),
            "messaging.consumer.group.name": CONSUMER,
            "postsched.post_id": str(post.id), "postsched.account_id": str(post.account_id),
            "postsched.platform": post.platform, "postsched.attempt": post.attempts, "postsched.delivery": delivery,
        }) as span, structlog.contextvars.bound_contextvars(post_id=str(post.id)):
            decision = await self._attempts.run(post, delivery, work.lease)
            ran = time.monotonic() - started
            outcome = decision.outcome.status if decision.outcome else "UNKNOWN"
            span.set_attribute("postsched.outcome", outcome)
            if decision.outcome and decision.outcome.last_error:
                span.set_attribute("postsched.error", decision.outcome.last_error)
                if outcome in ("FAILED", "QUEUED"):
                    span.set_status(Status(StatusCode.ERROR, decision.outcome.last_error))
            await self._finish(work, decision)
        instruments.publish_duration.record(time.monotonic() - started, {"platform": post.platform, "outcome": outcome})
        if outcome == "PUBLISHED":
            instruments.posts_published.add(1, {"platform": post.platform})
        elif outcome == "FAILED":
            instruments.posts_failed.add(1, {"platform": post.platform})
        return ran

    async def _finish(self, work: Work, decision: Decision) -> None:
        msg, post = work.msg, work.post
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
                await alerts.post_failed(self._broker, post, decision.outcome.last_error or "")
            else:
                _log_outcome(post, decision)
        try:
            if decision.reply == Reply.NAK:
                await msg.nak(delay=decision.delay)
            elif decision.reply == Reply.TERM:
                await msg.term()
            else:
                await msg.ack()
        except broker.BrokerError as exc:
            log.warning("could not answer JetStream; the message will come back and be dropped",
                        post_id=str(post.id), error=str(exc))

    async def keep_alive_once(self) -> int:
        """Tells JetStream that the messages being worked on are in progress, so a long attempt
        (an Instagram video, a slow platform) is not redelivered while it runs; returns how many."""
        told = 0
        for work in list(self._held):
            with contextlib.suppress(broker.BrokerError):
                await work.msg.in_progress()
                told += 1
        return told


OUTCOME_LINES = {"PUBLISHED": "post published", "QUEUED": "post to be retried", "SCHEDULED": "post waiting"}


def _log_outcome(post: ClaimedPost, decision: Decision) -> None:
    """One info line per recorded outcome, with the post's trace id (a failure has its error-level
    line from alerts.post_failed): what `postsched logs POST_ID` shows of the publisher."""
    outcome = decision.outcome
    assert outcome is not None
    log.info(OUTCOME_LINES.get(outcome.status, f"post {outcome.status.lower()}"), post_id=str(post.id),
             account_id=str(post.account_id), tenant_id=post.tenant_id, platform=post.platform, attempt=post.attempts,
             trace_id=trace_id_of(post.trace_context), transition=outcome.event, platform_post_id=outcome.platform_post_id,
             error=outcome.last_error, until=outcome.scheduled_at.isoformat() if outcome.scheduled_at else None,
             retry_in=decision.delay if decision.reply == Reply.NAK else None)
