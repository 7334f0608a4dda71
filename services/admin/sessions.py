"""The dashboard's sign-in: a random session id per sign-in, kept server-side (as its digest, in
PostgreSQL, so every admin replica knows it and a restart signs nobody out), and a cross-site
request forgery token derived from it.

A session holds only while it has not expired (SESSION_SECONDS), nobody signed it out, and the
operator token it was opened with is still configured: changing or removing an operator's token
ends all of their sessions at their next request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from postsched.auth import Principal, TokenBook, digest
from postsched.clock import Clock
from postsched.store.dashboard_sessions import DashboardSessionStore

SESSION_COOKIE = "postsched_session"
SESSION_SECONDS = 12 * 3600


def _id_digest(session: str) -> bytes:
    return hashlib.sha256(session.encode()).digest()


class Sessions:
    def __init__(self, store: DashboardSessionStore, operators: TokenBook, clock: Clock) -> None:
        self._store = store
        self._operators = operators
        self._clock = clock

    async def sign_in(self, token: str, client: str) -> tuple[str, Principal]:
        """A new session for the operator whose token this is; raises Unauthenticated otherwise."""
        principal = self._operators.authenticate(token)
        session = secrets.token_urlsafe(32)
        now = self._clock.now()
        await self._store.create(_id_digest(session), principal.name, digest(token), client, now,
                                 now + timedelta(seconds=SESSION_SECONDS))
        return session, principal

    async def operator(self, session: str | None) -> Principal | None:
        """Who holds this session, or None when it is unknown, expired, signed out or its token changed."""
        if not session or len(session) > 100:
            return None
        row = await self._store.live(_id_digest(session), self._clock.now())
        if row is None:
            return None
        holder = self._operators.holder(row.token_digest)
        if holder is None or holder.name != row.operator:
            # Its token was changed or removed: ended for good (bringing the token back does not
            # bring the session back).
            await self._store.revoke(_id_digest(session), self._clock.now())
            return None
        return holder

    async def sign_out(self, session: str) -> None:
        await self._store.revoke(_id_digest(session), self._clock.now())

    @staticmethod
    def csrf_token(session: str) -> str:
        """What a page of this session must send back with every change (X-CSRF-Token, or the form's
        csrf field). Derived from the session id, which a page elsewhere cannot read (HttpOnly)."""
        return hmac.new(session.encode(), b"postsched csrf", hashlib.sha256).hexdigest()

    @classmethod
    def csrf_matches(cls, session: str, offered: str | None) -> bool:
        return offered is not None and hmac.compare_digest(offered.encode(), cls.csrf_token(session).encode())
