"""The publishing rescuer: reconciles attempts whose publisher went away (killed, hung).

A post left PUBLISHING past its lease (POSTSCHED_PUBLISH_LEASE, renewed by a live attempt) is
taken over (one rescuer at a time, SKIP LOCKED) under a new attempt epoch, which fences the old
attempt, and looked up on the platform: published -> PUBLISHED; surely not published -> due
again; cannot tell -> FAILED outcome_unknown. Never a blind second publish. It checks a few times
per lease, so a killed publisher's posts are settled within about a minute.
"""

from __future__ import annotations

import asyncio

import structlog

from postsched import broker
from postsched.clock import Clock
from postsched.store.posts.publishing import ClaimedPost, PublishingStore
from postsched.tracecontext import trace_id_of
from services.publisher import alerts
from services.publisher.attempt import Attempts
from services.publisher.recorder import OutcomeRecorder

log = structlog.get_logger("postsched.publisher")
ROUND_LIMIT = 200


class PublishingRescuer:
    def __init__(
        self,
        nats: broker.Broker,
        store: PublishingStore,
        attempts: Attempts,
        recorder: OutcomeRecorder,
        clock: Clock,
        *,
        owner: str,
        lease: float,
    ) -> None:
        self._broker = nats
        self._store = store
        self._attempts = attempts
        self._recorder = recorder
        self._clock = clock
        self._owner = owner
        # A take-over holds the post for two leases: enough for a lookup that pages through a busy
        # page; a rescuer that dies meanwhile leaves it to the next one. Lookups are reads, and the
        # epoch fences the outcome, so two rescuers of one post cannot both record.
        self._lease = 2 * lease
        self.period = max(0.2, lease / 3)

    async def run_once(self) -> int:
        """Reconciles what it can take over now, up to ROUND_LIMIT attempts (a killed publisher
        leaves up to its concurrency behind); returns how many it settled."""
        stuck = await self._store.take_over_stuck(owner=self._owner, now=self._clock.now(), lease=self._lease,
                                                  limit=ROUND_LIMIT)
        settled = await asyncio.gather(*(self._settle(post) for post in stuck))
        return sum(settled)

    async def _settle(self, post: ClaimedPost) -> bool:
        try:
            async with asyncio.timeout(self._lease * 0.75):
                decision = await self._attempts.reconcile(post)
        except TimeoutError:
            log.warning("reconciliation took too long; the next rescue round tries again", post_id=str(post.id))
            return False
        if decision is None or decision.outcome is None:
            return False
        if not await self._recorder.record(decision.outcome):
            return False
        log.warning("reconciled an abandoned attempt", post_id=str(post.id), outcome=decision.outcome.status,
                    account_id=str(post.account_id), attempt=post.attempts, trace_id=trace_id_of(post.trace_context))
        if decision.outcome.status == "FAILED":
            await alerts.post_failed(self._broker, post, decision.outcome.last_error or "")
        return True
