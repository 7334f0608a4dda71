"""One publish attempt, from a claimed post to its recorded outcome.

Never twice:
- every attempt after the first of a post (a retry after an error, a redelivery, a retry after a
  rate limit, an operator's RetryPost) asks the platform first whether an earlier attempt took
  effect, over every window in which one of them may have reached it, whatever the earlier error
  said; only a platform whose calls are safe to repeat (a webhook with its Idempotency-Key) skips it;
- after an answer that may hide a success (a timeout after sending, Meta's code 1/99 or
  Instagram's 4/2207051) the same attempt looks at once;
- where a lookup by text finds more than one candidate, or one that another of our posts with the
  same text may own, or cannot read the whole window, the post fails with reason `outcome_unknown`
  for a person to check: never a blind second publish, and never "not published" on a guess;
- the attempt holds a short lease, renewed while it works, and may call the platform only while it
  holds it; a rescuer that takes it over fences it (see leases.py).
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import structlog

from postsched.clock import Clock
from postsched.credentials import CredentialBox, CredentialsUnreadable
from postsched.lifecycle import PostStatus
from postsched.store import leases
from postsched.store.posts.publishing import ClaimedPost, Outcome, PublishingStore
from services.publisher.account_slots import AccountSlots
from services.publisher.leases import AttemptLease, LeaseKeeper
from services.publisher.platforms.outcomes import (
    Adapter,
    Fenced,
    OutcomeUnknown,
    Permanent,
    PlatformError,
    Post,
    RateLimited,
    Target,
    Transient,
    meter,
)
from services.publisher.retry import RetryPolicy
from services.publisher.stats import AccountRate, PublisherStats

log = structlog.get_logger("postsched.publisher")
SECOND_LOOK_DELAY = 3.0
# How long reading a publication's permalink may hold up its recording.
PERMALINK_TIMEOUT = 5.0
# Other posts of ours claimed this long before the earliest attempt can be confused with this one.
SIBLING_LOOKBACK = timedelta(minutes=15)


class Reply(enum.StrEnum):
    """How the attempt's JetStream message is answered."""

    ACK = "ack"    # done with it (recorded, or left to the rescuer)
    NAK = "nak"    # deliver it again after `delay`
    TERM = "term"  # never deliver it again


@dataclass(frozen=True)
class Decision:
    """What to record, and how to answer JetStream: ack, nak (with delay) or term.

    outcome None: the outcome is not known yet; the post stays PUBLISHING and the publishing
    rescuer reconciles it once its lease expires.
    """

    outcome: Outcome | None
    reply: Reply
    delay: float = 0.0


def claim_times(claimed: ClaimedPost) -> tuple[datetime, ...]:
    """When each attempt so far was claimed, this one included (kept in platform_state)."""
    times = []
    for value in (claimed.platform_state or {}).get("claims", []):
        try:
            times.append(datetime.fromisoformat(str(value)))
        except ValueError:
            continue
    return tuple(sorted(times)) or (claimed.claimed_at,)


class AttemptProgress:
    """What an adapter may do mid-attempt: check its lease, save what it learned (fenced)."""

    def __init__(self, store: PublishingStore, lease: AttemptLease) -> None:
        self._store = store
        self._lease = lease

    def check(self) -> None:
        self._lease.check()

    async def save(self, state: dict[str, Any]) -> None:
        self._lease.check()
        if not await self._store.checkpoint(self._lease.post_id, self._lease.epoch, state):
            self._lease.fence("the attempt was taken over before it could save its progress")
            raise Fenced("the attempt was taken over")


