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

    def seal(self, credentials: dict[str, str]) -> bytes:
        return self._fernet.encrypt(json.dumps(credentials, sort_keys=True).encode())

    def open(self, sealed: bytes) -> dict[str, str]:
        try:
            return json.loads(self._fernet.decrypt(bytes(sealed)))
        except InvalidToken:
            raise CredentialsUnreadable() from None

    def __repr__(self) -> str:  # never show the key
        return "CredentialBox(<sealed>)"
