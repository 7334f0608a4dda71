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
from typing import Any, Awaitable, Callable, Protocol


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
    """The platform asks to wait `retry_after` seconds for this account; not the post's fault."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Permanent(PlatformError):
    """Retrying cannot help (invalid parameter, permissions, duplicate). needs_credentials: token invalid."""

    def __init__(self, message: str, *, needs_credentials: bool = False) -> None:
        super().__init__(message)
        self.needs_credentials = needs_credentials


class OutcomeUnknown(PlatformError):
    """The platform offers no way to tell whether the post went out."""


@dataclass(frozen=True)
class Target:
    """Where to publish: the account's platform id and its (decrypted) credentials."""

    account_id: uuid.UUID
    platform: str
    external_id: str
    credentials: dict[str, str] = field(repr=False)


@dataclass(frozen=True)
class Post:
    id: uuid.UUID
    text: str
    media_urls: list[str]
    link: str
    scheduled_at: datetime
    claimed_at: datetime  # when this attempt started: reconciliation looks from here on
    platform_state: dict[str, Any] | None = None


# Adapters call this to persist what they learned mid-publish (an Instagram container id), so a
# crash before the outcome is recorded can be reconciled rather than published blindly again.
Checkpoint = Callable[[dict[str, Any]], Awaitable[None]]


class Adapter(Protocol):
    async def publish(self, post: Post, target: Target, checkpoint: Checkpoint) -> str:
        """Publishes the post; returns the platform's post id or raises a PlatformError."""

    async def find(self, post: Post, target: Target) -> str | None:
        """The platform id of this attempt's post if it went out, None if it surely did not;
        raises OutcomeUnknown if the platform cannot tell."""
