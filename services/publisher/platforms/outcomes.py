"""What an adapter says about a publish attempt, besides the platform post id of a success.

Signals, not failures (after dramatiq's and temporal's error types): "try again later" (Transient),
"not now, and not the post's fault" (RateLimited), "give up" (Permanent), and "cannot tell whether
it went out" (OutcomeUnknown) are distinct types; the publisher maps each to its own outcome and
log level.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


class PlatformError(Exception):
    """The platform did not publish the post (or may have)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Transient(PlatformError):
    """Worth trying again later: timeouts, connection errors, 5xx, Meta codes 1 and 2.

    maybe_published: the request may have reached the platform and succeeded (a timeout after
    sending, a dropped connection, Meta's code 1 subcode 99): check before any second attempt.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, maybe_published: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.maybe_published = maybe_published


class RateLimited(PlatformError):
    """The platform asks to wait `retry_after` seconds for this account; not the post's fault.

    whole_account: every call for the account must wait (a rate limit); False for a publishing
    quota, which holds back publications but not the account's other calls (its first comments)."""

    def __init__(self, message: str, *, retry_after: float, whole_account: bool = True) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.whole_account = whole_account


class Permanent(PlatformError):
    """Retrying cannot help (invalid parameter, permissions, duplicate). needs_credentials: token invalid."""

    def __init__(self, message: str, *, needs_credentials: bool = False) -> None:
        super().__init__(message)
        self.needs_credentials = needs_credentials


class OutcomeUnknown(PlatformError):
    """The platform offers no way to tell whether the post went out (or its answer was incomplete)."""


class Fenced(Exception):
    """This attempt no longer holds the post: its lease ran out or a rescuer took it over. It must
    neither call the platform again nor record anything."""


def meter(platform: str, external_id: str, account_id: uuid.UUID | None = None) -> str:
    """Whose allowance a platform's wait is about. Meta meters a Page or an Instagram user,
    whichever postsched account (or tenant) calls it; a webhook's answers speak only for the one
    account that names it: another tenant's account with the same external id never shares them."""
    return f"webhook:{account_id}" if platform == "webhook" else f"{platform}:{external_id}"


@dataclass(frozen=True)
class Target:
    """Where to publish: the account's platform id and its (decrypted) credentials."""

    account_id: uuid.UUID
    platform: str
    external_id: str
    credentials: dict[str, str] = field(repr=False)

    @property
    def meter(self) -> str:
        return meter(self.platform, self.external_id, self.account_id)


@dataclass(frozen=True)
class Post:
    id: uuid.UUID
    text: str
    media_urls: list[str]
    link: str
    scheduled_at: datetime
    claimed_at: datetime  # when this attempt started
    platform_state: dict[str, Any] | None = None
    # When each attempt so far (this one included) was claimed: a lookup searches every window in
    # which one of them may have reached the platform.
    claims: tuple[datetime, ...] = ()
    kind: str = "FEED"  # FEED, REEL or STORY (the API's PostKind)
    reel: dict[str, Any] = field(default_factory=dict)  # a REEL's options (ReelOptions' field names)

    @property
    def earlier_attempts(self) -> bool:
        return len(self.claims) > 1


class Progress(Protocol):
    """What an adapter may do mid-attempt besides calling the platform."""

    def check(self) -> None:
        """Raises Fenced unless this attempt still holds its lease: call right before any call to
        the platform that cannot be repeated safely."""

    async def save(self, state: dict[str, Any]) -> None:
        """Merges `state` into the post's platform_state (an Instagram container id), so a later
        attempt or a rescuer can reconcile instead of publishing blindly again. Fenced: like check()."""


class Adapter(Protocol):
    # True when sending the same post again is harmless (a webhook: the receiver drops a repeated
    # Idempotency-Key); otherwise every attempt after the first asks the platform first.
    repeatable: bool

    def identifies_by_text(self, post: Post) -> bool:
        """True when find() recognises this post by its content, so two of our posts with the same
        text can be confused: the publisher then rules out ids it knows belong to other posts."""

    async def publish(self, post: Post, target: Target, progress: Progress) -> str:
        """Publishes the post; returns the platform's post id or raises a PlatformError."""

    async def find(self, post: Post, target: Target) -> list[str]:
        """The platform ids that may be this post's, from any of its attempts: empty if it surely
        did not go out; raises OutcomeUnknown if the platform cannot tell."""

    async def permalink(self, platform_id: str, target: Target) -> str:
        """Where the published post `platform_id` can be seen ("" if the platform has no such
        page). Called once the post is published; may raise a PlatformError, which the publisher
        logs and ignores: it never undoes or repeats the publication."""
