"""The first-comments duty: a published post's first comment, right after it, exactly once.

A step of its own, after the post is PUBLISHED (postsched/store/posts/comments.py): its own
attempts (POSTSCHED_MAX_DELIVERIES), its own backoff, and nothing in it can publish the post
again. Never twice: every try after the first, and every answer that may hide a success, reads
the post's comments first (platforms/comments.py). A try may call the platform only while its
claim's lease has time left for the call's whole timeout, so a later claim never races it.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta

import structlog

from postsched.clock import Clock
from postsched.credentials import CredentialBox, CredentialsUnreadable
from postsched.store.posts.comments import ClaimedComment, CommentStore
from postsched.store.posts.publishing import PublishingStore
from services.publisher.platforms.comments import GraphComments
from services.publisher.platforms.outcomes import (
    OutcomeUnknown,
    Permanent,
    PlatformError,
    RateLimited,
    Target,
    Transient,
)
from services.publisher.retry import RetryPolicy

log = structlog.get_logger("postsched.publisher.first_comments")
BATCH = 50
CONCURRENCY = 8  # comments in flight per publisher: the publish attempts keep the rest of the connections


class FirstComments:
    period = 1.0

    def __init__(self, store: CommentStore, accounts: PublishingStore, comments: GraphComments, box: CredentialBox,
                 clock: Clock, policy: RetryPolicy, *, max_attempts: int, http_timeout: float, lease: float,
                 max_platform_wait: float) -> None:
        self._max_platform_wait = max_platform_wait  # POSTSCHED_MAX_PLATFORM_WAIT, as for the posts
        self._store = store
        self._accounts = accounts  # what a platform's answer says about the account (its waits, its token)
        self._comments = comments
        self._box = box
        self._clock = clock
        self._policy = policy
        self._max_attempts = max_attempts
        self._http_timeout = http_timeout
        # A claim's hold: a comment is made only while the claim has a whole call's timeout left
        # (_holds), so a later claim never starts while a call of this one may still be under way.
        self._lease = lease + 2 * http_timeout
        self._slots = asyncio.Semaphore(CONCURRENCY)

    async def run_once(self) -> int:
        """Makes the due first comments; returns how many were settled (published or failed)."""
        now = self._clock.now()
        claimed = await self._store.claim(limit=BATCH, now=now, lease_until=now + timedelta(seconds=self._lease))
        results = await asyncio.gather(*(self._one(c, time.monotonic()) for c in claimed))
        return sum(results)

    async def _one(self, claimed: ClaimedComment, claimed_at: float) -> bool:
        async with self._slots:
            try:
                return await self._attempt(claimed, claimed_at)
            except Exception:
                # A bug of ours: the lease runs out and the next claim looks before commenting.
                log.exception("first comment attempt crashed", post_id=str(claimed.id))
                return False

    def _holds(self, claimed_at: float) -> bool:
        """Whether this claim still has time for one more call before its lease ends."""
        return time.monotonic() - claimed_at + self._http_timeout < self._lease

    async def _attempt(self, claimed: ClaimedComment, claimed_at: float) -> bool:
        try:
            target = Target(claimed.account_id, claimed.platform, claimed.external_id,
                            self._box.open(claimed.credentials))
        except CredentialsUnreadable as exc:
            return await self._store.failed(claimed, str(exc))
        try:
            if claimed.attempt > 1:
                found = await self._comments.find(claimed.platform_post_id, claimed.text, target)
                if found:
                    return await self._store.published(claimed, found, found=True)
            if not self._holds(claimed_at):
                return False  # the lease ends before the call could: the next claim looks first
            comment_id = await self._comments.publish(claimed.platform_post_id, claimed.text, target)
        except RateLimited as exc:
            # It counts as a try: the attempt count is also the fence and what makes the next try
            # look first (a rate limit may be answered to a comment that was made).
            until = self._clock.now() + timedelta(seconds=min(exc.retry_after, self._max_platform_wait))
            if exc.whole_account:
                await self._accounts.throttle_account(claimed.account_id, until, exc.message, now=self._clock.now())
            return await self._again(claimed, until, exc.message)
        except Permanent as exc:
            if exc.needs_credentials:  # the comment waits for new credentials, as the posts do
                await self._accounts.mark_needs_credentials(claimed.account_id, exc.message, now=self._clock.now())
                await self._store.later(claimed, self._clock.now(), exc.message)
                return False
            return await self._store.failed(claimed, exc.message)
        except OutcomeUnknown as exc:
            return await self._store.failed(claimed, f"outcome_unknown: {exc.message}")
        except Transient as exc:
            if exc.maybe_published and self._holds(claimed_at):
                try:
                    found = await self._comments.find(claimed.platform_post_id, claimed.text, target)
                except OutcomeUnknown as unknown:
                    return await self._store.failed(claimed, f"outcome_unknown: {exc.message}; {unknown.message}")
                except PlatformError:
                    found = None  # the next try looks first anyway
                if found:
                    return await self._store.published(claimed, found, found=True)
            if exc.maybe_published and claimed.attempt >= self._max_attempts:
                # The last try, and it may have gone through unseen: a person checks, no guess.
                return await self._store.failed(claimed, f"outcome_unknown: {exc.message}")
            return await self._retry(claimed, exc)
        return await self._store.published(claimed, comment_id)

    async def _retry(self, claimed: ClaimedComment, exc: Transient) -> bool:
        hint = None if exc.retry_after is None else min(exc.retry_after, self._max_platform_wait)
        delay = self._policy.delay(claimed.attempt, hint)
        return await self._again(claimed, self._clock.now() + timedelta(seconds=delay), exc.message)

    async def _again(self, claimed: ClaimedComment, at: datetime, reason: str) -> bool:
        """Another try at `at`, unless this was the last one."""
        if claimed.attempt >= self._max_attempts:
            return await self._store.failed(claimed, f"{reason} (attempt {claimed.attempt} of {self._max_attempts})")
        await self._store.later(claimed, at, reason)
        return False
