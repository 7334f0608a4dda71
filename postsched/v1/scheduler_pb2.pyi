import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from postsched.v1 import resources_pb2 as _resources_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateAccountRequest(_message.Message):
    __slots__ = ("platform", "external_id", "display_name", "access_token", "webhook_url", "webhook_secret", "time_zone", "min_post_interval")
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_URL_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_SECRET_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    MIN_POST_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    platform: _resources_pb2.Platform
    external_id: str
    display_name: str
    access_token: str
    webhook_url: str
    webhook_secret: str
    time_zone: str
    min_post_interval: _duration_pb2.Duration
    def __init__(self, platform: _Optional[_Union[_resources_pb2.Platform, str]] = ..., external_id: _Optional[str] = ..., display_name: _Optional[str] = ..., access_token: _Optional[str] = ..., webhook_url: _Optional[str] = ..., webhook_secret: _Optional[str] = ..., time_zone: _Optional[str] = ..., min_post_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class UpdateAccountRequest(_message.Message):
    __slots__ = ("account_id", "display_name", "time_zone", "min_post_interval")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    MIN_POST_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    display_name: str
    time_zone: str
    min_post_interval: _duration_pb2.Duration
    def __init__(self, account_id: _Optional[str] = ..., display_name: _Optional[str] = ..., time_zone: _Optional[str] = ..., min_post_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class UpdateAccountCredentialsRequest(_message.Message):
    __slots__ = ("account_id", "access_token", "webhook_url", "webhook_secret")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_URL_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_SECRET_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    access_token: str
    webhook_url: str
    webhook_secret: str
    def __init__(self, account_id: _Optional[str] = ..., access_token: _Optional[str] = ..., webhook_url: _Optional[str] = ..., webhook_secret: _Optional[str] = ...) -> None: ...

class GetAccountRequest(_message.Message):
    __slots__ = ("account_id",)
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    def __init__(self, account_id: _Optional[str] = ...) -> None: ...

class ListAccountsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "platform")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    platform: _resources_pb2.Platform
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., platform: _Optional[_Union[_resources_pb2.Platform, str]] = ...) -> None: ...

