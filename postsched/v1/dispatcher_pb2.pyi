import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DispatchNowRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DispatchNowResponse(_message.Message):
    __slots__ = ("leased", "published", "rescued")
    LEASED_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_FIELD_NUMBER: _ClassVar[int]
    RESCUED_FIELD_NUMBER: _ClassVar[int]
    leased: int
    published: int
    rescued: int
    def __init__(self, leased: _Optional[int] = ..., published: _Optional[int] = ..., rescued: _Optional[int] = ...) -> None: ...

class GetDispatcherStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DispatcherStatus(_message.Message):
    __slots__ = ("instance_id", "started_at", "last_tick_at", "next_tick_at", "lease_horizon", "interval_seconds", "leased_total", "published_total", "rescued_total", "released_total", "publish_failures_total", "holding", "nats_connected")
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_TICK_AT_FIELD_NUMBER: _ClassVar[int]
    NEXT_TICK_AT_FIELD_NUMBER: _ClassVar[int]
    LEASE_HORIZON_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    LEASED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    RESCUED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    RELEASED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    PUBLISH_FAILURES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    HOLDING_FIELD_NUMBER: _ClassVar[int]
    NATS_CONNECTED_FIELD_NUMBER: _ClassVar[int]
    instance_id: str
    started_at: _timestamp_pb2.Timestamp
    last_tick_at: _timestamp_pb2.Timestamp
    next_tick_at: _timestamp_pb2.Timestamp
    lease_horizon: _timestamp_pb2.Timestamp
    interval_seconds: float
    leased_total: int
    published_total: int
    rescued_total: int
    released_total: int
    publish_failures_total: int
    holding: int
    nats_connected: bool
    def __init__(self, instance_id: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_tick_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., next_tick_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., lease_horizon: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., interval_seconds: _Optional[float] = ..., leased_total: _Optional[int] = ..., published_total: _Optional[int] = ..., rescued_total: _Optional[int] = ..., released_total: _Optional[int] = ..., publish_failures_total: _Optional[int] = ..., holding: _Optional[int] = ..., nats_connected: _Optional[bool] = ...) -> None: ...
