import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Platform(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PLATFORM_UNSPECIFIED: _ClassVar[Platform]
    FACEBOOK_PAGE: _ClassVar[Platform]
    INSTAGRAM: _ClassVar[Platform]
    WEBHOOK: _ClassVar[Platform]

class PostStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    POST_STATUS_UNSPECIFIED: _ClassVar[PostStatus]
    SCHEDULED: _ClassVar[PostStatus]
    QUEUED: _ClassVar[PostStatus]
    PUBLISHING: _ClassVar[PostStatus]
    PUBLISHED: _ClassVar[PostStatus]
    FAILED: _ClassVar[PostStatus]
    CANCELLED: _ClassVar[PostStatus]

class CredentialsStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CREDENTIALS_STATUS_UNSPECIFIED: _ClassVar[CredentialsStatus]
    CREDENTIALS_OK: _ClassVar[CredentialsStatus]
    CREDENTIALS_EXPIRING: _ClassVar[CredentialsStatus]
    CREDENTIALS_INVALID: _ClassVar[CredentialsStatus]

class PostKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    POST_KIND_UNSPECIFIED: _ClassVar[PostKind]
    FEED: _ClassVar[PostKind]
    REEL: _ClassVar[PostKind]
    STORY: _ClassVar[PostKind]

class TrialGraduation(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRIAL_GRADUATION_UNSPECIFIED: _ClassVar[TrialGraduation]
    MANUAL: _ClassVar[TrialGraduation]
    SS_PERFORMANCE: _ClassVar[TrialGraduation]

class FirstCommentStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FIRST_COMMENT_STATUS_UNSPECIFIED: _ClassVar[FirstCommentStatus]
    FIRST_COMMENT_PENDING: _ClassVar[FirstCommentStatus]
    FIRST_COMMENT_PUBLISHED: _ClassVar[FirstCommentStatus]
    FIRST_COMMENT_FAILED: _ClassVar[FirstCommentStatus]

class RecurringPostStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RECURRING_POST_STATUS_UNSPECIFIED: _ClassVar[RecurringPostStatus]
    RECURRING_POST_STATUS_ACTIVE: _ClassVar[RecurringPostStatus]
    RECURRING_POST_STATUS_PAUSED: _ClassVar[RecurringPostStatus]
    RECURRING_POST_STATUS_ENDED: _ClassVar[RecurringPostStatus]
    RECURRING_POST_STATUS_CANCELLED: _ClassVar[RecurringPostStatus]
PLATFORM_UNSPECIFIED: Platform
FACEBOOK_PAGE: Platform
INSTAGRAM: Platform
WEBHOOK: Platform
POST_STATUS_UNSPECIFIED: PostStatus
SCHEDULED: PostStatus
QUEUED: PostStatus
PUBLISHING: PostStatus
PUBLISHED: PostStatus
FAILED: PostStatus
CANCELLED: PostStatus
CREDENTIALS_STATUS_UNSPECIFIED: CredentialsStatus
CREDENTIALS_OK: CredentialsStatus
CREDENTIALS_EXPIRING: CredentialsStatus
CREDENTIALS_INVALID: CredentialsStatus
POST_KIND_UNSPECIFIED: PostKind
FEED: PostKind
REEL: PostKind
STORY: PostKind
TRIAL_GRADUATION_UNSPECIFIED: TrialGraduation
MANUAL: TrialGraduation
SS_PERFORMANCE: TrialGraduation
FIRST_COMMENT_STATUS_UNSPECIFIED: FirstCommentStatus
FIRST_COMMENT_PENDING: FirstCommentStatus
FIRST_COMMENT_PUBLISHED: FirstCommentStatus
FIRST_COMMENT_FAILED: FirstCommentStatus
RECURRING_POST_STATUS_UNSPECIFIED: RecurringPostStatus
RECURRING_POST_STATUS_ACTIVE: RecurringPostStatus
RECURRING_POST_STATUS_PAUSED: RecurringPostStatus
RECURRING_POST_STATUS_ENDED: RecurringPostStatus
RECURRING_POST_STATUS_CANCELLED: RecurringPostStatus

class Account(_message.Message):
    __slots__ = ("account_id", "platform", "external_id", "display_name", "paused", "needs_credentials", "created_at", "updated_at", "disabled", "time_zone", "min_post_interval", "credentials_status", "credentials_expire_at", "credentials_problem", "credentials_checked_at", "publishing_quotas")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    PAUSED_FIELD_NUMBER: _ClassVar[int]
    NEEDS_CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    MIN_POST_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    CREDENTIALS_STATUS_FIELD_NUMBER: _ClassVar[int]
    CREDENTIALS_EXPIRE_AT_FIELD_NUMBER: _ClassVar[int]
    CREDENTIALS_PROBLEM_FIELD_NUMBER: _ClassVar[int]
    CREDENTIALS_CHECKED_AT_FIELD_NUMBER: _ClassVar[int]
    PUBLISHING_QUOTAS_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    platform: Platform
    external_id: str
    display_name: str
    paused: bool
    needs_credentials: bool
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    disabled: bool
    time_zone: str
    min_post_interval: _duration_pb2.Duration
    credentials_status: CredentialsStatus
    credentials_expire_at: _timestamp_pb2.Timestamp
    credentials_problem: str
    credentials_checked_at: _timestamp_pb2.Timestamp
    publishing_quotas: _containers.RepeatedCompositeFieldContainer[PublishingQuota]
    def __init__(self, account_id: _Optional[str] = ..., platform: _Optional[_Union[Platform, str]] = ..., external_id: _Optional[str] = ..., display_name: _Optional[str] = ..., paused: _Optional[bool] = ..., needs_credentials: _Optional[bool] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., disabled: _Optional[bool] = ..., time_zone: _Optional[str] = ..., min_post_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., credentials_status: _Optional[_Union[CredentialsStatus, str]] = ..., credentials_expire_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., credentials_problem: _Optional[str] = ..., credentials_checked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., publishing_quotas: _Optional[_Iterable[_Union[PublishingQuota, _Mapping]]] = ...) -> None: ...

class PublishingQuota(_message.Message):
    __slots__ = ("name", "used", "total", "window", "read_at", "frees_at")
    NAME_FIELD_NUMBER: _ClassVar[int]
    USED_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    READ_AT_FIELD_NUMBER: _ClassVar[int]
    FREES_AT_FIELD_NUMBER: _ClassVar[int]
    name: str
    used: int
    total: int
    window: _duration_pb2.Duration
    read_at: _timestamp_pb2.Timestamp
    frees_at: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., used: _Optional[int] = ..., total: _Optional[int] = ..., window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., read_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., frees_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ReelOptions(_message.Message):
    __slots__ = ("cover_url", "thumb_offset_ms", "share_to_feed", "audio_name", "trial", "graduation_strategy")
    COVER_URL_FIELD_NUMBER: _ClassVar[int]
    THUMB_OFFSET_MS_FIELD_NUMBER: _ClassVar[int]
    SHARE_TO_FEED_FIELD_NUMBER: _ClassVar[int]
    AUDIO_NAME_FIELD_NUMBER: _ClassVar[int]
    TRIAL_FIELD_NUMBER: _ClassVar[int]
    GRADUATION_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    cover_url: str
    thumb_offset_ms: int
    share_to_feed: bool
    audio_name: str
    trial: bool
    graduation_strategy: TrialGraduation
    def __init__(self, cover_url: _Optional[str] = ..., thumb_offset_ms: _Optional[int] = ..., share_to_feed: _Optional[bool] = ..., audio_name: _Optional[str] = ..., trial: _Optional[bool] = ..., graduation_strategy: _Optional[_Union[TrialGraduation, str]] = ...) -> None: ...

class Post(_message.Message):
    __slots__ = ("post_id", "account_id", "status", "text", "media_urls", "link", "scheduled_at", "published_at", "platform_post_id", "attempts", "last_error", "created_at", "updated_at", "idempotency_key", "tenant_id", "permalink", "recurring_post_id", "occurrence_time", "slotted", "kind", "reel", "first_comment", "first_comment_status", "first_comment_id", "first_comment_error")
    POST_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    MEDIA_URLS_FIELD_NUMBER: _ClassVar[int]
    LINK_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_AT_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_AT_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_POST_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    PERMALINK_FIELD_NUMBER: _ClassVar[int]
    RECURRING_POST_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRENCE_TIME_FIELD_NUMBER: _ClassVar[int]
    SLOTTED_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    REEL_FIELD_NUMBER: _ClassVar[int]
    FIRST_COMMENT_FIELD_NUMBER: _ClassVar[int]
    FIRST_COMMENT_STATUS_FIELD_NUMBER: _ClassVar[int]
    FIRST_COMMENT_ID_FIELD_NUMBER: _ClassVar[int]
    FIRST_COMMENT_ERROR_FIELD_NUMBER: _ClassVar[int]
    post_id: str
    account_id: str
    status: PostStatus
    text: str
    media_urls: _containers.RepeatedScalarFieldContainer[str]
    link: str
    scheduled_at: _timestamp_pb2.Timestamp
    published_at: _timestamp_pb2.Timestamp
    platform_post_id: str
    attempts: int
    last_error: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    idempotency_key: str
    tenant_id: str
    permalink: str
    recurring_post_id: str
    occurrence_time: _timestamp_pb2.Timestamp
    slotted: bool
    kind: PostKind
    reel: ReelOptions
    first_comment: str
    first_comment_status: FirstCommentStatus
    first_comment_id: str
    first_comment_error: str
    def __init__(self, post_id: _Optional[str] = ..., account_id: _Optional[str] = ..., status: _Optional[_Union[PostStatus, str]] = ..., text: _Optional[str] = ..., media_urls: _Optional[_Iterable[str]] = ..., link: _Optional[str] = ..., scheduled_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., published_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., platform_post_id: _Optional[str] = ..., attempts: _Optional[int] = ..., last_error: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., idempotency_key: _Optional[str] = ..., tenant_id: _Optional[str] = ..., permalink: _Optional[str] = ..., recurring_post_id: _Optional[str] = ..., occurrence_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., slotted: _Optional[bool] = ..., kind: _Optional[_Union[PostKind, str]] = ..., reel: _Optional[_Union[ReelOptions, _Mapping]] = ..., first_comment: _Optional[str] = ..., first_comment_status: _Optional[_Union[FirstCommentStatus, str]] = ..., first_comment_id: _Optional[str] = ..., first_comment_error: _Optional[str] = ...) -> None: ...

class RecurringPost(_message.Message):
    __slots__ = ("recurring_post_id", "account_id", "text", "media_urls", "link", "start_time", "time_zone", "recurrence", "status", "next_occurrences", "occurrences_created", "created_at", "updated_at", "idempotency_key", "occurrences_skipped", "kind", "reel", "first_comment")
    RECURRING_POST_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    MEDIA_URLS_FIELD_NUMBER: _ClassVar[int]
    LINK_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    RECURRENCE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    NEXT_OCCURRENCES_FIELD_NUMBER: _ClassVar[int]
    OCCURRENCES_CREATED_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    OCCURRENCES_SKIPPED_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    REEL_FIELD_NUMBER: _ClassVar[int]
    FIRST_COMMENT_FIELD_NUMBER: _ClassVar[int]
    recurring_post_id: str
    account_id: str
    text: str
    media_urls: _containers.RepeatedScalarFieldContainer[str]
    link: str
    start_time: str
    time_zone: str
    recurrence: _containers.RepeatedScalarFieldContainer[str]
    status: RecurringPostStatus
    next_occurrences: _containers.RepeatedCompositeFieldContainer[_timestamp_pb2.Timestamp]
    occurrences_created: int
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    idempotency_key: str
    occurrences_skipped: int
    kind: PostKind
    reel: ReelOptions
    first_comment: str
    def __init__(self, recurring_post_id: _Optional[str] = ..., account_id: _Optional[str] = ..., text: _Optional[str] = ..., media_urls: _Optional[_Iterable[str]] = ..., link: _Optional[str] = ..., start_time: _Optional[str] = ..., time_zone: _Optional[str] = ..., recurrence: _Optional[_Iterable[str]] = ..., status: _Optional[_Union[RecurringPostStatus, str]] = ..., next_occurrences: _Optional[_Iterable[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]]] = ..., occurrences_created: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., idempotency_key: _Optional[str] = ..., occurrences_skipped: _Optional[int] = ..., kind: _Optional[_Union[PostKind, str]] = ..., reel: _Optional[_Union[ReelOptions, _Mapping]] = ..., first_comment: _Optional[str] = ...) -> None: ...

class PostingSlot(_message.Message):
    __slots__ = ("day_of_week", "time")
    DAY_OF_WEEK_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    day_of_week: int
    time: str
    def __init__(self, day_of_week: _Optional[int] = ..., time: _Optional[str] = ...) -> None: ...

class PostingSchedule(_message.Message):
    __slots__ = ("account_id", "time_zone", "slots", "updated_at")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    time_zone: str
    slots: _containers.RepeatedCompositeFieldContainer[PostingSlot]
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, account_id: _Optional[str] = ..., time_zone: _Optional[str] = ..., slots: _Optional[_Iterable[_Union[PostingSlot, _Mapping]]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
