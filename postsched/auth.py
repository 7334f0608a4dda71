"""Who is calling: bearer tokens from the `authorization` metadata, checked by the interceptor.

Tokens are kept only as SHA-256 digests, so a configuration may hold `sha256:<hex>` instead of the
token itself. A token given in clear must be at least MIN_TOKEN_LENGTH characters: a short one is
refused at start, naming the variable. Each list comes from a variable and/or a file; the file is
looked at again (stat) at most once a second when a call arrives and re-read when it changed (and
then stayed the same for a quarter of a second, so a file caught mid-write is not read), so a
rotation needs no restart: add the new token, move the callers over, remove the old one. A file that
no longer parses is ignored (the tokens in force stay) and logged.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from contextvars import ContextVar
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable, Mapping, Protocol

import structlog

from postsched.errors import ConfigError, PostschedError, Unauthenticated

log = structlog.get_logger("postsched.auth")

MIN_TOKEN_LENGTH = 32
DIGEST_PREFIX = "sha256:"
RECHECK_SECONDS = 1.0  # how stale a tokens file may be
# A changed file is read only once it has looked the same for this long: `echo … > file` truncates
# before it writes, and an empty file read in between would sign everyone out for a second.
SETTLE_SECONDS = 0.25
_UNSEEN = object()
TENANT_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
OPERATOR_NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
DEFAULT_OPERATOR = "operator"  # the name of the single POSTSCHED_ADMIN_TOKEN


@dataclass(frozen=True)
class Principal:
    tenant_id: str | None  # None for operators
    operator: bool = False
    name: str = ""  # an operator's name, written in the audit trail of what they do


class Authenticator(Protocol):
    def authenticate(self, token: str) -> Principal:
        """The principal for a token, or raises Unauthenticated."""


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _secret(value: str, where: str, who: str) -> bytes:
    """A token's digest from its clear text (long enough) or from `sha256:<hex>`. `who` says which
    entry without quoting it: a line written the wrong way round would hold the token in the name."""
    if value.startswith(DIGEST_PREFIX):
        hexdigest = value[len(DIGEST_PREFIX):]
        if not re.fullmatch(r"[0-9a-fA-F]{64}", hexdigest):
            raise ConfigError(f"{where}: the digest of {who} must be sha256: and 64 hexadecimal digits")
        return bytes.fromhex(hexdigest)
    if len(value) < MIN_TOKEN_LENGTH:
        raise ConfigError(
            f"{where}: the token of {who} has {len(value)} characters; tokens must have at least "
            f"{MIN_TOKEN_LENGTH} (make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'), "
            f"or give its digest as {DIGEST_PREFIX}<hex>"
        )
    return digest(value)


def parse_entries(items: Iterable[str], where: str, *, operators: bool) -> dict[bytes, Principal]:
    """'name:token' (or 'name:sha256:<hex>') items -> {digest: principal}; raises ConfigError naming `where`."""
    pattern, kind = (OPERATOR_NAME, "operator") if operators else (TENANT_ID, "tenant")
    table: dict[bytes, Principal] = {}
    for number, item in enumerate(items, 1):
        name, sep, secret = item.strip().partition(":")
        name, secret = name.strip(), secret.strip()
        which = f"entry {number}"  # never the entry's text: it may be a token
        if not sep or not name or not secret:
            raise ConfigError(f"{where}: {which} is not a {kind}:token pair")
        if not pattern.fullmatch(name):
            raise ConfigError(f"{where}: the {kind} name of {which} may hold only letters, digits, '-', '_', '.'"
                              + (" and '@'" if operators else "") + ", at most 64")
        key = _secret(secret, where, f"{which} ({kind} {name})" if len(name) < MIN_TOKEN_LENGTH else which)
        if key in table:
            raise ConfigError(f"{where}: the same token is given twice")
        table[key] = Principal(tenant_id=None, operator=True, name=name) if operators else Principal(tenant_id=name)
    return table


def _file_items(text: str) -> list[str]:
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


@dataclass(frozen=True)
class TokenConfig:
    """Where a list of tokens comes from: entries from the environment, and a file read again on change."""

    entries: Mapping[bytes, Principal]
    file: Path | None = None
    file_variable: str = ""
    operators: bool = False
    # The other door's tokens, when this process knows them (`postsched up` gives every service
    # both): a token that belongs there is refused with a message saying so, not "invalid token".
    elsewhere: "TokenConfig | None" = None

    def read_file(self) -> dict[bytes, Principal]:
        if self.file is None:
            return {}
        try:
            text = self.file.read_text()
        except OSError as exc:
            raise ConfigError(f"{self.file_variable}: cannot read {self.file}: {exc.strerror or exc}") from None
        return parse_entries(_file_items(text), f"{self.file_variable} ({self.file})", operators=self.operators)

    def names(self) -> set[str]:
        """The tenants (or operators) named at start, from the variable and the file."""
        table = {**self.read_file(), **self.entries}
        return {p.name if p.operator else p.tenant_id or "" for p in table.values()}


WRONG_DOOR = {
    True: "this is a tenant's token; this service takes an operators' token (POSTSCHED_ADMIN_TOKEN)",
    False: "this is an operators' token; the scheduler takes a tenant's token (POSTSCHED_API_TOKENS)",
}


def _elsewhere(make: Callable[[Mapping[str, str]], TokenConfig], env: Mapping[str, str]) -> TokenConfig | None:
    """The other door's tokens if this process is given them and they parse; else None (a hint only)."""
    try:
        return make(env)
    except ConfigError:
        return None


