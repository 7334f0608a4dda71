"""Events as JSON: the fast encoder gives exactly protobuf's JSON of the Event message."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from google.protobuf import json_format

from postsched.messages import event_json, event_message
from postsched.store.events import EVENT_TYPES, EventRecord
from postsched.store.records import PostRecord
from postsched.v1 import resources_pb2, scheduler_pb2

BASE = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
MICROS = (0, 123_000, 123_456, 1)


def post(variant: int) -> PostRecord:
    micro = MICROS[variant % len(MICROS)]
    published = variant % 2 == 0
    return PostRecord(
        id=uuid.uuid4(), tenant_id="acme" if variant % 3 else "t.ü", account_id=uuid.uuid4(),
        status=["SCHEDULED", "QUEUED", "PUBLISHING", "PUBLISHED", "FAILED", "CANCELLED"][variant % 6],
        text=["", "héllo \"quoted\" \\ \n 🎉", "plain"][variant % 3], media_urls=[[], ["https://x/a.jpg", "https://x/b.mp4"]][variant % 2],
        link=["", "https://example.com/ä"][variant % 2],
        scheduled_at=BASE + timedelta(microseconds=micro), published_at=BASE + timedelta(seconds=5) if published else None,
        platform_post_id="1_2" if published else None, attempts=variant % 4, last_error=None if variant % 2 else "boom",
        idempotency_key=None if variant % 3 else "key-1", created_at=BASE.astimezone(timezone(timedelta(hours=2))),
        updated_at=BASE + timedelta(microseconds=MICROS[(variant + 1) % len(MICROS)]),
        permalink="https://www.facebook.com/1/posts/2" if published else None,
        recurring_post_id=uuid.uuid4() if variant % 3 == 1 else None,
        occurrence_time=BASE + timedelta(microseconds=micro) if variant % 3 == 1 else None, slotted=variant % 4 == 2,
        kind=["FEED", "REEL", "STORY"][variant % 3],
        reel=[None, {"cover_url": "https://x/c.jpg", "thumb_offset_ms": 1500, "share_to_feed": False,
                     "trial": True, "graduation_strategy": "SS_PERFORMANCE", "audio_name": "ü"}][variant % 2],
        first_comment=["", "#tag ü \"q\""][variant % 2] or None,
        first_comment_status=[None, "PENDING", "PUBLISHED", "FAILED"][variant % 4],
        first_comment_id="17_99" if variant % 4 == 2 else None,
        first_comment_error="Meta error 100" if variant % 4 == 3 else None,
    )


def events() -> list[EventRecord]:
    out = []
    for n, (kind, variant) in enumerate(itertools.product(EVENT_TYPES, range(8))):
        data = {} if variant == 7 else {
            "status": "PUBLISHED", "attempts": variant % 3, "platform_post_id": "1_2" if variant % 2 else None,
            "scheduled_at": (BASE + timedelta(microseconds=MICROS[variant % 4])).isoformat(),
            "permalink": "https://www.instagram.com/p/Abc/" if variant % 2 else None,
        }
        if variant % 3 == 2 and data:  # events since migration 0011 carry due_at (waiting_until)
            data["due_at"] = (BASE + timedelta(minutes=10)).isoformat()
        account_event = not kind.startswith("post.")  # account and recurring-post events name no post
        out.append(EventRecord(
            event_id=uuid.uuid4(), sequence=n, type=kind, tenant_id="acme", post_id=None if account_event else uuid.uuid4(),
            account_id=uuid.uuid4(), occurred_at=BASE + timedelta(microseconds=MICROS[variant % 4]),
            message=["", "Meta error 2: ünavailable"][variant % 2], data=data,
            post=None if account_event or variant == 5 else post(variant),
        ))
    return out


@pytest.mark.parametrize("record", events(), ids=lambda r: f"{r.type}-{r.sequence}")
def test_event_json_is_protobufs_json(record: EventRecord) -> None:
    expected = json_format.MessageToJson(event_message(record), indent=None, preserving_proto_field_name=True)
    assert event_json(record).decode() == expected


def test_the_encoder_knows_every_field_of_event_and_post() -> None:
    # A field added to the protos must be added to event_json too (these lists are its fields).
    assert [f.name for f in scheduler_pb2.Event.DESCRIPTOR.fields] == [
        "event_id", "sequence", "type", "tenant_id", "post_id", "account_id", "occurred_at", "post", "message",
        "platform_post_id", "attempts", "waiting_until", "permalink"]
    assert [f.name for f in resources_pb2.Post.DESCRIPTOR.fields] == [
        "post_id", "account_id", "status", "text", "media_urls", "link", "scheduled_at", "published_at",
        "platform_post_id", "attempts", "last_error", "created_at", "updated_at", "idempotency_key", "tenant_id",
        "permalink", "recurring_post_id", "occurrence_time", "slotted", "kind", "reel", "first_comment",
        "first_comment_status", "first_comment_id", "first_comment_error"]


@pytest.mark.parametrize("value", [
    datetime(1, 1, 1, tzinfo=timezone.utc), datetime(999, 5, 6, 7, 8, 9, 120_000, tzinfo=timezone.utc),
    datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=timezone.utc),
    datetime(2026, 3, 29, 1, 30, 0, 5, tzinfo=timezone(timedelta(hours=-7))),
])
def test_times_print_as_protobuf_prints_timestamps(value: datetime) -> None:
    from postsched.messages import json_time, timestamp

    assert json_time(value) == timestamp(value).ToJsonString()
