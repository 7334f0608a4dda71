"""Unit tests of the scheduler's validation rules (no database)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from postsched.errors import InvalidArgument
from postsched.outbound import OutboundPolicy
from postsched.v1 import resources_pb2, scheduler_pb2
from services.scheduler import validation

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)
ACCOUNT = str(uuid.uuid4())


def shape(**fields):  # type: ignore[no-untyped-def]
    return validation.post_shape(scheduler_pb2.CreatePostRequest(account_id=ACCOUNT, **fields), NOW)


def fields_of(violations) -> set[str]:  # type: ignore[no-untyped-def]
    return {v.field for v in violations}


def test_valid_post_shape() -> None:
    post, problems = shape(text="hi", media_urls=["https://cdn.example.com/a.jpg"], link="http://example.com/x")
    assert problems == [] and post is not None
    assert post.scheduled_at is None and post.idempotency_key is None


def test_schedule_horizon() -> None:
    at = Timestamp()
    at.FromDatetime(NOW + timedelta(days=400))
    assert shape(text="x", scheduled_at=at)[1] == []
    at.FromDatetime(NOW + timedelta(days=400, seconds=1))
    assert fields_of(shape(text="x", scheduled_at=at)[1]) == {"scheduled_at"}


def test_a_day_back_is_as_soon_as_possible_further_back_a_mistake() -> None:
    at = Timestamp()
    at.FromDatetime(NOW - timedelta(hours=24))
    assert shape(text="x", scheduled_at=at)[1] == []
    at.FromDatetime(NOW - timedelta(hours=24, seconds=1))
    (problem,) = shape(text="x", scheduled_at=at)[1]
    assert problem.field == "scheduled_at" and "24 hours in the past" in problem.description
    at = Timestamp(seconds=1)  # 1970: seconds taken for milliseconds, or no time at all
    assert fields_of(shape(text="x", scheduled_at=at)[1]) == {"scheduled_at"}


def test_out_of_range_timestamp() -> None:
    at = Timestamp(seconds=2**62)
    assert fields_of(shape(text="x", scheduled_at=at)[1]) == {"scheduled_at"}


@pytest.mark.parametrize("url", ["ftp://x.com/a", "https://", "/relative", "https://exa mple.com", "http://x.com/" + "a" * 2048])
def test_bad_urls(url: str) -> None:
    assert fields_of(shape(text="x", media_urls=[url])[1]) == {"media_urls[0]"}
    assert fields_of(shape(text="x", link=url)[1]) == {"link"}


def test_needs_text_or_media() -> None:
    assert fields_of(shape()[1]) == {"text"}
    assert shape(media_urls=["https://e.com/a.jpg"])[1] == []


def test_prefix_names_batch_items() -> None:
    _, problems = validation.post_shape(scheduler_pb2.CreatePostRequest(account_id="bad", text="x"), NOW, "requests[7].")
    assert fields_of(problems) == {"requests[7].account_id"}


def test_instagram_rules() -> None:
    post, _ = shape(text="#a " * 30, media_urls=["https://e.com/a.jpg"])
    assert validation.platform_rules(post, "instagram") == []
    post, _ = shape(text="#a " * 31, media_urls=["https://e.com/a.jpg"])
    assert fields_of(validation.platform_rules(post, "instagram")) == {"text"}
    post, _ = shape(text="x" * 2200, media_urls=["https://e.com/a.jpg"])
    assert validation.platform_rules(post, "instagram") == []
    post, _ = shape(text="only text")
    assert fields_of(validation.platform_rules(post, "instagram")) == {"media_urls"}
    assert validation.platform_rules(post, "facebook_page") == []


def test_facebook_limit() -> None:
    post, _ = shape(text="x" * 63_206)
    assert validation.platform_rules(post, "facebook_page") == []
    post, _ = shape(text="x" * 63_207)
    assert fields_of(validation.platform_rules(post, "facebook_page")) == {"text"}


def test_new_account_keeps_credentials_out_of_repr() -> None:
    account = validation.new_account(
        scheduler_pb2.CreateAccountRequest(platform=resources_pb2.FACEBOOK_PAGE, external_id="123", access_token="EAAsecret"), OutboundPolicy()
    )
    assert account.credentials == {"access_token": "EAAsecret"}
    assert "EAAsecret" not in repr(account)


def test_new_account_rejects_unknown_platform() -> None:
    with pytest.raises(InvalidArgument) as info:
        validation.new_account(scheduler_pb2.CreateAccountRequest(platform=42, external_id="1", access_token="t"), OutboundPolicy())
    assert fields_of(info.value.violations) == {"platform"}


def test_batch_size() -> None:
    validation.batch_size(1000)
    with pytest.raises(InvalidArgument):
        validation.batch_size(1001)
    with pytest.raises(InvalidArgument):
        validation.batch_size(0)