class ListAccountsResponse(_message.Message):
    __slots__ = ("accounts", "next_page_token")
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    accounts: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Account]
    next_page_token: str
    def __init__(self, accounts: _Optional[_Iterable[_Union[_resources_pb2.Account, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CreatePostRequest(_message.Message):
    __slots__ = ("account_id", "text", "media_urls", "link", "scheduled_at", "idempotency_key", "kind", "reel", "first_comment")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    MEDIA_URLS_FIELD_NUMBER: _ClassVar[int]
    LINK_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_AT_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    REEL_FIELD_NUMBER: _ClassVar[int]
    FIRST_COMMENT_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    text: str
    media_urls: _containers.RepeatedScalarFieldContainer[str]
    link: str
    scheduled_at: _timestamp_pb2.Timestamp
    idempotency_key: str
    kind: _resources_pb2.PostKind
    reel: _resources_pb2.ReelOptions
    first_comment: str
    def __init__(self, account_id: _Optional[str] = ..., text: _Optional[str] = ..., media_urls: _Optional[_Iterable[str]] = ..., link: _Optional[str] = ..., scheduled_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., idempotency_key: _Optional[str] = ..., kind: _Optional[_Union[_resources_pb2.PostKind, str]] = ..., reel: _Optional[_Union[_resources_pb2.ReelOptions, _Mapping]] = ..., first_comment: _Optional[str] = ...) -> None: ...

class BatchCreatePostsRequest(_message.Message):
    __slots__ = ("requests",)
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[CreatePostRequest]
    def __init__(self, requests: _Optional[_Iterable[_Union[CreatePostRequest, _Mapping]]] = ...) -> None: ...

class BatchCreatePostsResponse(_message.Message):
    __slots__ = ("posts",)
    POSTS_FIELD_NUMBER: _ClassVar[int]
    posts: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Post]
    def __init__(self, posts: _Optional[_Iterable[_Union[_resources_pb2.Post, _Mapping]]] = ...) -> None: ...

class GetPostRequest(_message.Message):
    __slots__ = ("post_id", "idempotency_key")
    POST_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    post_id: str
    idempotency_key: str
    def __init__(self, post_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class ListPostsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "status", "account_id", "scheduled_from", "scheduled_until", "recurring_post_id")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_FROM_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_UNTIL_FIELD_NUMBER: _ClassVar[int]
    RECURRING_POST_ID_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    status: _resources_pb2.PostStatus
    account_id: str
    scheduled_from: _timestamp_pb2.Timestamp
    scheduled_until: _timestamp_pb2.Timestamp
    recurring_post_id: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., status: _Optional[_Union[_resources_pb2.PostStatus, str]] = ..., account_id: _Optional[str] = ..., scheduled_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., scheduled_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., recurring_post_id: _Optional[str] = ...) -> None: ...

class ListPostsResponse(_message.Message):
    __slots__ = ("posts", "next_page_token")
    POSTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    posts: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Post]
    next_page_token: str
    def __init__(self, posts: _Optional[_Iterable[_Union[_resources_pb2.Post, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ReschedulePostRequest(_message.Message):
    __slots__ = ("post_id", "scheduled_at")
    POST_ID_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_AT_FIELD_NUMBER: _ClassVar[int]
    post_id: str
    scheduled_at: _timestamp_pb2.Timestamp
    def __init__(self, post_id: _Optional[str] = ..., scheduled_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CancelPostRequest(_message.Message):
    __slots__ = ("post_id",)
    POST_ID_FIELD_NUMBER: _ClassVar[int]
    post_id: str
    def __init__(self, post_id: _Optional[str] = ...) -> None: ...

class WatchEventsRequest(_message.Message):
    __slots__ = ("after_sequence", "types", "account_id")
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    after_sequence: int
    types: _containers.RepeatedScalarFieldContainer[str]
    account_id: str
    def __init__(self, after_sequence: _Optional[int] = ..., types: _Optional[_Iterable[str]] = ..., account_id: _Optional[str] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("event_id", "sequence", "type", "tenant_id", "post_id", "account_id", "occurred_at", "post", "message", "platform_post_id", "attempts", "waiting_until", "permalink")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    POST_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    POST_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_POST_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    WAITING_UNTIL_FIELD_NUMBER: _ClassVar[int]
    PERMALINK_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    sequence: int
    type: str
    tenant_id: str
    post_id: str
    account_id: str
    occurred_at: _timestamp_pb2.Timestamp
    post: _resources_pb2.Post
    message: str
    platform_post_id: str
    attempts: int
    waiting_until: _timestamp_pb2.Timestamp
    permalink: str
    def __init__(self, event_id: _Optional[str] = ..., sequence: _Optional[int] = ..., type: _Optional[str] = ..., tenant_id: _Optional[str] = ..., post_id: _Optional[str] = ..., account_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., post: _Optional[_Union[_resources_pb2.Post, _Mapping]] = ..., message: _Optional[str] = ..., platform_post_id: _Optional[str] = ..., attempts: _Optional[int] = ..., waiting_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., permalink: _Optional[str] = ...) -> None: ...

class UpdatePostRequest(_message.Message):
    __slots__ = ("post_id", "text", "media_urls", "link", "kind", "reel", "first_comment")
    POST_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    MEDIA_URLS_FIELD_NUMBER: _ClassVar[int]
    LINK_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    REEL_FIELD_NUMBER: _ClassVar[int]
    FIRST_COMMENT_FIELD_NUMBER: _ClassVar[int]
    post_id: str
    text: str
    media_urls: _containers.RepeatedScalarFieldContainer[str]
    link: str
    kind: _resources_pb2.PostKind
    reel: _resources_pb2.ReelOptions
    first_comment: str
    def __init__(self, post_id: _Optional[str] = ..., text: _Optional[str] = ..., media_urls: _Optional[_Iterable[str]] = ..., link: _Optional[str] = ..., kind: _Optional[_Union[_resources_pb2.PostKind, str]] = ..., reel: _Optional[_Union[_resources_pb2.ReelOptions, _Mapping]] = ..., first_comment: _Optional[str] = ...) -> None: ...

class DisableAccountRequest(_message.Message):
    __slots__ = ("account_id",)
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    def __init__(self, account_id: _Optional[str] = ...) -> None: ...

class EnableAccountRequest(_message.Message):
    __slots__ = ("account_id",)
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    def __init__(self, account_id: _Optional[str] = ...) -> None: ...

class SetEventWebhookRequest(_message.Message):
    __slots__ = ("url", "secret")
    URL_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    url: str
    secret: str
    def __init__(self, url: _Optional[str] = ..., secret: _Optional[str] = ...) -> None: ...

class GetEventWebhookRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class EventWebhook(_message.Message):
    __slots__ = ("url", "delivered_sequence", "pending", "head_attempts", "next_attempt_at", "last_error", "updated_at")
    URL_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    HEAD_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_ATTEMPT_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    url: str
    delivered_sequence: int
    pending: int
    head_attempts: int
    next_attempt_at: _timestamp_pb2.Timestamp
    last_error: str
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, url: _Optional[str] = ..., delivered_sequence: _Optional[int] = ..., pending: _Optional[int] = ..., head_attempts: _Optional[int] = ..., next_attempt_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_error: _Optional[str] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListEventDeliveriesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class EventDelivery(_message.Message):
    __slots__ = ("event_id", "sequence", "type", "attempt", "outcome", "status_code", "error", "duration_ms", "at")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    STATUS_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    sequence: int
    type: str
    attempt: int
    outcome: str
    status_code: int
    error: str
    duration_ms: int
    at: _timestamp_pb2.Timestamp
    def __init__(self, event_id: _Optional[str] = ..., sequence: _Optional[int] = ..., type: _Optional[str] = ..., attempt: _Optional[int] = ..., outcome: _Optional[str] = ..., status_code: _Optional[int] = ..., error: _Optional[str] = ..., duration_ms: _Optional[int] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListEventDeliveriesResponse(_message.Message):
    __slots__ = ("deliveries", "next_page_token")
    DELIVERIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    deliveries: _containers.RepeatedCompositeFieldContainer[EventDelivery]
    next_page_token: str
    def __init__(self, deliveries: _Optional[_Iterable[_Union[EventDelivery, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteAccountRequest(_message.Message):
    __slots__ = ("account_id",)
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    def __init__(self, account_id: _Optional[str] = ...) -> None: ...

class DeleteAccountResponse(_message.Message):
    __slots__ = ("cancelled_posts",)
    CANCELLED_POSTS_FIELD_NUMBER: _ClassVar[int]
    cancelled_posts: int
    def __init__(self, cancelled_posts: _Optional[int] = ...) -> None: ...

class CreateRecurringPostRequest(_message.Message):
    __slots__ = ("account_id", "text", "media_urls", "link", "start_time", "time_zone", "recurrence", "idempotency_key", "kind", "reel", "first_comment")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    MEDIA_URLS_FIELD_NUMBER: _ClassVar[int]
    LINK_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    RECURRENCE_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    REEL_FIELD_NUMBER: _ClassVar[int]
    FIRST_COMMENT_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    text: str
    media_urls: _containers.RepeatedScalarFieldContainer[str]
    link: str
    start_time: str
    time_zone: str
    recurrence: _containers.RepeatedScalarFieldContainer[str]
    idempotency_key: str
    kind: _resources_pb2.PostKind
    reel: _resources_pb2.ReelOptions
    first_comment: str
    def __init__(self, account_id: _Optional[str] = ..., text: _Optional[str] = ..., media_urls: _Optional[_Iterable[str]] = ..., link: _Optional[str] = ..., start_time: _Optional[str] = ..., time_zone: _Optional[str] = ..., recurrence: _Optional[_Iterable[str]] = ..., idempotency_key: _Optional[str] = ..., kind: _Optional[_Union[_resources_pb2.PostKind, str]] = ..., reel: _Optional[_Union[_resources_pb2.ReelOptions, _Mapping]] = ..., first_comment: _Optional[str] = ...) -> None: ...

class GetRecurringPostRequest(_message.Message):
    __slots__ = ("recurring_post_id",)
    RECURRING_POST_ID_FIELD_NUMBER: _ClassVar[int]
    recurring_post_id: str
    def __init__(self, recurring_post_id: _Optional[str] = ...) -> None: ...

class ListRecurringPostsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "account_id", "status")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    account_id: str
    status: _resources_pb2.RecurringPostStatus
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., account_id: _Optional[str] = ..., status: _Optional[_Union[_resources_pb2.RecurringPostStatus, str]] = ...) -> None: ...

class ListRecurringPostsResponse(_message.Message):
    __slots__ = ("recurring_posts", "next_page_token")
    RECURRING_POSTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    recurring_posts: _containers.RepeatedCompositeFieldContainer[_resources_pb2.RecurringPost]
    next_page_token: str
    def __init__(self, recurring_posts: _Optional[_Iterable[_Union[_resources_pb2.RecurringPost, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateRecurringPostRequest(_message.Message):
    __slots__ = ("recurring_post_id", "update_mask", "text", "media_urls", "link", "start_time", "time_zone", "recurrence", "kind", "reel", "first_comment")
    RECURRING_POST_ID_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    MEDIA_URLS_FIELD_NUMBER: _ClassVar[int]
    LINK_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    RECURRENCE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    REEL_FIELD_NUMBER: _ClassVar[int]
    FIRST_COMMENT_FIELD_NUMBER: _ClassVar[int]
    recurring_post_id: str
    update_mask: _field_mask_pb2.FieldMask
    text: str
    media_urls: _containers.RepeatedScalarFieldContainer[str]
    link: str
    start_time: str
    time_zone: str
    recurrence: _containers.RepeatedScalarFieldContainer[str]
    kind: _resources_pb2.PostKind
    reel: _resources_pb2.ReelOptions
    first_comment: str
    def __init__(self, recurring_post_id: _Optional[str] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., text: _Optional[str] = ..., media_urls: _Optional[_Iterable[str]] = ..., link: _Optional[str] = ..., start_time: _Optional[str] = ..., time_zone: _Optional[str] = ..., recurrence: _Optional[_Iterable[str]] = ..., kind: _Optional[_Union[_resources_pb2.PostKind, str]] = ..., reel: _Optional[_Union[_resources_pb2.ReelOptions, _Mapping]] = ..., first_comment: _Optional[str] = ...) -> None: ...

class PauseRecurringPostRequest(_message.Message):
    __slots__ = ("recurring_post_id",)
    RECURRING_POST_ID_FIELD_NUMBER: _ClassVar[int]
    recurring_post_id: str
    def __init__(self, recurring_post_id: _Optional[str] = ...) -> None: ...

class ResumeRecurringPostRequest(_message.Message):
    __slots__ = ("recurring_post_id",)
    RECURRING_POST_ID_FIELD_NUMBER: _ClassVar[int]
    recurring_post_id: str
    def __init__(self, recurring_post_id: _Optional[str] = ...) -> None: ...

class CancelRecurringPostRequest(_message.Message):
    __slots__ = ("recurring_post_id",)
    RECURRING_POST_ID_FIELD_NUMBER: _ClassVar[int]
    recurring_post_id: str
    def __init__(self, recurring_post_id: _Optional[str] = ...) -> None: ...

class SetPostingScheduleRequest(_message.Message):
    __slots__ = ("account_id", "time_zone", "slots", "reshuffle")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    RESHUFFLE_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    time_zone: str
    slots: _containers.RepeatedCompositeFieldContainer[_resources_pb2.PostingSlot]
    reshuffle: bool
    def __init__(self, account_id: _Optional[str] = ..., time_zone: _Optional[str] = ..., slots: _Optional[_Iterable[_Union[_resources_pb2.PostingSlot, _Mapping]]] = ..., reshuffle: _Optional[bool] = ...) -> None: ...

class GetPostingScheduleRequest(_message.Message):
    __slots__ = ("account_id",)
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    def __init__(self, account_id: _Optional[str] = ...) -> None: ...

class EnqueuePostRequest(_message.Message):
    __slots__ = ("post", "not_before")
    POST_FIELD_NUMBER: _ClassVar[int]
    NOT_BEFORE_FIELD_NUMBER: _ClassVar[int]
    post: CreatePostRequest
    not_before: _timestamp_pb2.Timestamp
    def __init__(self, post: _Optional[_Union[CreatePostRequest, _Mapping]] = ..., not_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListUpcomingSlotsRequest(_message.Message):
    __slots__ = ("account_id", "count")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    count: int
    def __init__(self, account_id: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class UpcomingSlot(_message.Message):
    __slots__ = ("at", "post")
    AT_FIELD_NUMBER: _ClassVar[int]
    POST_FIELD_NUMBER: _ClassVar[int]
    at: _timestamp_pb2.Timestamp
    post: _resources_pb2.Post
    def __init__(self, at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., post: _Optional[_Union[_resources_pb2.Post, _Mapping]] = ...) -> None: ...

class ListUpcomingSlotsResponse(_message.Message):
    __slots__ = ("slots",)
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    slots: _containers.RepeatedCompositeFieldContainer[UpcomingSlot]
    def __init__(self, slots: _Optional[_Iterable[_Union[UpcomingSlot, _Mapping]]] = ...) -> None: ...
