"""Store records -> API messages (postsched.v1). The one place that knows both shapes."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from postsched.store.events import EventRecord
from postsched.store.recurring import RecurringRecord
from postsched.store.records import AccountRecord, PostRecord, QuotaRecord
from postsched.store.schedules import ScheduleRecord
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


def duration(value: timedelta) -> Duration:
    message = Duration()
    message.FromTimedelta(value)
    return message


def quota_message(quota: QuotaRecord) -> resources_pb2.PublishingQuota:
    return resources_pb2.PublishingQuota(
        name=quota.name, used=quota.used, total=quota.total, window=duration(quota.window),
        read_at=timestamp(quota.read_at), frees_at=timestamp(quota.frees_at))


def account_message(record: AccountRecord) -> resources_pb2.Account:
    return resources_pb2.Account(
        account_id=str(record.id),
        platform=PLATFORM_TO_API[record.platform],
        external_id=record.external_id,
        display_name=record.display_name,
        paused=record.paused,
        needs_credentials=record.needs_credentials,
        disabled=record.disabled,
        time_zone=record.time_zone,
        min_post_interval=duration(record.min_post_interval),
        credentials_status=f"CREDENTIALS_{record.credentials_status}" if record.credentials_status else None,
        credentials_expire_at=timestamp(record.credentials_expire_at),
        credentials_problem=record.credentials_problem or "",
        credentials_checked_at=timestamp(record.credentials_checked_at),
        publishing_quotas=[quota_message(q) for q in record.publishing_quotas],
        created_at=timestamp(record.created_at),
        updated_at=timestamp(record.updated_at),
    )


def post_message(record: PostRecord) -> resources_pb2.Post:
    return resources_pb2.Post(
        post_id=str(record.id),
        account_id=str(record.account_id),
        status=record.status,  # the enum by its name: protobuf refuses a name it does not know
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
        recurring_post_id=str(record.recurring_post_id or ""),
        occurrence_time=timestamp(record.occurrence_time),
        slotted=record.slotted,
        kind=record.kind,  # by name, as status
        reel=reel_message(record.reel),
        first_comment=record.first_comment or "",
        first_comment_status=f"FIRST_COMMENT_{record.first_comment_status}" if record.first_comment_status else None,
        first_comment_id=record.first_comment_id or "",
        first_comment_error=record.first_comment_error or "",
    )


GRADUATIONS = {resources_pb2.MANUAL: "MANUAL", resources_pb2.SS_PERFORMANCE: "SS_PERFORMANCE"}


def reel_options(message: resources_pb2.ReelOptions) -> dict[str, Any]:
    """A ReelOptions message as the post's stored reel options (only what was given)."""
    options: dict[str, Any] = {}
    if message.cover_url:
        options["cover_url"] = message.cover_url
    if message.thumb_offset_ms:
        options["thumb_offset_ms"] = message.thumb_offset_ms
    if message.HasField("share_to_feed"):
        options["share_to_feed"] = message.share_to_feed
    if message.audio_name:
        options["audio_name"] = message.audio_name
    if message.trial:
        options["trial"] = True
    if message.graduation_strategy:
        # An unknown number (a newer client's value) is kept as such, and refused by validation.
        options["graduation_strategy"] = GRADUATIONS.get(message.graduation_strategy, str(message.graduation_strategy))
    return options


def reel_message(options: dict[str, Any] | None) -> resources_pb2.ReelOptions | None:
    return resources_pb2.ReelOptions(**options) if options else None


def _waiting_until(record: EventRecord) -> str:
    """A post.waiting event's time the post is due again: due_at (events since migration 0011),
    else scheduled_at; "" for other events."""
    if record.type != "post.waiting":
        return ""
    return str(record.data.get("due_at") or record.data.get("scheduled_at") or "")


def event_message(record: EventRecord) -> scheduler_pb2.Event:
    data = record.data
    until = _waiting_until(record)
    waiting = timestamp(datetime.fromisoformat(until)) if until else None
    return scheduler_pb2.Event(
        event_id=str(record.event_id), sequence=record.sequence, type=record.type, tenant_id=record.tenant_id,
        post_id=str(record.post_id or ""), account_id=str(record.account_id or ""),
        occurred_at=timestamp(record.occurred_at), post=post_message(record.post) if record.post else None,
        message=record.message, platform_post_id=data.get("platform_post_id") or "",
        permalink=data.get("permalink") or "",
        attempts=data.get("attempts") or 0, waiting_until=waiting,
    )


# --- Events as JSON (webhook bodies, NATS messages) -----------------------------------------------
# The same JSON as json_format.MessageToJson(event_message(r), indent=None,
# preserving_proto_field_name=True), built without protobuf: the relay and the webhook deliveries
# encode every event, and protobuf's pure-Python JSON printer was a third of the dispatcher's CPU
# per post. tests/unit/test_messages.py checks the two agree, field for field, on every kind of event.


