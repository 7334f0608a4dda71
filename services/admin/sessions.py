"""The dashboard's sign-in: a session cookie and a cross-site request forgery token, both signed
with the operators' token (nothing stored server-side; changing the token signs everyone out)."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Callable

SESSION_COOKIE = "postsched_session"
SESSION_SECONDS = 12 * 3600


class Sessions:
    def __init__(self, admin_token: str, *, now: Callable[[], float] = time.time) -> None:
        self._key = admin_token.encode()
        self._now = now

    def _sign(self, purpose: str, value: str) -> str:
        return hmac.new(self._key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()

    def token_matches(self, offered: str) -> bool:
        return hmac.compare_digest(offered.encode(), self._key)

    def new_session(self) -> str:
        expires = str(int(self._now()) + SESSION_SECONDS)
        return f"{expires}.{self._sign('session', expires)}"

    def valid(self, session: str | None) -> bool:
        expires, _, signature = (session or "").partition(".")
        if not expires.isdigit() or int(expires) < self._now():
            return False
        return hmac.compare_digest(signature, self._sign("session", expires))

    def csrf_token(self, session: str) -> str:
        """What a page of this session must send back with every change (X-CSRF-Token)."""
        return self._sign("csrf", session)

    def csrf_matches(self, session: str, offered: str | None) -> bool:
        return offered is not None and hmac.compare_digest(offered.encode(), self.csrf_token(session).encode())
