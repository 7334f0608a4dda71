"""Turns: an order that serves tenants in rotation, and within each tenant its accounts in
rotation, each account's items in their own order (the dispatcher's overdue lease, in SQL, and
its hand-over rounds, here, share it)."""

from __future__ import annotations

from typing import Callable, Hashable, Iterable, TypeVar

T = TypeVar("T")


def in_turns(items: Iterable[T], *, tenant_of: Callable[[T], Hashable], account_of: Callable[[T], Hashable]) -> list[T]:
    """Every tenant's first item, then every tenant's second, ...; a tenant's items go round its
    accounts (every account's first, then every account's second, ...); ties keep the given order."""
    account_turn: dict[Hashable, int] = {}
    by_tenant: dict[Hashable, list[tuple[int, int, T]]] = {}
    for index, item in enumerate(items):
        account = account_of(item)
        turn = account_turn.get(account, 0)
        account_turn[account] = turn + 1
        by_tenant.setdefault(tenant_of(item), []).append((turn, index, item))
    ordered: list[tuple[int, int, int, T]] = []
    for entries in by_tenant.values():
        entries.sort(key=lambda e: (e[0], e[1]))
        ordered.extend((tenant_turn, turn, index, item) for tenant_turn, (turn, index, item) in enumerate(entries))
    ordered.sort(key=lambda e: (e[0], e[1], e[2]))
    return [e[3] for e in ordered]
