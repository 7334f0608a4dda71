"""Who is calling: bearer tokens from the `authorization` metadata, checked by the interceptor."""

from __future__ import annotations

import hmac
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Mapping, Protocol

from postsched.errors import PostschedError, Unauthenticated


@dataclass(frozen=True)
class Principal:
    tenant_id: str | None  # None for operators
    operator: bool = False


class Authenticator(Protocol):
    def authenticate(self, token: str) -> Principal:
        """The principal for a token, or raises Unauthenticated."""


class TenantTokens:
    """Tenants' tokens (POSTSCHED_API_TOKENS): each token is one tenant."""

    def __init__(self, tokens: Mapping[str, str]) -> None:
        self._tokens = dict(tokens)

    def authenticate(self, token: str) -> Principal:
        tenant = self._tokens.get(token)
        if tenant is None:
            raise Unauthenticated("invalid token")
        return Principal(tenant_id=tenant)


class OperatorToken:
    """The operators' token (POSTSCHED_ADMIN_TOKEN)."""

    def __init__(self, token: str) -> None:
        self._token = token.encode()

    def authenticate(self, token: str) -> Principal:
        if not hmac.compare_digest(token.encode(), self._token):
            raise Unauthenticated("invalid token")
        return Principal(tenant_id=None, operator=True)


_principal: ContextVar[Principal] = ContextVar("postsched_principal")


def set_principal(principal: Principal) -> None:
    _principal.set(principal)


def current_principal() -> Principal:
    """The caller of the RPC being handled (set by the interceptor before the handler runs)."""
    try:
        return _principal.get()
    except LookupError:
        raise PostschedError("no authenticated caller in this context") from None


def current_tenant() -> str:
    tenant = current_principal().tenant_id
    if tenant is None:
        raise Unauthenticated("this call needs a tenant token")
    return tenant


def bearer_token(metadata: tuple[tuple[str, str | bytes], ...] | None) -> str:
    """The token of 'authorization: Bearer TOKEN', or raises Unauthenticated."""
    for key, value in metadata or ():
        if key.lower() == "authorization":
            text = value.decode() if isinstance(value, bytes) else value
            scheme, _, token = text.strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            raise Unauthenticated("authorization metadata must be 'Bearer TOKEN'")
    raise Unauthenticated()
