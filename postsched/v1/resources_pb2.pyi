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
RECURRING_POST_STATUS_UNSPECIFIED: RecurringPostStatus
RECURRING_POST_STATUS_ACTIVE: RecurringPostStatus
RECURRING_POST_STATUS_PAUSED: RecurringPostStatus
RECURRING_POST_STATUS_ENDED: RecurringPostStatus
RECURRING_POST_STATUS_CANCELLED: RecurringPostStatus

class Account(_message.Message):
    __slots__ = ("account_id", "platform", "external_id", "display_name", "paused", "needs_credentials", "created_at", "updated_at", "disabled", "time_zone", "min_post_interval")
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
    def __init__(self, account_id: _Optional[str] = ..., platform: _Optional[_Union[Platform, str]] = ..., external_id: _Optional[str] = ..., display_name: _Optional[str] = ..., paused: _Optional[bool] = ..., needs_credentials: _Optional[bool] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., disabled: _Optional[bool] = ..., time_zone: _Optional[str] = ..., min_post_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class Post(_message.Message):
    __slots__ = ("post_id", "account_id", "status", "text", "media_urls", "link", "scheduled_at", "published_at", "platform_post_id", "attempts", "last_error", "created_at", "updated_at", "idempotency_key", "tenant_id", "permalink", "recurring_post_id", "occurrence_time", "slotted")
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
    def __init__(self, post_id: _Optional[str] = ..., account_id: _Optional[str] = ..., status: _Optional[_Union[PostStatus, str]] = ..., text: _Optional[str] = ..., media_urls: _Optional[_Iterable[str]] = ..., link: _Optional[str] = ..., scheduled_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., published_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., platform_post_id: _Optional[str] = ..., attempts: _Optional[int] = ..., last_error: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., idempotency_key: _Optional[str] = ..., tenant_id: _Optional[str] = ..., permalink: _Optional[str] = ..., recurring_post_id: _Optional[str] = ..., occurrence_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., slotted: _Optional[bool] = ...) -> None: ...

class RecurringPost(_message.Message):
    __slots__ = ("recurring_post_id", "account_id", "text", "media_urls", "link", "start_time", "time_zone", "recurrence", "status", "next_occurrences", "occurrences_created", "created_at", "updated_at", "idempotency_key", "occurrences_skipped")
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
    def __init__(self, recurring_post_id: _Optional[str] = ..., account_id: _Optional[str] = ..., text: _Optional[str] = ..., media_urls: _Optional[_Iterable[str]] = ..., link: _Optional[str] = ..., start_time: _Optional[str] = ..., time_zone: _Optional[str] = ..., recurrence: _Optional[_Iterable[str]] = ..., status: _Optional[_Union[RecurringPostStatus, str]] = ..., next_occurrences: _Optional[_Iterable[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]]] = ..., occurrences_created: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., idempotency_key: _Optional[str] = ..., occurrences_skipped: _Optional[int] = ...) -> None: ...

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
