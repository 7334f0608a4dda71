"""The checks every request gets before its handler (postsched/request_checks.py)."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from postsched import request_checks
from postsched.v1 import admin_pb2, scheduler_pb2


def fields(message) -> set[str]:  # type: ignore[no-untyped-def]
    return {v.field for v in request_checks.violations(message)}


def test_valid_requests_pass() -> None:
    request = scheduler_pb2.CreatePostRequest(account_id="x", text="🙂 é \u202e", media_urls=["https://e.com/a"],
                                              scheduled_at=Timestamp(seconds=253_402_300_799, nanos=999_999_999))
    assert request_checks.violations(request) == []
    assert request_checks.violations(admin_pb2.ListProcessingLogsRequest(since=Timestamp(seconds=-62_135_596_800))) == []


def test_nul_anywhere_in_any_string_nested_or_repeated() -> None:
    batch = scheduler_pb2.BatchCreatePostsRequest(requests=[
        scheduler_pb2.CreatePostRequest(text="fine"),
        scheduler_pb2.CreatePostRequest(text="a\x00", media_urls=["ok", "b\x00"], idempotency_key="\x00"),
    ])
    assert fields(batch) == {"requests[1].text", "requests[1].media_urls[1]", "requests[1].idempotency_key"}
    assert fields(admin_pb2.GetQueueStatsRequest(tenant_id="ac\x00me")) == {"tenant_id"}


def test_timestamps_out_of_range() -> None:
    for seconds, nanos in [(-62_135_596_801, 0), (253_402_300_800, 0), (0, -1), (0, 1_000_000_000), (2**62, 0)]:
        request = admin_pb2.ListProcessingLogsRequest(until=Timestamp(seconds=seconds, nanos=nanos))
        assert fields(request) == {"until"}, (seconds, nanos)


def test_durations_follow_the_well_known_type() -> None:
    check = request_checks.WELL_KNOWN_CHECKS["google.protobuf.Duration"]
    assert check(5, 1) is None and check(-5, -1) is None
    assert check(5, -1) and check(-5, 1) and check(315_576_000_001, 0) and check(0, 1_000_000_000)


def test_undecodable_bodies_become_a_violation_not_an_exception() -> None:
    deserialize = request_checks.tolerant(scheduler_pb2.GetPostRequest.FromString)
    assert deserialize is not None
    undecodable = deserialize(b"\x0a\x02\xff\xfe")
    assert isinstance(undecodable, request_checks.Undecodable)
    (violation,) = request_checks.violations(undecodable)
    assert violation.field == "request"
    assert violation.description == "is not a valid postsched.v1.GetPostRequest: String field had bad UTF-8"
    assert deserialize(b"\x0a\x01x").post_id == "x"


def test_the_deserializer_checks_and_its_fast_path_finds_the_same_times() -> None:
    deserialize = request_checks.tolerant(scheduler_pb2.BatchCreatePostsRequest.FromString)
    assert deserialize is not None
    batch = scheduler_pb2.BatchCreatePostsRequest(requests=[
        scheduler_pb2.CreatePostRequest(text="ok", scheduled_at=Timestamp(seconds=1_800_000_000)),
        scheduler_pb2.CreatePostRequest(text="late", scheduled_at=Timestamp(seconds=2**40)),
    ])
    rejected = deserialize(batch.SerializeToString())
    assert isinstance(rejected, request_checks.Rejected)
    assert [v.field for v in rejected.violations] == ["requests[1].scheduled_at"]
    assert request_checks.violations(batch, strings=False) == request_checks.violations(batch)
    batch.requests[0].text = "a\x00"
    assert {v.field for v in request_checks.violations(deserialize(batch.SerializeToString()))} == {
        "requests[0].text", "requests[1].scheduled_at"}
    batch.requests[1].scheduled_at.seconds = 1_800_000_000
    batch.requests[0].text = "ok"
    assert deserialize(batch.SerializeToString()) == batch