def tenant_tokens(env: Mapping[str, str]) -> TokenConfig:
    """POSTSCHED_API_TOKENS ('tenant:token,...') and/or POSTSCHED_API_TOKENS_FILE (one pair a line),
    with the operators' tokens, if given, to recognise one used at the wrong door."""
    return replace(_tenant_tokens(env), elsewhere=_elsewhere(_operator_tokens, env))


def operator_tokens(env: Mapping[str, str]) -> TokenConfig:
    """POSTSCHED_ADMIN_TOKEN (one operator, named 'operator'), POSTSCHED_ADMIN_TOKENS ('alice:token,...')
    and/or POSTSCHED_ADMIN_TOKENS_FILE, with the tenants' tokens, if given, to recognise one used at
    the wrong door."""
    return replace(_operator_tokens(env), elsewhere=_elsewhere(_tenant_tokens, env))


def _tenant_tokens(env: Mapping[str, str]) -> TokenConfig:
    value = env.get("POSTSCHED_API_TOKENS", "").strip()
    path = env.get("POSTSCHED_API_TOKENS_FILE", "").strip()
    if not value and not path:
        raise ConfigError("POSTSCHED_API_TOKENS is not set (format: tenant:token,tenant2:token2), "
                          "nor POSTSCHED_API_TOKENS_FILE")
    config = TokenConfig(parse_entries(value.split(",") if value else [], "POSTSCHED_API_TOKENS", operators=False),
                         Path(path) if path else None, "POSTSCHED_API_TOKENS_FILE")
    _check_joined(config, "POSTSCHED_API_TOKENS")
    return config


def _operator_tokens(env: Mapping[str, str]) -> TokenConfig:
    single = env.get("POSTSCHED_ADMIN_TOKEN", "").strip()
    named = env.get("POSTSCHED_ADMIN_TOKENS", "").strip()
    path = env.get("POSTSCHED_ADMIN_TOKENS_FILE", "").strip()
    if not single and not named and not path:
        raise ConfigError("POSTSCHED_ADMIN_TOKEN is not set (nor POSTSCHED_ADMIN_TOKENS or POSTSCHED_ADMIN_TOKENS_FILE)")
    entries = parse_entries([f"{DEFAULT_OPERATOR}:{single}"] if single else [], "POSTSCHED_ADMIN_TOKEN", operators=True)
    for key, principal in parse_entries(named.split(",") if named else [], "POSTSCHED_ADMIN_TOKENS", operators=True).items():
        if key in entries:
            raise ConfigError("POSTSCHED_ADMIN_TOKENS: the same token is given twice")
        entries[key] = principal
    config = TokenConfig(entries, Path(path) if path else None, "POSTSCHED_ADMIN_TOKENS_FILE", operators=True)
    _check_joined(config, "POSTSCHED_ADMIN_TOKENS")
    return config