class Attempts:
    def __init__(
        self,
        adapters: dict[str, Adapter],
        store: PublishingStore,
        box: CredentialBox,
        clock: Clock,
        policy: RetryPolicy,
        stats: PublisherStats,
        leases: LeaseKeeper,
        lookups: AccountSlots,
        *,
        max_deliveries: int,
        handover_timeout: float,
        deadline: float,
        max_platform_wait: float,
    ) -> None:
        self._max_platform_wait = max_platform_wait
        self._adapters = adapters
        self._store = store
        self._box = box
        self._clock = clock
        self._policy = policy
        self._stats = stats
        self._leases = leases
        self._lookups = lookups  # reconciliation's lookups, per account (attempts: fair_share.py)
        self._max_deliveries = max_deliveries
        self._handover_timeout = handover_timeout
        self._deadline = deadline

    def _post_and_target(self, claimed: ClaimedPost) -> tuple[Post, Target]:
        post = Post(
            id=claimed.id, text=claimed.text, media_urls=list(claimed.media_urls), link=claimed.link,
            scheduled_at=claimed.scheduled_at, claimed_at=claimed.claimed_at, platform_state=claimed.platform_state,
            claims=claim_times(claimed), kind=claimed.kind, reel=claimed.reel or {},
        )
        return post, self._target(claimed)

    def _target(self, claimed: ClaimedPost) -> Target:
        return Target(account_id=claimed.account_id, platform=claimed.platform, external_id=claimed.external_id,
                      credentials=self._box.open(claimed.credentials))

    def hold(self, claimed: ClaimedPost) -> AttemptLease:
        """The claimed post's lease, renewed from now on, also while it waits for a slot."""
        return self._leases.hold(claimed.attempt)

    async def run(self, claimed: ClaimedPost, delivery: int, lease: AttemptLease) -> Decision:
        """Publishes a claimed post whose turn has come; `delivery` is JetStream's delivery count of
        its message, `lease` what `hold` gave at the claim (released here).

        Gives up at the hard deadline (counted from now, not from the claim): an attempt cancelled
        there, or fenced, leaves its post to the rescuer (which asks the platform)."""
        try:
            lease.working()
            try:
                async with asyncio.timeout(self._deadline):
                    decision = await self._run(claimed, delivery, AttemptProgress(self._store, lease))
            except TimeoutError:
                log.warning("publish attempt hit its deadline; the rescuer will reconcile it",
                            post_id=str(claimed.id), deadline_s=self._deadline)
                return Decision(None, reply=Reply.ACK)
            except Fenced as exc:
                log.warning("publish attempt fenced: it stops without acting", post_id=str(claimed.id),
                            reason=str(exc))
                return Decision(None, reply=Reply.ACK)
            return await self._with_permalink(claimed, decision)
        finally:
            self._leases.release(lease)

    def drop(self, lease: AttemptLease) -> None:
        """Stops renewing the lease of an attempt that crashed: it expires, and the rescuer reconciles."""
        self._leases.release(lease)

    def give_back(self, claimed: ClaimedPost, lease: AttemptLease, reason: str) -> Decision:
        """For a claimed post that never ran (the publisher is stopping): due again now, the attempt
        given back."""
        self._leases.release(lease)
        return Decision(
            Outcome(claimed.id, claimed.epoch, PostStatus.SCHEDULED, "released", message=reason, attempts_delta=-1),
            reply=Reply.ACK,
        )

    async def _with_permalink(self, claimed: ClaimedPost, decision: Decision) -> Decision:
        """A publication's decision with the post's permalink when the platform gives it. The
        lookup is bounded and may fail: the publication is recorded either way, never repeated."""
        outcome = decision.outcome
        if outcome is None or outcome.status != "PUBLISHED" or not outcome.platform_post_id:
            return decision
        try:
            target = self._target(claimed)  # the Post (claim times parsed) is not needed here
            async with asyncio.timeout(PERMALINK_TIMEOUT):
                link = await self._adapters[claimed.platform].permalink(outcome.platform_post_id, target)
        except (PlatformError, CredentialsUnreadable, TimeoutError) as exc:
            log.warning("published, but its permalink could not be read", post_id=str(claimed.id),
                        error=getattr(exc, "message", None) or str(exc) or type(exc).__name__)
            return decision
        except Exception:
            log.exception("published, but reading its permalink crashed", post_id=str(claimed.id))
            return decision
        return replace(decision, outcome=replace(outcome, permalink=link or None))

    async def _run(self, claimed: ClaimedPost, delivery: int, progress: AttemptProgress) -> Decision:
        now = self._clock.now()
        account = self._account(claimed)  # known to GetPublisherStatus from its first attempt on
        if claimed.needs_credentials:
            return self._snooze(claimed, None, "the account needs new credentials; waiting for them")
        # As claimed, or as learned by another attempt while this one waited for the account's slot.
        throttled = max((t for t in (claimed.throttled_until, account.throttled_until) if t), default=None)
        if throttled and throttled > now:
            return self._snooze(claimed, throttled, f"the platform asked this account to wait until {throttled:%Y-%m-%dT%H:%M:%SZ}")
        try:
            post, target = self._post_and_target(claimed)
        except CredentialsUnreadable as exc:
            return self._fail(claimed, str(exc), reply=Reply.TERM)
        adapter = self._adapters[claimed.platform]
        try:
            if post.earlier_attempts and not adapter.repeatable:
                # Look before any second attempt, whatever the earlier one was told.
                found = await self._find(adapter, post, target, claimed)
                if found:
                    self._stats.reconciled += 1
                    return self._published(claimed, found, "published_reconciled")
            platform_id = await adapter.publish(post, target, progress)
        except RateLimited as exc:
            wait = min(exc.retry_after, self._max_platform_wait)
            now = self._clock.now()  # the wait counts from the answer, not from the attempt's start
            until = now + timedelta(seconds=wait)
            capped = f", capped from {exc.retry_after:.0f} s (POSTSCHED_MAX_PLATFORM_WAIT)" if wait < exc.retry_after else ""
            reason = f"{exc.message}; waiting {wait:.0f} s{capped}, until {until:%Y-%m-%dT%H:%M:%SZ}"
            if exc.whole_account:  # a publishing quota holds back this post only (the others learn it themselves)
                # In memory first: the account's attempts waiting for a slot must see it before the
                # statement below gives them the chance to run.
                account.throttled_until = max(until, account.throttled_until or until)
                account.reason = reason
                await self._store.throttle_account(claimed.account_id, until, reason, now=now)
            self._stats.rate_limited += 1
            return self._snooze(claimed, until, reason)
        except Permanent as exc:
            if exc.needs_credentials:
                await self._store.mark_needs_credentials(claimed.account_id, exc.message, now=now)
            return self._fail(claimed, exc.message, reply=Reply.TERM)
        except OutcomeUnknown as exc:
            return self._fail(claimed, f"outcome_unknown: {exc.message}", reply=Reply.TERM)
        except Transient as exc:
            if exc.maybe_published:
                decision = await self._after_ambiguous_answer(adapter, post, target, claimed, exc)
                if decision is not None:
                    return decision
            if max(delivery, claimed.attempts) >= self._max_deliveries:
                return self._fail(claimed, f"{exc.message} (attempt {claimed.attempts} of {self._max_deliveries})",
                                  reply=Reply.TERM)
            hint = None if exc.retry_after is None else min(exc.retry_after, self._max_platform_wait)
            delay = self._policy.delay(delivery, hint)
            self._stats.retried += 1
            lease = leases.retry_ends(now, delay, self._handover_timeout)
            return Decision(
                Outcome(claimed.id, claimed.epoch, PostStatus.QUEUED, "attempt_failed",
                        message=f"{exc.message}; retry in {delay:.1f}s", last_error=exc.message, lease_expires_at=lease),
                reply=Reply.NAK, delay=delay,
            )
        except Fenced:
            raise
        except Exception:
            # A bug of ours, possibly after the platform accepted the post: leave it to reconciliation.
            log.exception("publish attempt crashed; the rescuer will reconcile it", post_id=str(claimed.id))
            return Decision(None, reply=Reply.ACK)
        return self._published(claimed, platform_id, "published")

    async def _find(self, adapter: Adapter, post: Post, target: Target, claimed: ClaimedPost) -> str | None:
        """This post's platform id if one of its attempts went out, None if none did; raises
        OutcomeUnknown when the answer is not certain."""
        candidates = await adapter.find(post, target)
        if adapter.identifies_by_text(post) and candidates:
            others = await self._store.same_text_posts(
                claimed.account_id, claimed.text, other_than=claimed.id, since=post.claims[0] - SIBLING_LOOKBACK
            )
            known = {pid for status, pid in others if status == "PUBLISHED" and pid}
            unsettled = sum(1 for status, pid in others if not (status == "PUBLISHED" and pid))
            candidates = [c for c in candidates if c not in known]
            if candidates and unsettled:
                raise OutcomeUnknown(
                    f"{unsettled} other post(s) of this account with the same text were in flight in the same "
                    "window; the platform's posts cannot be told apart"
                )
        if len(candidates) > 1:
            raise OutcomeUnknown(f"{len(candidates)} posts on the platform match this one; cannot tell which is ours")
        return candidates[0] if candidates else None

    async def _after_ambiguous_answer(
        self, adapter: Adapter, post: Post, target: Target, claimed: ClaimedPost, exc: Transient
    ) -> Decision | None:
        """After an answer that may hide a success: published, failed outcome_unknown, or None (not
        published: an ordinary retry is safe, and it will look again first)."""
        try:
            found = await self._find(adapter, post, target, claimed)
            if not found:  # a post accepted a moment ago may take a little while to be listed
                await asyncio.sleep(SECOND_LOOK_DELAY)
                found = await self._find(adapter, post, target, claimed)
        except OutcomeUnknown as unknown:
            return self._fail(claimed, f"outcome_unknown: {exc.message}; {unknown.message}", reply=Reply.TERM)
        except PlatformError as lookup:
            log.warning("cannot check the platform now; the rescuer will", post_id=str(claimed.id), error=lookup.message)
            return Decision(None, reply=Reply.ACK)
        if found:
            self._stats.reconciled += 1
            return self._published(claimed, found, "published_reconciled")
        return None

    async def reconcile(self, claimed: ClaimedPost) -> Decision | None:
        """For an attempt whose publisher went away: find out, and never publish blindly again."""
        async with self._lookups.hold(claimed.account_id):
            decision = await self._reconcile(claimed)
            return None if decision is None else await self._with_permalink(claimed, decision)

    async def _reconcile(self, claimed: ClaimedPost) -> Decision | None:
        try:
            post, target = self._post_and_target(claimed)
            found = await self._find(self._adapters[claimed.platform], post, target, claimed)
        except CredentialsUnreadable as exc:
            return self._fail(claimed, f"outcome_unknown: {exc}", reply=Reply.ACK)
        except OutcomeUnknown as exc:
            return self._fail(claimed, f"outcome_unknown: the publisher stopped mid-attempt; {exc.message}", reply=Reply.ACK)
        except PlatformError as exc:
            log.warning("reconciliation postponed", post_id=str(claimed.id), error=exc.message)
            return None
        self._stats.reconciled += 1
        if found:
            return self._published(claimed, found, "published_reconciled")
        if claimed.attempts >= self._max_deliveries:
            return self._fail(claimed, f"the publisher stopped during attempt {claimed.attempts}; giving up", reply=Reply.ACK)
        return Decision(
            Outcome(claimed.id, claimed.epoch, PostStatus.SCHEDULED, "reconciled_not_published",
                    message="the platform does not have it: due again now",
                    last_error="publisher stopped mid-attempt", scheduled_at=self._clock.now()),
            reply=Reply.ACK,
        )

    def _published(self, claimed: ClaimedPost, platform_id: str, event: str) -> Decision:
        self._stats.published += 1
        return Decision(
            Outcome(claimed.id, claimed.epoch, PostStatus.PUBLISHED, event, message=platform_id, platform_post_id=platform_id),
            reply=Reply.ACK,
        )

    def _fail(self, claimed: ClaimedPost, reason: str, *, reply: Reply) -> Decision:
        self._stats.failed += 1
        return Decision(
            Outcome(claimed.id, claimed.epoch, PostStatus.FAILED, "failed", message=reason, last_error=reason), reply=reply
        )

    def _snooze(self, claimed: ClaimedPost, until: datetime | None, reason: str) -> Decision:
        """Back to SCHEDULED (at `until`, or unchanged), the attempt given back: not the post's fault."""
        return Decision(
            Outcome(claimed.id, claimed.epoch, PostStatus.SCHEDULED, "rate_limited", message=reason, last_error=reason,
                    scheduled_at=until, attempts_delta=-1),
            reply=Reply.ACK,
        )

    def _account(self, claimed: ClaimedPost) -> AccountRate:
        return self._stats.accounts.setdefault(
            meter(claimed.platform, claimed.external_id, claimed.account_id),
            AccountRate(claimed.platform, claimed.external_id, claimed.account_id))
