"""The publishing rescuer: reconciles attempts whose publisher went away (killed, hung).

A post left PUBLISHING past its lease is taken over (one rescuer at a time, SKIP LOCKED) and looked
up on the platform: published -> PUBLISHED; surely not published -> due again; cannot tell ->
FAILED outcome_unknown. Never a blind second publish.
"""

from __future__ import annotations

import asyncio

import structlog
from nats.aio.client import Client as NATS

from postsched.clock import Clock
from postsched.errors import PostschedError
from postsched.store.publishing import ClaimedPost, PublishingStore
from services.publisher import alerts
from services.publisher.attempt import Attempts
from services.publisher.recorder import OutcomeRecorder

log = structlog.get_logger("postsched.publisher")


class PublishingRescuer:
    def __init__(
        self,
        nc: NATS,
        store: PublishingStore,
        attempts: Attempts,
        recorder: OutcomeRecorder,
        clock: Clock,
        *,
        owner: str,
        publish_timeout: float,
    ) -> None:
        self._nc = nc
        self._store = store
        self._attempts = attempts
        self._recorder = recorder
        self._clock = clock
        self._owner = owner
        self._timeout = publish_timeout
        self.period = min(60.0, max(0.5, publish_timeout / 4))

    async def run_once(self) -> int:
        """Reconciles what it can take over now; returns how many attempts it settled."""
        stuck = await self._store.take_over_stuck(owner=self._owner, now=self._clock.now(), timeout=self._timeout)
        settled = await asyncio.gather(*(self._settle(post) for post in stuck))
        return sum(settled)

    async def _settle(self, post: ClaimedPost) -> bool:
        decision = await self._attempts.reconcile(post)
        if decision is None or decision.outcome is None:
            return False
        if not await self._recorder.record(decision.outcome):
            return False
        log.warning("reconciled an abandoned attempt", post_id=str(post.id), outcome=decision.outcome.status)
        if decision.outcome.status == "FAILED":
            await alerts.post_failed(self._nc, post, decision.outcome.last_error or "")
        return True

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.period)
            try:
                await self.run_once()
            except PostschedError as exc:
                log.warning("publishing rescue failed", error=str(exc))
            except Exception:
                log.exception("publishing rescue crashed")
