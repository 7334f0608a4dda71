import datetime

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

class Account(_message.Message):
    __slots__ = ("account_id", "platform", "external_id", "display_name", "paused", "needs_credentials", "created_at", "updated_at", "disabled")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    PAUSED_FIELD_NUMBER: _ClassVar[int]
    NEEDS_CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    platform: Platform
    external_id: str
    display_name: str
    paused: bool
    needs_credentials: bool
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    disabled: bool
    def __init__(self, account_id: _Optional[str] = ..., platform: _Optional[_Union[Platform, str]] = ..., external_id: _Optional[str] = ..., display_name: _Optional[str] = ..., paused: _Optional[bool] = ..., needs_credentials: _Optional[bool] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., disabled: _Optional[bool] = ...) -> None: ...

class Post(_message.Message):
    __slots__ = ("post_id", "account_id", "status", "text", "media_urls", "link", "scheduled_at", "published_at", "platform_post_id", "attempts", "last_error", "created_at", "updated_at", "idempotency_key", "tenant_id", "permalink")
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
    def __init__(self, post_id: _Optional[str] = ..., account_id: _Optional[str] = ..., status: _Optional[_Union[PostStatus, str]] = ..., text: _Optional[str] = ..., media_urls: _Optional[_Iterable[str]] = ..., link: _Optional[str] = ..., scheduled_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., published_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., platform_post_id: _Optional[str] = ..., attempts: _Optional[int] = ..., last_error: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., idempotency_key: _Optional[str] = ..., tenant_id: _Optional[str] = ..., permalink: _Optional[str] = ...) -> None: ...
