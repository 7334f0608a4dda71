"""Accounts and tenants: every write to them.

The tenant's API (AccountStore) and, as named operations on a connection the caller holds, what
the publisher learns about an account (a dead token, a platform's wait) and an operator's pause.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from typing import Iterable

import psycopg.errors

from postsched.clock import Clock
from postsched.credentials import CredentialBox
from postsched.errors import AlreadyExists, NotFound
from postsched.store.due_notice import announce_due
from postsched.store import processing_log
from postsched.store import quotas
from postsched.store.processing_log import LogEntry
from postsched.store.database import Connection, Database
from postsched.store.posts import CANCEL_ACCOUNT_POSTS, forget_waits
from postsched.store.recurring import cancel_for_account
from postsched.store.records import AccountRecord, NewAccount, PageCursor
from postsched.store.posts.transitions import params

COLUMNS = (
    "id, tenant_id, platform::text AS platform, external_id, display_name, paused, disabled, needs_credentials, "
    "created_at, updated_at, time_zone, min_post_interval, credentials_status, credentials_expire_at, "
    "credentials_checked_at, credentials_problem"
)


class AccountStore:
    def __init__(self, db: Database, box: CredentialBox, clock: Clock) -> None:
        self._db = db
        self._box = box
        self._clock = clock
        self._known_tenants: set[str] = set()

    async def ensure_tenants(self, tenant_ids: Iterable[str]) -> None:
        """Creates the tenants named in the tokens at start that the database does not know yet."""
        tenant_ids = sorted(set(tenant_ids))
        async with self._db.connection() as conn:
            await conn.execute(
                "INSERT INTO tenants (id) SELECT unnest(%s::text[]) ON CONFLICT (id) DO NOTHING",
                (tenant_ids,),
            )
        self._known_tenants.update(tenant_ids)

    async def create(self, tenant_id: str, new: NewAccount) -> AccountRecord:
        now = self._clock.now()
        try:
            async with self._db.connection() as conn:
                if tenant_id not in self._known_tenants:  # one added to a tokens file since the start
                    await conn.execute("INSERT INTO tenants (id) VALUES (%s) ON CONFLICT (id) DO NOTHING", (tenant_id,))
                    self._known_tenants.add(tenant_id)
                cur = await conn.execute(
                    f"""
                    INSERT INTO accounts (id, tenant_id, platform, external_id, display_name, credentials, created_at,
                                          updated_at, time_zone, min_post_interval)
                    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                    ON CONFLICT (tenant_id, platform, external_id) WHERE deleted_at IS NULL DO NOTHING
                    RETURNING {COLUMNS}
                    """,
                    (uuid.uuid4(), tenant_id, new.platform, new.external_id, new.display_name,
                     self._box.seal(new.credentials), now, now, new.time_zone, new.min_post_interval),
                )
                row = await cur.fetchone()
        except psycopg.errors.ForeignKeyViolation as exc:  # the tenant row is missing
            raise NotFound(f"tenant {tenant_id!r} is not known to the database") from exc
        if row is None:
            raise AlreadyExists(f"a {new.platform} account with external_id {new.external_id!r} already exists")
        return AccountRecord.from_row(row)

    async def live_count(self, tenant_id: str) -> int:
        """The tenant's accounts not deleted."""
        async with self._db.connection() as conn:
            cur = await conn.execute(
                "SELECT count(*) AS n FROM accounts WHERE tenant_id = %s AND deleted_at IS NULL", (tenant_id,))
            row = await cur.fetchone()
            return int(row["n"]) if row else 0

    async def get(self, tenant_id: str, account_id: uuid.UUID, *, with_quotas: bool = False) -> AccountRecord:
        """The tenant's account (NOT_FOUND otherwise); `with_quotas`: with its publishing quotas,
        for the calls that show them (the others need only the account)."""
        async with self._db.connection() as conn:
            cur = await conn.execute(
                f"SELECT {COLUMNS} FROM accounts WHERE id = %s AND tenant_id = %s AND deleted_at IS NULL",
                (account_id, tenant_id),
            )
            row = await cur.fetchone()
            if row is None:
                raise NotFound(f"account {account_id} not found")
            if not with_quotas:
                return AccountRecord.from_row(row)
            found = await quotas.of_accounts(conn, [account_id], now=self._clock.now())
        return replace(AccountRecord.from_row(row), publishing_quotas=found.get(account_id, ()))

    async def platforms(self, tenant_id: str, account_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
        """{account_id: platform} for those of account_ids the tenant owns."""
        async with self._db.connection() as conn:
            cur = await conn.execute(
                "SELECT id, platform::text AS platform FROM accounts WHERE tenant_id = %s AND id = ANY(%s) AND deleted_at IS NULL",
                (tenant_id, list(set(account_ids))),
            )
            return {row["id"]: row["platform"] for row in await cur.fetchall()}

    async def list(
        self, tenant_id: str, *, platform: str | None, limit: int, after: PageCursor | None
    ) -> list[AccountRecord]:
        """Up to `limit` accounts in creation order, after the cursor."""
        where = ["tenant_id = %(tenant)s", "deleted_at IS NULL"]
        if platform:
            where.append("platform = %(platform)s::account_platform")
        if after is not None:
            where.append("(created_at, id) > (%(at)s, %(id)s)")
        params = {"tenant": tenant_id, "platform": platform, "limit": limit,
                  "at": after.at if after else None, "id": after.id if after else None}
        async with self._db.connection() as conn:
            cur = await conn.execute(
                f"SELECT {COLUMNS} FROM accounts WHERE {' AND '.join(where)} ORDER BY created_at, id LIMIT %(limit)s",
                params,
            )
            return [AccountRecord.from_row(r) for r in await cur.fetchall()]

    async def set_disabled(self, tenant_id: str, account_id: uuid.UUID, disabled: bool) -> AccountRecord:
        """The tenant's hold on an account: its posts stay SCHEDULED while disabled."""
        now = self._clock.now()
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                f"""UPDATE accounts SET disabled = %s, updated_at = %s
                    WHERE id = %s AND tenant_id = %s AND deleted_at IS NULL RETURNING {COLUMNS}""",
                (disabled, now, account_id, tenant_id),
            )
            row = await cur.fetchone()
            if row is None:
                raise NotFound(f"account {account_id} not found")
            event = "account_disabled" if disabled else "account_enabled"
            await processing_log.append(conn, [LogEntry(None, tenant_id, account_id, event, message="by the tenant")])
            if not disabled:
                await announce_due(conn, now)  # its due posts may go at once
        return AccountRecord.from_row(row)

    async def update(self, tenant_id: str, account_id: uuid.UUID, changes: dict[str, object]) -> AccountRecord:
        """UpdateAccount: the columns named in `changes` (display_name, time_zone, min_post_interval).
        A shorter spacing lets held posts go sooner: the dispatchers hear of it."""
        assert set(changes) <= {"display_name", "time_zone", "min_post_interval"}
        now = self._clock.now()
        assignments = "".join(f"{column} = %({column})s, " for column in changes)
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                f"""UPDATE accounts SET {assignments}updated_at = %(now)s
                    WHERE id = %(id)s AND tenant_id = %(tenant)s AND deleted_at IS NULL RETURNING {COLUMNS}""",
                {**changes, "now": now, "id": account_id, "tenant": tenant_id},
            )
            row = await cur.fetchone()
            if row is None:
                raise NotFound(f"account {account_id} not found")
            if "min_post_interval" in changes:
                await forget_waits(conn, account_id)
                await processing_log.append(conn, [LogEntry(
                    None, tenant_id, account_id, "account_updated",
                    message=f"min_post_interval {changes['min_post_interval']}")])
                await announce_due(conn, now)
        return AccountRecord.from_row(row)

    async def delete(self, tenant_id: str, account_id: uuid.UUID) -> int:
        """Deletes an account for the API: forgets its credentials, cancels its SCHEDULED, QUEUED and
        FAILED posts (each with its audit entry, so each with a post.cancelled event), all in one
        transaction; a post being published finishes. Returns how many posts were cancelled."""
        now = self._clock.now()
        async with self._db.transaction() as conn:
            cur = await conn.execute("SELECT 1 FROM accounts WHERE id = %s AND tenant_id = %s AND deleted_at IS NULL",
                                     (account_id, tenant_id))
            if await cur.fetchone() is None:  # NOT_FOUND before anything is locked
                raise NotFound(f"account {account_id} not found")
            # Rows in the order the other writers take them: recurring posts (the horizon duty adds
            # occurrences under their lock), then posts (a claim locks its post, then the account),
            # then the account.
            await cancel_for_account(conn, account_id, now=now)  # no occurrences for a deleted account
            cur = await conn.execute(CANCEL_ACCOUNT_POSTS, params(account=account_id, now=now))
            cancelled = len(await cur.fetchall())
            cur = await conn.execute(
                """UPDATE accounts SET deleted_at = %s, credentials = %s, updated_at = %s
                   WHERE id = %s AND tenant_id = %s AND deleted_at IS NULL RETURNING id""",
                (now, self._box.seal({}), now, account_id, tenant_id),
            )
            if await cur.fetchone() is None:  # deleted meanwhile by a concurrent call
                raise NotFound(f"account {account_id} not found")
            await processing_log.append(conn, [LogEntry(None, tenant_id, account_id, "account_deleted",
                                                        message=f"{cancelled} posts cancelled")])
        return cancelled

    async def replace_credentials(self, tenant_id: str, account_id: uuid.UUID, credentials: dict[str, str]) -> AccountRecord:
        """Stores new credentials and clears needs_credentials; the posts that waited can go now.
        What the credentials-health duty knew is forgotten: the new token is checked on its next run."""
        now = self._clock.now()
        async with self._db.transaction() as conn:
            cur = await conn.execute(
                f"""UPDATE accounts SET credentials = %s, needs_credentials = false, updated_at = %s,
                           credentials_status = NULL, credentials_expire_at = NULL, credentials_problem = NULL,
                           credentials_warned_at = NULL, credentials_checked_at = NULL
                    WHERE id = %s AND tenant_id = %s AND deleted_at IS NULL RETURNING {COLUMNS}""",
                (self._box.seal(credentials), now, account_id, tenant_id),
            )
            row = await cur.fetchone()
            if row is None:
                raise NotFound(f"account {account_id} not found")
            await processing_log.append(conn, [LogEntry(None, tenant_id, account_id, "credentials_updated")])
            await announce_due(conn, now)  # its due posts may go at once
        return AccountRecord.from_row(row)


