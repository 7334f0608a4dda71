"""Platform credentials, sealed with POSTSCHED_SECRET_KEY (Fernet: AES-128-CBC + HMAC-SHA256)."""

from __future__ import annotations

import json

from cryptography.fernet import Fernet, InvalidToken

from postsched.errors import PostschedError


class CredentialsUnreadable(PostschedError):
    """Stored credentials cannot be decrypted with POSTSCHED_SECRET_KEY (was the key changed?)."""


class CredentialBox:
    """Seals and opens the credentials an account stores. The clear text never reaches a log."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)
        # Opened credentials by sealed value: the publisher opens the same account's credentials
        # for every post, and decryption is a noticeable share of its CPU per post.
        self._opened: dict[bytes, dict[str, str]] = {}

    def seal(self, credentials: dict[str, str]) -> bytes:
        return self._fernet.encrypt(json.dumps(credentials, sort_keys=True).encode())

    def open(self, sealed: bytes) -> dict[str, str]:
        sealed = bytes(sealed)
        opened = self._opened.get(sealed)
        if opened is None:
            try:
                opened = json.loads(self._fernet.decrypt(sealed))
            except InvalidToken:
                raise CredentialsUnreadable() from None
            if len(self._opened) > 10_000:
                self._opened.clear()
            self._opened[sealed] = opened
        return dict(opened)

    def __repr__(self) -> str:  # never show the key
        return "CredentialBox(<sealed>)"
