"""page_size / page_token handling shared by every List call.

A page token is the cursor (a small JSON array) encrypted with AES-256-GCM, the token's *binding*
(the caller, the method and its filters) as associated data: urlsafe base64 of nonce, ciphertext
and tag. Only tokens this deployment issued are read, a token works only for the query that
produced it, it reveals nothing (no row id that would tell one tenant how many rows the others
have, no time), and it is authenticated before anything is parsed, so a forged, tampered,
truncated, oversized or deeply nested token is refused cheaply with INVALID_ARGUMENT.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import uuid
from datetime import datetime
from typing import Callable, Sequence, TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from postsched.errors import FieldViolation, InvalidArgument
from postsched.store.records import PageCursor

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
MAX_TOKEN_LENGTH = 512  # ours are about 110 characters
NONCE_BYTES = 12
MAX_LOG_ID = 2**63 - 1  # processing_logs.id is a bigint

T = TypeVar("T")


def page_size(requested: int) -> int:
    """0 = the default; negative or above the maximum is refused."""
    if requested < 0 or requested > MAX_PAGE_SIZE:
        raise InvalidArgument([FieldViolation("page_size", f"must be between 0 and {MAX_PAGE_SIZE}")])
    return requested or DEFAULT_PAGE_SIZE


def binding(caller: str, method: str, *filters: object) -> str:
    """What a token is bound to: who asked, which List call, with which filters."""
    return json.dumps([caller, method, *[str(f) for f in filters]])


def _invalid() -> InvalidArgument:
    return InvalidArgument(
        [FieldViolation("page_token", "invalid page_token: pass next_page_token unchanged, with the same filters")],
        message="invalid page_token",
    )


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PageTokens:
    """Issues and reads the page tokens of one deployment (every replica shares the secret)."""

    def __init__(self, secret: bytes) -> None:
        # A key of its own, derived from the deployment's secret, so tokens never reuse the
        # encryption or login key itself.
        self._aead = AESGCM(hmac.new(secret, b"postsched page tokens v2", hashlib.sha256).digest())

    def _issue(self, values: list[str], bound_to: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, json.dumps(values, separators=(",", ":")).encode(), bound_to.encode())
        return _b64(nonce + sealed)

    def _read(self, token: str, bound_to: str, count: int) -> list[str]:
        if len(token) > MAX_TOKEN_LENGTH or not token.isascii():
            raise _invalid()
        try:
            raw = _unb64(token)
            if len(raw) <= NONCE_BYTES:
                raise _invalid()
            plain = self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], bound_to.encode())
            values = json.loads(plain)
        except (ValueError, binascii.Error, InvalidTag):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise _invalid() from None
        if not isinstance(values, list) or len(values) != count or not all(isinstance(v, str) for v in values):
            raise _invalid()
        return values

    def cursor_token(self, cursor: PageCursor, bound_to: str) -> str:
        return self._issue([cursor.at.isoformat(), str(cursor.id)], bound_to)

    def cursor(self, token: str, bound_to: str) -> PageCursor | None:
        """The (time, id) cursor a next_page_token stands for; None for an empty token."""
        if not token:
            return None
        at, ident = self._read(token, bound_to, 2)
        try:
            return PageCursor(at=datetime.fromisoformat(at), id=uuid.UUID(ident))
        except ValueError:
            raise _invalid() from None

    def id_token(self, last_id: int, bound_to: str) -> str:
        return self._issue([str(last_id)], bound_to)

    def last_id(self, token: str, bound_to: str) -> int | None:
        """The row id a next_page_token of an id-ordered list stands for; None for an empty token."""
        if not token:
            return None
        (text,) = self._read(token, bound_to, 1)
        if not text.isdigit() or int(text) > MAX_LOG_ID:
            raise _invalid()
        return int(text)

    def cut_page(
        self, rows: Sequence[T], limit: int, cursor_of: Callable[[T], PageCursor], bound_to: str
    ) -> tuple[Sequence[T], str]:
        """Rows fetched with LIMIT limit + 1 -> (the page, next_page_token; empty on the last page)."""
        if len(rows) <= limit:
            return rows, ""
        page = rows[:limit]
        return page, self.cursor_token(cursor_of(page[-1]), bound_to)