# A CTE for the publisher's claim (after its `moved`): a paced account's next post may reach the
# platform min_post_interval after this claim, its call.
PACE_AFTER_CLAIM = """, paced AS (
    UPDATE accounts a SET next_post_at = %(now)s + a.min_post_interval
    FROM (SELECT DISTINCT log_account_id AS id FROM moved) m
    WHERE a.id = m.id AND a.min_post_interval > '0'::interval
)"""


# A CTE for the paced lease (after its `moved`): the account's next turn is the leased post's due
# time plus the interval (until its claim says when the call really started).
PACE_AFTER_LEASE = """, paced_turn AS (
    UPDATE accounts a SET next_post_at = m.due_at + a.min_post_interval
    FROM moved m WHERE a.id = m.log_account_id
)"""


async def mark_needs_credentials(conn: Connection, account_id: uuid.UUID, reason: str, *, now: datetime) -> bool:
    """The platform refused the account's token (a publish, or the credentials-health check): its
    posts wait for new credentials, and its credentials_status says INVALID. True if this call said so."""
    cur = await conn.execute(
        """UPDATE accounts SET needs_credentials = true, throttle_reason = %s, updated_at = %s,
                  credentials_status = 'INVALID', credentials_problem = %s
           WHERE id = %s AND NOT needs_credentials RETURNING tenant_id""",
        (reason, now, reason, account_id),
    )
    row = await cur.fetchone()
    if row is not None:  # only the first of many posts that hit the dead token tells
        await processing_log.append(conn, [LogEntry(None, row["tenant_id"], account_id, "needs_credentials", message=reason)])
    return row is not None


async def throttle(conn: Connection, account_id: uuid.UUID, until: datetime, reason: str, *, now: datetime) -> None:
    """The platform asked the account to wait until `until` (a later wait already known stays)."""
    await conn.execute(
        """UPDATE accounts SET throttled_until = greatest(coalesce(throttled_until, %s), %s),
           throttle_reason = %s, updated_at = %s WHERE id = %s""",
        (until, until, reason, now, account_id),
    )


async def set_paused(conn: Connection, account_id: uuid.UUID, paused: bool, *, now: datetime,
                     actor: str) -> AccountRecord:
    """An operator pauses or resumes the account; resuming wakes the dispatchers for its due posts."""
    cur = await conn.execute(
        f"UPDATE accounts SET paused = %s, updated_at = %s WHERE id = %s AND deleted_at IS NULL RETURNING {COLUMNS}",
        (paused, now, account_id),
    )
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"account {account_id} not found")
    await processing_log.append(conn, [LogEntry(
        None, row["tenant_id"], account_id, "account_paused" if paused else "account_resumed",
        message=f"by {actor}", actor=actor,
    )])
    if not paused:
        await announce_due(conn, now)  # its due posts may go at once
    return AccountRecord.from_row(row)