def _check_joined(config: TokenConfig, variable: str) -> None:
    """At start a missing or malformed file, or a token in both places, stops the service."""
    if set(config.read_file()) & set(config.entries):
        raise ConfigError(f"{variable} and {config.file_variable} give the same token twice")


class TokenBook:
    """An Authenticator over a TokenConfig, following its file."""

    def __init__(self, config: TokenConfig, *, clock: Callable[[], float] = time.monotonic,
                 on_change: Callable[[set[str]], None] | None = None) -> None:
        self._config = config
        self._clock = clock
        self._on_change = on_change
        self._stamp = self._file_stamp()  # before the read: a change meanwhile is seen at the next look
        self._file_entries = config.read_file()
        self._checked = clock()
        self._bad_stamp: tuple[int, int, int] | None | bool = False  # the file's stamp when it did not parse
        self._pending: object = _UNSEEN  # a new stamp seen once, read when seen again SETTLE_SECONDS later
        self._elsewhere = TokenBook(config.elsewhere, clock=clock) if config.elsewhere is not None else None

    def _file_stamp(self) -> tuple[int, int, int] | None:
        if self._config.file is None:
            return None
        try:
            st = os.stat(self._config.file)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _refresh(self) -> None:
        now = self._clock()
        wait = RECHECK_SECONDS if self._pending is _UNSEEN else SETTLE_SECONDS
        if self._config.file is None or now - self._checked < wait:
            return
        self._checked = now
        stamp = self._file_stamp()
        if stamp == self._stamp or stamp == self._bad_stamp:
            self._pending = _UNSEEN
            return
        if stamp != self._pending:  # changed since the last look: it may still be being written
            self._pending = stamp
            return
        self._pending = _UNSEEN
        try:
            entries = self._config.read_file()
            if self._file_stamp() != stamp:  # written to while it was read: look again later
                self._pending = self._file_stamp()
                return
            if set(entries) & set(self._config.entries):
                raise ConfigError(f"{self._config.file_variable} repeats a token given in the environment")
        except ConfigError as exc:  # logged once per bad version of the file
            log.error("tokens file not re-read; the tokens in force stay", file=str(self._config.file),
                      reason=exc.message)
            self._bad_stamp = stamp
            return
        before = set(self._file_entries.values())
        self._file_entries, self._stamp, self._bad_stamp = entries, stamp, False
        log.info("tokens file re-read", file=str(self._config.file), tokens=len(entries))
        added = set(entries.values()) - before
        if self._on_change is not None and added:
            self._on_change({p.tenant_id or p.name for p in added})

    def authenticate(self, token: str) -> Principal:
        # A dict lookup by digest: what its timing could tell is about digests, not tokens.
        key = digest(token)
        principal = self.holder(key)
        if principal is None:
            if self._elsewhere is not None and self._elsewhere.holder(key) is not None:
                raise Unauthenticated(WRONG_DOOR[self._config.operators])
            raise Unauthenticated("invalid token")
        return principal

    def holder(self, key: bytes) -> Principal | None:
        """Whose token has this digest, if it is configured now."""
        self._refresh()
        return self._config.entries.get(key) or self._file_entries.get(key)

    def key_material(self) -> bytes:
        """Bytes that only this configuration's holders know (the digests at start), for keys of its own."""
        return b"".join(sorted({**self._file_entries, **self._config.entries}))


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


def current_operator() -> str:
    """The name of the operator making the call, for the audit trail."""
    return current_principal().name or DEFAULT_OPERATOR


def bearer_token(metadata: Iterable[tuple[str, str | bytes]] | None) -> str:
    """The token of 'authorization: Bearer TOKEN', or raises Unauthenticated."""
    for key, value in metadata or ():
        if key.lower() == "authorization":
            text = value.decode() if isinstance(value, bytes) else value
            scheme, _, token = text.strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            raise Unauthenticated("authorization metadata must be 'Bearer TOKEN'")
    raise Unauthenticated()
