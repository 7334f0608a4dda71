"""Heartbeats as the admin reads them: only the shape the services send is kept."""

from __future__ import annotations

import json

import pytest

from postsched.heartbeat import MAX_REPLICAS, Replicas, parse

GOOD = {"service": "publisher", "instance": "host-1-abc", "healthy": True,
        "duties": {"consumer": True, "rescuer": False}, "figures": {"in flight": 3, "published": 10}}


def test_the_shape_we_send_is_kept_and_only_it() -> None:
    assert parse(json.dumps(GOOD).encode()) == GOOD
    extra = {**GOOD, "healthy": "yes", "figures": {"x": "<script>", "y": 1.5, "z": True}, "evil": [1]}
    assert parse(json.dumps(extra).encode()) == {**GOOD, "healthy": False, "figures": {"y": 1.5}}


@pytest.mark.parametrize("data", [
    b"", b"not json", b"[]", b"1", b"null", b"[" * 100_000, b"{" + b" " * 20_000 + b"}",
    json.dumps({"instance": "no-service"}).encode(), json.dumps({"service": "x"}).encode(),
    json.dumps({"service": 1, "instance": "i"}).encode(), json.dumps({"service": "x", "instance": ""}).encode(),
    json.dumps({"service": "x", "instance": "i" * 201}).encode(),
    json.dumps({"service": "x", "instance": "i", "duties": [1]}).encode(),
])
def test_anything_else_is_dropped(data: bytes) -> None:
    assert parse(data) is None


async def test_replicas_count_what_they_drop_and_keep_a_bounded_list() -> None:
    replicas = Replicas(now=lambda: 0.0)
    await replicas._heard(b"[]")  # noqa: SLF001
    await replicas._heard(json.dumps(GOOD).encode())  # noqa: SLF001
    assert replicas.dropped == 1 and [r["instance"] for r in replicas.listing()] == ["host-1-abc"]
    for i in range(MAX_REPLICAS + 50):
        await replicas._heard(json.dumps({**GOOD, "instance": f"made-up-{i}"}).encode())  # noqa: SLF001
    assert len(replicas.seen) == MAX_REPLICAS
