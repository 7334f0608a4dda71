"""Page tokens: only ours, only for the query that produced them, refused cheaply otherwise."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime, timezone

import pytest

from postsched.errors import InvalidArgument
from postsched.paging import PageTokens, binding, page_size
from postsched.store.records import PageCursor

CURSOR = PageCursor(at=datetime(2026, 12, 1, 12, 0, 0, 123456, tzinfo=timezone.utc), id=uuid.uuid4())
BOUND = binding("acme", "ListPosts", "SCHEDULED", None)
TOKENS = PageTokens(b"k" * 32)


def refused(token: str, bound_to: str = BOUND, tokens: PageTokens = TOKENS) -> bool:
    with pytest.raises(InvalidArgument) as caught:
        tokens.cursor(token, bound_to)
    assert caught.value.message == "invalid page_token"
    assert [v.field for v in caught.value.violations] == ["page_token"]
    return True


def test_round_trip_and_empty() -> None:
    token = TOKENS.cursor_token(CURSOR, BOUND)
    assert TOKENS.cursor(token, BOUND) == CURSOR
    assert TOKENS.cursor("", BOUND) is None
    assert len(token) < 160
    assert TOKENS.last_id(TOKENS.id_token(42, BOUND), BOUND) == 42


def test_bound_to_caller_method_filters_and_key() -> None:
    token = TOKENS.cursor_token(CURSOR, BOUND)
    assert refused(token, binding("globex", "ListPosts", "SCHEDULED", None))
    assert refused(token, binding("acme", "ListAccounts", "SCHEDULED", None))
    assert refused(token, binding("acme", "ListPosts", "FAILED", None))
    assert refused(token, tokens=PageTokens(b"another deployment's secret"))


def test_forged_truncated_tampered_nested_oversized() -> None:
    token = TOKENS.cursor_token(CURSOR, BOUND)
    payload = base64.urlsafe_b64encode(json.dumps([CURSOR.at.isoformat(), str(uuid.uuid4())]).encode()).decode()
    assert refused(payload)  # the unsigned format of before
    assert refused(payload + "." + token.partition(".")[2])  # someone else's cursor, our MAC
    assert refused(token[:-5])
    assert refused(token[: len(token) // 2])
    middle = len(token) // 3
    assert refused(token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1:])
    assert refused(base64.urlsafe_b64encode(b"[" * 100_000).decode())
    assert refused("A" * 100_000)
    assert refused("é" * 10)
    assert refused(".")


def test_log_ids_never_overflow_bigint() -> None:
    assert TOKENS.last_id(TOKENS.id_token(2**63 - 1, BOUND), BOUND) == 2**63 - 1
    with pytest.raises(InvalidArgument):
        TOKENS.last_id(TOKENS.id_token(2**63, BOUND), BOUND)
    with pytest.raises(InvalidArgument):
        TOKENS.last_id("9" * 40, BOUND)


@pytest.mark.parametrize("size", [-1, 1001])
def test_page_size_bounds(size: int) -> None:
    with pytest.raises(InvalidArgument):
        page_size(size)


def test_a_token_reveals_nothing_of_what_it_stands_for() -> None:
    first, second = TOKENS.id_token(12_345, BOUND), TOKENS.id_token(12_345, BOUND)
    assert first != second  # a fresh nonce each time: equal cursors do not even look equal
    for token in (first, TOKENS.cursor_token(CURSOR, BOUND)):
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        assert b"12345" not in raw and str(CURSOR.id).encode() not in raw and b"2026" not in raw
        assert "12345" not in token
