"""page_size / page_token handling shared by every List call."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime
from typing import Callable, Sequence, TypeVar

from postsched.errors import FieldViolation, InvalidArgument
from postsched.store.records import PageCursor

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000

T = TypeVar("T")


def page_size(requested: int) -> int:
    """0 = the default; negative or above the maximum is refused."""
    if requested < 0 or requested > MAX_PAGE_SIZE:
        raise InvalidArgument([FieldViolation("page_size", f"must be between 0 and {MAX_PAGE_SIZE}")])
    return requested or DEFAULT_PAGE_SIZE


def encode_token(cursor: PageCursor) -> str:
    raw = json.dumps({"t": cursor.at.isoformat(), "i": str(cursor.id)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> PageCursor | None:
    """The cursor a next_page_token stands for; None for an empty token."""
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        at = datetime.fromisoformat(data["t"])
        if at.tzinfo is None:
            raise ValueError("naive time")
        return PageCursor(at=at, id=uuid.UUID(data["i"]))
    except (ValueError, KeyError, TypeError, json.JSONDecodeError):
        raise InvalidArgument(
            [FieldViolation("page_token", "not a token this API returned; pass next_page_token unchanged")]
        ) from None


def cut_page(rows: Sequence[T], limit: int, cursor_of: Callable[[T], PageCursor]) -> tuple[Sequence[T], str]:
    """Rows fetched with LIMIT limit + 1 -> (the page, next_page_token; empty on the last page)."""
    if len(rows) <= limit:
        return rows, ""
    page = rows[:limit]
    return page, encode_token(cursor_of(page[-1]))
