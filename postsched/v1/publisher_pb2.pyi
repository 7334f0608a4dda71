import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from postsched.v1 import resources_pb2 as _resources_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetPublisherStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AccountRateState(_message.Message):
    __slots__ = ("platform", "external_id", "throttled_until", "reason", "app_usage_pct", "business_usage_pct", "instagram_quota_used", "instagram_quota_total", "in_flight", "waiting", "publishing_quotas")
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    THROTTLED_UNTIL_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    APP_USAGE_PCT_FIELD_NUMBER: _ClassVar[int]
    BUSINESS_USAGE_PCT_FIELD_NUMBER: _ClassVar[int]
    INSTAGRAM_QUOTA_USED_FIELD_NUMBER: _ClassVar[int]
    INSTAGRAM_QUOTA_TOTAL_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    WAITING_FIELD_NUMBER: _ClassVar[int]
    PUBLISHING_QUOTAS_FIELD_NUMBER: _ClassVar[int]
    platform: _resources_pb2.Platform
    external_id: str
    throttled_until: _timestamp_pb2.Timestamp
    reason: str
    app_usage_pct: float
    business_usage_pct: float
    instagram_quota_used: int
    instagram_quota_total: int
    in_flight: int
    waiting: int
    publishing_quotas: _containers.RepeatedCompositeFieldContainer[_resources_pb2.PublishingQuota]
    def __init__(self, platform: _Optional[_Union[_resources_pb2.Platform, str]] = ..., external_id: _Optional[str] = ..., throttled_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ..., app_usage_pct: _Optional[float] = ..., business_usage_pct: _Optional[float] = ..., instagram_quota_used: _Optional[int] = ..., instagram_quota_total: _Optional[int] = ..., in_flight: _Optional[int] = ..., waiting: _Optional[int] = ..., publishing_quotas: _Optional[_Iterable[_Union[_resources_pb2.PublishingQuota, _Mapping]]] = ...) -> None: ...

class PublisherStatus(_message.Message):
    __slots__ = ("instance_id", "started_at", "in_flight", "concurrency", "published_total", "failed_total", "retried_total", "rate_limited_total", "dropped_total", "reconciled_total", "accounts", "nats_connected", "account_concurrency", "deferred_total", "queued", "forged_total")
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    FAILED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    RETRIED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    RATE_LIMITED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    DROPPED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    RECONCILED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    NATS_CONNECTED_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    DEFERRED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    FORGED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    instance_id: str
    started_at: _timestamp_pb2.Timestamp
    in_flight: int
    concurrency: int
    published_total: int
    failed_total: int
    retried_total: int
    rate_limited_total: int
    dropped_total: int
    reconciled_total: int
    accounts: _containers.RepeatedCompositeFieldContainer[AccountRateState]
    nats_connected: bool
    account_concurrency: int
    deferred_total: int
    queued: int
    forged_total: int
    def __init__(self, instance_id: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., in_flight: _Optional[int] = ..., concurrency: _Optional[int] = ..., published_total: _Optional[int] = ..., failed_total: _Optional[int] = ..., retried_total: _Optional[int] = ..., rate_limited_total: _Optional[int] = ..., dropped_total: _Optional[int] = ..., reconciled_total: _Optional[int] = ..., accounts: _Optional[_Iterable[_Union[AccountRateState, _Mapping]]] = ..., nats_connected: _Optional[bool] = ..., account_concurrency: _Optional[int] = ..., deferred_total: _Optional[int] = ..., queued: _Optional[int] = ..., forged_total: _Optional[int] = ...) -> None: ...
