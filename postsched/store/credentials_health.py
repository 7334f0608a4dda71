"""The credentials-health duty's reads and writes of accounts (services/publisher/credentials_health.py).

`claim` takes a bounded batch of Meta accounts due a check and stamps credentials_checked_at in
the same statement (FOR UPDATE SKIP LOCKED), so two publishers never check one account at once.
`record` writes what the check found, fenced by that stamp: UpdateAccountCredentials clears it, so
a finding about a token that is no longer stored is dropped instead of condemning the new one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from postsched.lifecycle import CredentialsStatus
from postsched.store import processing_log
from postsched.store.accounts import mark_needs_credentials
from postsched.store.database import Connection, Database
from postsched.store.processing_log import LogEntry

# Accounts due a check: never checked, checked a period ago, or with a post due within `ahead`
# and not checked within `ahead` (the check before its next hour of posts). A post the dispatcher
# leased ahead of its time (QUEUED) counts: marked now, the account's claimed post is given back
# to SCHEDULED without a call (services/publisher/attempt.py). An account that already needs
# credentials waits for UpdateAccountCredentials, which makes it never checked.
CLAIM = """
UPDATE accounts a SET credentials_checked_at = %(now)s
FROM (SELECT c.id, c.credentials_checked_at AS checked_before FROM accounts c
      WHERE c.platform IN ('facebook_page', 'instagram') AND c.deleted_at IS NULL AND NOT c.needs_credentials
        AND (c.credentials_checked_at IS NULL
             OR c.credentials_checked_at <= %(now)s - %(period)s
             OR (c.credentials_checked_at <= %(now)s - %(ahead)s
                 AND EXISTS (SELECT 1 FROM posts p WHERE p.account_id = c.id AND p.status IN ('SCHEDULED', 'QUEUED')
                             AND p.scheduled_at <= %(now)s + %(ahead)s)))
      ORDER BY c.credentials_checked_at NULLS FIRST, c.id
      LIMIT %(batch)s
      FOR UPDATE SKIP LOCKED) due
WHERE a.id = due.id
RETURNING a.id, a.tenant_id, a.platform::text AS platform, a.external_id, a.credentials, due.checked_before
"""


@dataclass(frozen=True)
class DueCheck:
    """An account claimed for a check; `claimed_at` fences what is recorded about it."""

    account_id: uuid.UUID
    tenant_id: str
    platform: str
    external_id: str
    sealed_credentials: bytes = field(repr=False)
    claimed_at: datetime
    checked_before: datetime | None = None  # the last check before this claim (None: never)


@dataclass(frozen=True)
class Finding:
    """What one check learned about an account's token.

    status INVALID: the account needs credentials (problem: Meta's message or the missing
    publishing permission). OK or EXPIRING with a problem: a permission only some posts need
    (a first comment's) is missing; said once, posts are not held.
    """

    status: CredentialsStatus
    expire_at: datetime | None = None
    problem: str | None = None


async def claim(db: Database, *, now: datetime, period: timedelta, ahead: timedelta, batch: int) -> list[DueCheck]:
    async with db.transaction() as conn:
        cur = await conn.execute(CLAIM, {"now": now, "period": period, "ahead": ahead, "batch": batch})
        return [DueCheck(r["id"], r["tenant_id"], r["platform"], r["external_id"], bytes(r["credentials"]), now,
                         r["checked_before"]) for r in await cur.fetchall()]


async def release(db: Database, checks: list[DueCheck]) -> None:
    """The checks learned nothing (Meta unreachable, slow, or asking to wait): the accounts are as
    they were before the claim, due again on the next run."""
    if not checks:
        return
    async with db.connection() as conn:
        await conn.execute(
            """UPDATE accounts a SET credentials_checked_at = r.before
               FROM unnest(%s::uuid[], %s::timestamptz[], %s::timestamptz[]) AS r(id, claimed, before)
               WHERE a.id = r.id AND a.credentials_checked_at = r.claimed""",
            ([c.account_id for c in checks], [c.claimed_at for c in checks], [c.checked_before for c in checks]))


async def record(db: Database, check: DueCheck, finding: Finding, *, now: datetime) -> list[str]:
    """Writes the finding; returns the account's events it said (processing-log event names), each
    at most once: credentials_expiring once per expiry, needs_credentials once per problem. Nothing
    is written when the account's credentials changed (or it was deleted) since the claim."""
    async with db.transaction() as conn:
        cur = await conn.execute(
            """SELECT credentials_warned_at, credentials_problem FROM accounts
               WHERE id = %s AND credentials_checked_at = %s AND deleted_at IS NULL FOR UPDATE""",
            (check.account_id, check.claimed_at))
        before = await cur.fetchone()
        if before is None:
            return []
        expiring = finding.status == CredentialsStatus.EXPIRING
        await conn.execute(
            """UPDATE accounts SET credentials_status = %s, credentials_expire_at = %s, credentials_problem = %s,
                   credentials_warned_at = CASE WHEN %s THEN %s ELSE credentials_warned_at END
               WHERE id = %s""",
            (finding.status.value, finding.expire_at, finding.problem, expiring, finding.expire_at, check.account_id))
        return await _tell(conn, check, finding, before["credentials_warned_at"], before["credentials_problem"], now)


async def _tell(conn: Connection, check: DueCheck, finding: Finding, warned: datetime | None,
                problem_before: str | None, now: datetime) -> list[str]:
    if finding.status == CredentialsStatus.INVALID:
        # Sets needs_credentials (its posts wait SCHEDULED) and says it once, as a publish's 190 does.
        told = await mark_needs_credentials(conn, check.account_id, finding.problem or "the token is not valid", now=now)
        return ["needs_credentials"] if told else []
    entries = []
    if finding.status == CredentialsStatus.EXPIRING and finding.expire_at is not None and warned != finding.expire_at:
        entries.append(LogEntry(None, check.tenant_id, check.account_id, "credentials_expiring",
                                message=f"the token expires at {finding.expire_at:%Y-%m-%dT%H:%M:%SZ}"))
    if finding.problem and finding.problem != problem_before:
        entries.append(LogEntry(None, check.tenant_id, check.account_id, "needs_credentials", message=finding.problem))
    await processing_log.append(conn, entries)
    return [e.event for e in entries]
