import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from postsched.v1 import resources_pb2 as _resources_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetQueueStatsRequest(_message.Message):
    __slots__ = ("tenant_id", "account_id")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    account_id: str
    def __init__(self, tenant_id: _Optional[str] = ..., account_id: _Optional[str] = ...) -> None: ...

class ConsumerStats(_message.Message):
    __slots__ = ("pending", "ack_pending", "redelivered", "waiting")
    PENDING_FIELD_NUMBER: _ClassVar[int]
    ACK_PENDING_FIELD_NUMBER: _ClassVar[int]
    REDELIVERED_FIELD_NUMBER: _ClassVar[int]
    WAITING_FIELD_NUMBER: _ClassVar[int]
    pending: int
    ack_pending: int
    redelivered: int
    waiting: int
    def __init__(self, pending: _Optional[int] = ..., ack_pending: _Optional[int] = ..., redelivered: _Optional[int] = ..., waiting: _Optional[int] = ...) -> None: ...

class QueueStats(_message.Message):
    __slots__ = ("scheduled", "queued", "publishing", "published", "failed", "cancelled", "consumer", "oldest_overdue_seconds", "published_last_minute", "failed_last_minute", "published_last_hour", "failed_last_hour", "at")
    SCHEDULED_FIELD_NUMBER: _ClassVar[int]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    PUBLISHING_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_FIELD_NUMBER: _ClassVar[int]
    OLDEST_OVERDUE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_LAST_MINUTE_FIELD_NUMBER: _ClassVar[int]
    FAILED_LAST_MINUTE_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_LAST_HOUR_FIELD_NUMBER: _ClassVar[int]
    FAILED_LAST_HOUR_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    scheduled: int
    queued: int
    publishing: int
    published: int
    failed: int
    cancelled: int
    consumer: ConsumerStats
    oldest_overdue_seconds: float
    published_last_minute: int
    failed_last_minute: int
    published_last_hour: int
    failed_last_hour: int
    at: _timestamp_pb2.Timestamp
    def __init__(self, scheduled: _Optional[int] = ..., queued: _Optional[int] = ..., publishing: _Optional[int] = ..., published: _Optional[int] = ..., failed: _Optional[int] = ..., cancelled: _Optional[int] = ..., consumer: _Optional[_Union[ConsumerStats, _Mapping]] = ..., oldest_overdue_seconds: _Optional[float] = ..., published_last_minute: _Optional[int] = ..., failed_last_minute: _Optional[int] = ..., published_last_hour: _Optional[int] = ..., failed_last_hour: _Optional[int] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ProcessingLogEntry(_message.Message):
    __slots__ = ("id", "post_id", "tenant_id", "account_id", "event", "from_status", "to_status", "attempt", "message", "trace_id", "created_at", "actor")
    ID_FIELD_NUMBER: _ClassVar[int]
    POST_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    FROM_STATUS_FIELD_NUMBER: _ClassVar[int]
    TO_STATUS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    id: int
    post_id: str
    tenant_id: str
    account_id: str
    event: str
    from_status: _resources_pb2.PostStatus
    to_status: _resources_pb2.PostStatus
    attempt: int
    message: str
    trace_id: str
    created_at: _timestamp_pb2.Timestamp
    actor: str
    def __init__(self, id: _Optional[int] = ..., post_id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., account_id: _Optional[str] = ..., event: _Optional[str] = ..., from_status: _Optional[_Union[_resources_pb2.PostStatus, str]] = ..., to_status: _Optional[_Union[_resources_pb2.PostStatus, str]] = ..., attempt: _Optional[int] = ..., message: _Optional[str] = ..., trace_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., actor: _Optional[str] = ...) -> None: ...

class ListProcessingLogsRequest(_message.Message):
    __slots__ = ("post_id", "account_id", "event", "since", "until", "page_size", "page_token")
    POST_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    post_id: str
    account_id: str
    event: str
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    page_size: int
    page_token: str
    def __init__(self, post_id: _Optional[str] = ..., account_id: _Optional[str] = ..., event: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListProcessingLogsResponse(_message.Message):
    __slots__ = ("entries", "next_page_token")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[ProcessingLogEntry]
    next_page_token: str
    def __init__(self, entries: _Optional[_Iterable[_Union[ProcessingLogEntry, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListFailedPostsRequest(_message.Message):
    __slots__ = ("tenant_id", "account_id", "page_size", "page_token")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    account_id: str
    page_size: int
    page_token: str
    def __init__(self, tenant_id: _Optional[str] = ..., account_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListFailedPostsResponse(_message.Message):
    __slots__ = ("posts", "next_page_token")
    POSTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    posts: _containers.RepeatedCompositeFieldContainer[_resources_pb2.Post]
    next_page_token: str
    def __init__(self, posts: _Optional[_Iterable[_Union[_resources_pb2.Post, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RetryFailedRequest(_message.Message):
    __slots__ = ("tenant_id", "account_id")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    account_id: str
    def __init__(self, tenant_id: _Optional[str] = ..., account_id: _Optional[str] = ...) -> None: ...

class RetryFailedResponse(_message.Message):
    __slots__ = ("retried", "waiting_for_credentials")
    RETRIED_FIELD_NUMBER: _ClassVar[int]
    WAITING_FOR_CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    retried: int
    waiting_for_credentials: int
    def __init__(self, retried: _Optional[int] = ..., waiting_for_credentials: _Optional[int] = ...) -> None: ...

class RetryPostRequest(_message.Message):
    __slots__ = ("post_id",)
    POST_ID_FIELD_NUMBER: _ClassVar[int]
    post_id: str
    def __init__(self, post_id: _Optional[str] = ...) -> None: ...

class ClearCompletedRequest(_message.Message):
    __slots__ = ("older_than",)
    OLDER_THAN_FIELD_NUMBER: _ClassVar[int]
    older_than: _timestamp_pb2.Timestamp
    def __init__(self, older_than: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ClearCompletedResponse(_message.Message):
    __slots__ = ("deleted",)
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: int
    def __init__(self, deleted: _Optional[int] = ...) -> None: ...

class PauseAccountRequest(_message.Message):
    __slots__ = ("account_id",)
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    def __init__(self, account_id: _Optional[str] = ...) -> None: ...

class ResumeAccountRequest(_message.Message):
    __slots__ = ("account_id",)
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    def __init__(self, account_id: _Optional[str] = ...) -> None: ...

class WatchQueueRequest(_message.Message):
    __slots__ = ("tenant_id", "account_id")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    account_id: str
    def __init__(self, tenant_id: _Optional[str] = ..., account_id: _Optional[str] = ...) -> None: ...