def json_time(value: datetime) -> str:
    """A Timestamp's JSON form: RFC 3339 in UTC with 0, 3 or 6 fractional digits, as protobuf prints it."""
    utc = value.astimezone(timezone.utc) if value.tzinfo else value
    micros = utc.microsecond
    text = utc.replace(microsecond=0, tzinfo=None).isoformat()  # strftime was a tenth of the relay's CPU
    if micros:
        text += f".{micros // 1000:03d}" if micros % 1000 == 0 else f".{micros:06d}"
    return text + "Z"


def _reel_json(options: dict[str, Any] | None) -> dict[str, Any] | None:
    """ReelOptions as protobuf's JSON has them (thumb_offset_ms is an int32: a number)."""
    if not options:
        return None
    order = resources_pb2.ReelOptions.DESCRIPTOR.fields_by_name
    return {k: options[k] for k in order if k in options and (options[k] or k == "share_to_feed")}


def _post_fields(record: PostRecord) -> dict[str, Any]:
    fields: dict[str, Any] = {"post_id": str(record.id), "account_id": str(record.account_id), "status": record.status}
    optional: list[tuple[str, Any]] = [
        ("text", record.text), ("media_urls", list(record.media_urls)), ("link", record.link),
        ("scheduled_at", record.scheduled_at and json_time(record.scheduled_at)),
        ("published_at", record.published_at and json_time(record.published_at)),
        ("platform_post_id", record.platform_post_id), ("attempts", record.attempts), ("last_error", record.last_error),
        ("created_at", record.created_at and json_time(record.created_at)),
        ("updated_at", record.updated_at and json_time(record.updated_at)),
        ("idempotency_key", record.idempotency_key), ("tenant_id", record.tenant_id), ("permalink", record.permalink),
        ("recurring_post_id", record.recurring_post_id and str(record.recurring_post_id)),
        ("occurrence_time", record.occurrence_time and json_time(record.occurrence_time)), ("slotted", record.slotted),
        ("kind", record.kind), ("reel", _reel_json(record.reel)), ("first_comment", record.first_comment),
        ("first_comment_status", record.first_comment_status and f"FIRST_COMMENT_{record.first_comment_status}"),
        ("first_comment_id", record.first_comment_id), ("first_comment_error", record.first_comment_error),
    ]
    fields.update((name, value) for name, value in optional if value)  # proto3 JSON leaves defaults out
    return fields


def event_json(record: EventRecord) -> bytes:
    data = record.data
    until = _waiting_until(record)
    fields: list[tuple[str, Any]] = [
        ("event_id", str(record.event_id)), ("sequence", str(record.sequence) if record.sequence else ""),
        ("type", record.type), ("tenant_id", record.tenant_id), ("post_id", str(record.post_id or "")),
        ("account_id", str(record.account_id or "")), ("occurred_at", json_time(record.occurred_at)),
        ("post", _post_fields(record.post) if record.post else None), ("message", record.message),
        ("platform_post_id", data.get("platform_post_id") or ""), ("attempts", data.get("attempts") or 0),
        ("waiting_until", json_time(datetime.fromisoformat(until)) if until else None),
        ("permalink", data.get("permalink") or ""),
    ]
    return json.dumps({name: value for name, value in fields if value}).encode()


RECURRING_STATUS_TO_API = {
    "ACTIVE": resources_pb2.RECURRING_POST_STATUS_ACTIVE,
    "PAUSED": resources_pb2.RECURRING_POST_STATUS_PAUSED,
    "ENDED": resources_pb2.RECURRING_POST_STATUS_ENDED,
    "CANCELLED": resources_pb2.RECURRING_POST_STATUS_CANCELLED,
}
RECURRING_STATUS_FROM_API = {v: k for k, v in RECURRING_STATUS_TO_API.items()}


def recurring_message(record: RecurringRecord, next_occurrences: list[datetime]) -> resources_pb2.RecurringPost:
    return resources_pb2.RecurringPost(
        recurring_post_id=str(record.id), account_id=str(record.account_id), text=record.text,
        media_urls=record.media_urls, link=record.link, start_time=record.start_time.isoformat(),
        time_zone=record.time_zone, recurrence=record.recurrence, status=RECURRING_STATUS_TO_API[record.status],
        next_occurrences=[t for t in map(timestamp, next_occurrences) if t is not None], occurrences_created=record.occurrences_created,
        occurrences_skipped=record.occurrences_skipped, created_at=timestamp(record.created_at),
        updated_at=timestamp(record.updated_at), idempotency_key=record.idempotency_key or "",
        kind=record.kind, reel=reel_message(record.reel), first_comment=record.first_comment or "",
    )


def schedule_message(record: ScheduleRecord | None, account_id: str, time_zone: str) -> resources_pb2.PostingSchedule:
    if record is None:
        return resources_pb2.PostingSchedule(account_id=account_id, time_zone=time_zone)
    return resources_pb2.PostingSchedule(
        account_id=str(record.account_id), time_zone=record.time_zone,
        slots=[resources_pb2.PostingSlot(day_of_week=day, time=at) for day, at in record.slots],
        updated_at=timestamp(record.updated_at),
    )
