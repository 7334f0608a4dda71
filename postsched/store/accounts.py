"""Accounts and tenants: all their SQL."""

from __future__ import annotations

import uuid
from typing import Iterable

import sqlalchemy.exc
from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from postsched.clock import Clock
from postsched.credentials import CredentialBox
from postsched.errors import AlreadyExists, NotFound
from postsched.store.connection import transaction
from postsched.store.records import AccountRecord, NewAccount, PageCursor
from postsched.store.schema import accounts, tenants

ACCOUNT_COLUMNS = [accounts.c[name] for name in AccountRecord.__dataclass_fields__]


class AccountStore:
    def __init__(self, engine: AsyncEngine, box: CredentialBox, clock: Clock) -> None:
        self._engine = engine
        self._box = box
        self._clock = clock

    async def ensure_tenants(self, tenant_ids: Iterable[str]) -> None:
        """Creates the tenants named in POSTSCHED_API_TOKENS that the database does not know yet."""
        rows = [{"id": t} for t in sorted(set(tenant_ids))]
        if not rows:
            return
        async with transaction(self._engine) as conn:
            await conn.execute(insert(tenants).on_conflict_do_nothing(index_elements=["id"]), rows)

    async def create(self, tenant_id: str, new: NewAccount) -> AccountRecord:
        now = self._clock.now()
        row = {
            "id": uuid.uuid4(),
            "tenant_id": tenant_id,
            "platform": new.platform,
            "external_id": new.external_id,
            "display_name": new.display_name,
            "credentials": self._box.seal(new.credentials),
            "created_at": now,
            "updated_at": now,
        }
        stmt = insert(accounts).values(row).on_conflict_do_nothing(
            constraint="accounts_tenant_platform_external_key"
        ).returning(*ACCOUNT_COLUMNS)
        try:
            async with transaction(self._engine) as conn:
                created = (await conn.execute(stmt)).mappings().first()
        except sqlalchemy.exc.IntegrityError as exc:  # tenant row missing: a config/DB mismatch
            raise NotFound(f"tenant {tenant_id!r} is not known to the database") from exc
        if created is None:
            raise AlreadyExists(f"a {new.platform} account with external_id {new.external_id!r} already exists")
        return AccountRecord.from_row(created)

    async def get(self, tenant_id: str, account_id: uuid.UUID) -> AccountRecord:
        stmt = select(*ACCOUNT_COLUMNS).where(accounts.c.id == account_id, accounts.c.tenant_id == tenant_id)
        async with transaction(self._engine) as conn:
            row = (await conn.execute(stmt)).mappings().first()
        if row is None:
            raise NotFound(f"account {account_id} not found")
        return AccountRecord.from_row(row)

    async def platforms(self, tenant_id: str, account_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
        """{account_id: platform} for those of account_ids the tenant owns."""
        ids = list(set(account_ids))
        stmt = select(accounts.c.id, accounts.c.platform).where(
            accounts.c.tenant_id == tenant_id, accounts.c.id.in_(ids)
        )
        async with transaction(self._engine) as conn:
            return {row.id: row.platform for row in await conn.execute(stmt)}

    async def list(
        self, tenant_id: str, *, platform: str | None, limit: int, after: PageCursor | None
    ) -> list[AccountRecord]:
        """Up to `limit` accounts in creation order, after the cursor."""
        stmt = select(*ACCOUNT_COLUMNS).where(accounts.c.tenant_id == tenant_id)
        if platform:
            stmt = stmt.where(accounts.c.platform == platform)
        if after is not None:
            stmt = stmt.where(tuple_(accounts.c.created_at, accounts.c.id) > tuple_(after.at, after.id))
        stmt = stmt.order_by(accounts.c.created_at, accounts.c.id).limit(limit)
        async with transaction(self._engine) as conn:
            return [AccountRecord.from_row(r) for r in (await conn.execute(stmt)).mappings()]
