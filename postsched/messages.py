"""Store records -> API messages (postsched.v1). The one place that knows both shapes."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from postsched.store.events import EventRecord
from postsched.store.records import AccountRecord, PostRecord
from postsched.v1 import resources_pb2, scheduler_pb2

PLATFORM_TO_API = {
    "facebook_page": resources_pb2.FACEBOOK_PAGE,
    "instagram": resources_pb2.INSTAGRAM,
    "webhook": resources_pb2.WEBHOOK,
}
PLATFORM_FROM_API = {v: k for k, v in PLATFORM_TO_API.items()}


def timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def account_message(record: AccountRecord) -> resources_pb2.Account:
    return resources_pb2.Account(
        account_id=str(record.id),
        platform=PLATFORM_TO_API[record.platform],
        external_id=record.external_id,
        display_name=record.display_name,
        paused=record.paused,
        needs_credentials=record.needs_credentials,
        disabled=record.disabled,
        created_at=timestamp(record.created_at),
        updated_at=timestamp(record.updated_at),
    )


def post_message(record: PostRecord) -> resources_pb2.Post:
    return resources_pb2.Post(
        post_id=str(record.id),
        account_id=str(record.account_id),
        status=resources_pb2.PostStatus.Value(record.status),
        text=record.text,
        media_urls=record.media_urls,
        link=record.link,
        scheduled_at=timestamp(record.scheduled_at),
        published_at=timestamp(record.published_at),
        platform_post_id=record.platform_post_id or "",
        attempts=record.attempts,
        last_error=record.last_error or "",
        created_at=timestamp(record.created_at),
        updated_at=timestamp(record.updated_at),
        idempotency_key=record.idempotency_key or "",
        tenant_id=record.tenant_id,
        permalink=record.permalink or "",
    )


def event_message(record: EventRecord) -> scheduler_pb2.Event:
    data = record.data
    waiting = None
    if record.type == "post.waiting" and data.get("scheduled_at"):
        waiting = timestamp(datetime.fromisoformat(data["scheduled_at"]))
    return scheduler_pb2.Event(
        event_id=str(record.event_id), sequence=record.sequence, type=record.type, tenant_id=record.tenant_id,
        post_id=str(record.post_id or ""), account_id=str(record.account_id or ""),
        occurred_at=timestamp(record.occurred_at), post=post_message(record.post) if record.post else None,
        message=record.message, platform_post_id=data.get("platform_post_id") or "",
        permalink=data.get("permalink") or "",
        attempts=data.get("attempts") or 0, waiting_until=waiting,
    )
