"""What the store returns and takes: plain frozen dataclasses, no SQLAlchemy rows leak out."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Mapping


@dataclass(frozen=True)
class AccountRecord:
    id: uuid.UUID
    tenant_id: str
    platform: str
    external_id: str
    display_name: str
    paused: bool
    needs_credentials: bool
    created_at: datetime
    updated_at: datetime
    disabled: bool = False
    time_zone: str = "UTC"
    min_post_interval: timedelta = timedelta(0)
    credentials_status: str | None = None  # lifecycle.CredentialsStatus; None: never checked
    credentials_expire_at: datetime | None = None
    credentials_checked_at: datetime | None = None
    credentials_problem: str | None = None
    publishing_quotas: tuple["QuotaRecord", ...] = ()  # read with the account where the API shows it

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "AccountRecord":
        return cls(**{name: row[name] for name in cls.__dataclass_fields__ if name in row})


@dataclass(frozen=True)
class QuotaRecord:
    """A rolling-window cap Meta puts on an account's publications (postsched/store/quotas.py)."""

    name: str  # "instagram_posts", "facebook_reels"
    used: int
    total: int
    window: timedelta
    read_at: datetime | None  # last read from Meta; None: counted from our own publications
    frees_at: datetime | None  # when full: when a place frees up


@dataclass(frozen=True)
class NewAccount:
    platform: str
    external_id: str
    display_name: str
    credentials: dict[str, str] = field(repr=False)
    time_zone: str = "UTC"
    min_post_interval: timedelta = timedelta(0)


@dataclass(frozen=True)
class PostRecord:
    id: uuid.UUID
    tenant_id: str
    account_id: uuid.UUID
    status: str
    text: str
    media_urls: list[str]
    link: str
    scheduled_at: datetime
    published_at: datetime | None
    platform_post_id: str | None
    attempts: int
    last_error: str | None
    idempotency_key: str | None
    created_at: datetime
    updated_at: datetime
    permalink: str | None = None  # where the published post can be seen
    recurring_post_id: uuid.UUID | None = None  # an occurrence of this recurring post
    occurrence_time: datetime | None = None  # the instant its rule gave it
    slotted: bool = False  # in a posting-schedule slot (EnqueuePost)
    kind: str = "FEED"  # FEED, REEL or STORY (the API's PostKind)
    reel: dict[str, Any] | None = None  # a REEL's options, as ReelOptions' fields
    first_comment: str | None = None
    first_comment_status: str | None = None  # lifecycle.FirstCommentStatus; None: no first comment
    first_comment_id: str | None = None
    first_comment_error: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "PostRecord":
        return cls(**{name: row[name] for name in cls.__dataclass_fields__ if name in row})


@dataclass(frozen=True)
class NewPost:
    account_id: uuid.UUID
    text: str
    media_urls: list[str]
    link: str
    scheduled_at: datetime | None  # None = as soon as possible
    idempotency_key: str | None
    kind: str = "FEED"
    reel: dict[str, Any] | None = None
    first_comment: str = ""


@dataclass(frozen=True)
class PageCursor:
    """Keyset position: the last row of the previous page."""

    at: datetime
    id: uuid.UUID
