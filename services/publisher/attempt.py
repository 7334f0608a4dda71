"""One publish attempt, from a claimed post to its recorded outcome.

Never twice: before any second attempt after an answer that may hide a success (a timeout after
sending, Meta's code 1/99 or Instagram's 4/2207051), the adapter looks the post up on the platform.
Where the platform cannot tell, the post fails with reason `outcome_unknown` for a person to check.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from postsched.clock import Clock
from postsched.credentials import CredentialBox, CredentialsUnreadable
from postsched.store.publishing import ClaimedPost, Outcome, PublishingStore
from services.publisher.platforms.outcomes import (
    Adapter,
    OutcomeUnknown,
    Permanent,
    PlatformError,
    Post,
    RateLimited,
    Target,
    Transient,
)
from services.publisher.retry import RetryPolicy
from services.publisher.stats import AccountRate, PublisherStats

log = structlog.get_logger("postsched.publisher")
SECOND_LOOK_DELAY = 3.0


@dataclass(frozen=True)
class Decision:
    """What to record, and how to answer JetStream: ack, nak (with delay) or term.

    outcome None: the outcome is not known yet; the post stays PUBLISHING and the publishing
    rescuer reconciles it once its lease expires.
    """

    outcome: Outcome | None
    reply: str
    delay: float = 0.0


class Attempts:
    def __init__(
        self,
        adapters: dict[str, Adapter],
        store: PublishingStore,
        box: CredentialBox,
        clock: Clock,
        policy: RetryPolicy,
        stats: PublisherStats,
        *,
        max_deliveries: int,
        handover_timeout: float,
    ) -> None:
        self._adapters = adapters
        self._store = store
        self._box = box
        self._clock = clock
        self._policy = policy
        self._stats = stats
        self._max_deliveries = max_deliveries
        self._handover_timeout = handover_timeout

    def _post_and_target(self, claimed: ClaimedPost) -> tuple[Post, Target]:
        post = Post(
            id=claimed.id, text=claimed.text, media_urls=list(claimed.media_urls), link=claimed.link,
            scheduled_at=claimed.scheduled_at, claimed_at=claimed.claimed_at, platform_state=claimed.platform_state,
        )
        target = Target(account_id=claimed.account_id, platform=claimed.platform, external_id=claimed.external_id,
                        credentials=self._box.open(claimed.credentials))
        return post, target

    async def run(self, claimed: ClaimedPost, delivery: int) -> Decision:
        """Publishes a freshly claimed post; `delivery` is JetStream's delivery count of its message."""
        now = self._clock.now()
        self._account(claimed)  # known to GetPublisherStatus from its first attempt on
        if claimed.needs_credentials:
            return self._snooze(claimed, None, "the account needs new credentials; waiting for them")
        if claimed.throttled_until and claimed.throttled_until > now:
            return self._snooze(claimed, claimed.throttled_until, "the platform asked this account to wait")
        try:
            post, target = self._post_and_target(claimed)
        except CredentialsUnreadable as exc:
            return self._fail(claimed, str(exc), reply="term")
        adapter = self._adapters[claimed.platform]

        async def checkpoint(state: dict) -> None:
            await self._store.checkpoint(claimed.id, claimed.generation, state)

        try:
            platform_id = await adapter.publish(post, target, checkpoint)
        except RateLimited as exc:
            until = now + timedelta(seconds=exc.retry_after)
            await self._store.throttle_account(claimed.account_id, until, exc.message, now=now)
            self._account(claimed).throttled_until, self._account(claimed).reason = until, exc.message
            self._stats.rate_limited += 1
            return self._snooze(claimed, until, exc.message)
        except Permanent as exc:
            if exc.needs_credentials:
                await self._store.mark_needs_credentials(claimed.account_id, exc.message, now=now)
            return self._fail(claimed, exc.message, reply="term")
        except OutcomeUnknown as exc:
            return self._fail(claimed, f"outcome_unknown: {exc.message}", reply="term")
        except Transient as exc:
            if exc.maybe_published:
                decision = await self._after_ambiguous_answer(adapter, post, target, claimed, exc)
                if decision is not None:
                    return decision
            if max(delivery, claimed.attempts) >= self._max_deliveries:
                return self._fail(claimed, f"{exc.message} (attempt {claimed.attempts} of {self._max_deliveries})",
                                  reply="term")
            delay = self._policy.delay(delivery, exc.retry_after)
            self._stats.retried += 1
            lease = now + timedelta(seconds=delay + self._handover_timeout)
            return Decision(
                Outcome(claimed.id, claimed.generation, "QUEUED", "attempt_failed",
                        message=f"{exc.message}; retry in {delay:.1f}s", last_error=exc.message, lease_expires_at=lease),
                reply="nak", delay=delay,
            )
        except Exception:
            # A bug of ours, possibly after the platform accepted the post: leave it to reconciliation.
            log.exception("publish attempt crashed; the rescuer will reconcile it", post_id=str(claimed.id))
            return Decision(None, reply="ack")
        return self._published(claimed, platform_id, "published")

    async def _after_ambiguous_answer(
        self, adapter: Adapter, post: Post, target: Target, claimed: ClaimedPost, exc: Transient
    ) -> Decision | None:
        """After an answer that may hide a success: published, failed outcome_unknown, or None (not
        published: an ordinary retry is safe)."""
        try:
            found = await adapter.find(post, target)
            if not found:  # a post accepted a moment ago may take a little while to be listed
                await asyncio.sleep(SECOND_LOOK_DELAY)
                found = await adapter.find(post, target)
        except OutcomeUnknown as unknown:
            return self._fail(claimed, f"outcome_unknown: {exc.message}; {unknown.message}", reply="term")
        except PlatformError as lookup:
            log.warning("cannot check the platform now; the rescuer will", post_id=str(claimed.id), error=lookup.message)
            return Decision(None, reply="ack")
        if found:
            self._stats.reconciled += 1
            return self._published(claimed, found, "published_reconciled")
        return None

    async def reconcile(self, claimed: ClaimedPost) -> Decision | None:
        """For an attempt whose publisher went away: find out, and never publish blindly again."""
        try:
            post, target = self._post_and_target(claimed)
            found = await self._adapters[claimed.platform].find(post, target)
        except CredentialsUnreadable as exc:
            return self._fail(claimed, f"outcome_unknown: {exc}", reply="ack")
        except OutcomeUnknown as exc:
            return self._fail(claimed, f"outcome_unknown: the publisher stopped mid-attempt; {exc.message}", reply="ack")
        except PlatformError as exc:
            log.warning("reconciliation postponed", post_id=str(claimed.id), error=exc.message)
            return None
        self._stats.reconciled += 1
        if found:
            return self._published(claimed, found, "published_reconciled")
        if claimed.attempts >= self._max_deliveries:
            return self._fail(claimed, f"the publisher stopped during attempt {claimed.attempts}; giving up", reply="ack")
        return Decision(
            Outcome(claimed.id, claimed.generation, "SCHEDULED", "reconciled_not_published",
                    message="the platform does not have it: due again now",
                    last_error="publisher stopped mid-attempt", scheduled_at=self._clock.now()),
            reply="ack",
        )

    def _published(self, claimed: ClaimedPost, platform_id: str, event: str) -> Decision:
        self._stats.published += 1
        return Decision(
            Outcome(claimed.id, claimed.generation, "PUBLISHED", event, message=platform_id, platform_post_id=platform_id),
            reply="ack",
        )

    def _fail(self, claimed: ClaimedPost, reason: str, *, reply: str) -> Decision:
        self._stats.failed += 1
        return Decision(
            Outcome(claimed.id, claimed.generation, "FAILED", "failed", message=reason, last_error=reason), reply=reply
        )

    def _snooze(self, claimed: ClaimedPost, until: datetime | None, reason: str) -> Decision:
        """Back to SCHEDULED (at `until`, or unchanged), the attempt given back: not the post's fault."""
        return Decision(
            Outcome(claimed.id, claimed.generation, "SCHEDULED", "rate_limited", message=reason, last_error=reason,
                    scheduled_at=until, attempts_delta=-1),
            reply="ack",
        )

    def _account(self, claimed: ClaimedPost) -> AccountRate:
        return self._stats.accounts.setdefault(claimed.external_id, AccountRate(claimed.platform, claimed.external_id))
