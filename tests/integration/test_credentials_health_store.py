"""The credentials-health duty's store, on a real PostgreSQL without processes (an injected now):
which accounts are due a check, that one claim excludes another, the fence of new credentials,
and each event said once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, AsyncIterator

import psycopg
import pytest
from cryptography.fernet import Fernet

from postsched.clock import FixedClock
from postsched.credentials import CredentialBox
from postsched.lifecycle import CredentialsStatus
from postsched.store import credentials_health as health
from postsched.store.accounts import AccountStore
from postsched.store.credentials_health import Finding
from postsched.store.dashboard import DashboardStore
from postsched.store.database import Database
from postsched.store.posts import PostStore
from postsched.store.records import NewAccount, NewPost

TENANT = "acme"
PERIOD = timedelta(hours=6)
AHEAD = timedelta(hours=1)


@dataclass
class Stores:
    url: str
    now: datetime
    db: Database
    accounts: AccountStore
    posts: PostStore

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []

    async def account(self, platform: str, name: str) -> uuid.UUID:
        credentials = {"access_token": f"token-{name}"} if platform != "webhook" else {"webhook_url": "https://e.example"}
        return (await self.accounts.create(TENANT, NewAccount(platform, name, name, credentials))).id

    async def claim(self, at: datetime, batch: int = 100) -> list[health.DueCheck]:
        return await health.claim(self.db, now=at, period=PERIOD, ahead=AHEAD, batch=batch)

    def events(self, account: uuid.UUID) -> list[tuple[str, str]]:
        return self.sql("SELECT type, message FROM events WHERE account_id = %s ORDER BY sequence", account)


@pytest.fixture
async def stores(database_url: str) -> AsyncIterator[Stores]:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    db = await Database(database_url).open()
    clock = FixedClock(now)
    accounts = AccountStore(db, CredentialBox(Fernet.generate_key()), clock)
    await accounts.ensure_tenants([TENANT])
    try:
        yield Stores(database_url, now, db, accounts, PostStore(db, clock))
    finally:
        await db.close()


async def test_due_accounts_are_the_unchecked_the_stale_and_those_with_a_post_within_the_hour(stores: Stores) -> None:
    page, ig, quiet, busy = [await stores.account(p, n) for p, n in
                             (("facebook_page", "page"), ("instagram", "ig"), ("facebook_page", "quiet"),
                              ("facebook_page", "busy"))]
    await stores.account("webhook", "hook")  # never: no token to check
    first = await stores.claim(stores.now)
    assert {c.account_id for c in first} == {page, ig, quiet, busy}  # never checked
    assert all(c.checked_before is None and c.claimed_at == stores.now for c in first)
    assert await stores.claim(stores.now + timedelta(minutes=30)) == []
    # A post due within the hour: its account is due once no check is within the hour.
    await stores.posts.create(TENANT, [NewPost(busy, "soon", [], "", stores.now + timedelta(minutes=100), None)])
    assert await stores.claim(stores.now + timedelta(minutes=30)) == []  # the post is 70 minutes off
    at = stores.now + timedelta(minutes=61)
    (due,) = await stores.claim(at)
    assert due.account_id == busy and due.checked_before == stores.now
    assert await stores.claim(at + timedelta(minutes=30)) == []  # checked within the hour again
    # Six hours on, every account is due again (busy too: its post, overdue, still waits).
    assert {c.account_id for c in await stores.claim(stores.now + PERIOD)} == {page, ig, quiet, busy}


async def test_a_claim_takes_an_account_once_and_a_release_makes_it_due_again(stores: Stores) -> None:
    accounts = {await stores.account("instagram", f"ig{n}") for n in range(5)}
    one = await stores.claim(stores.now, batch=3)
    two = await stores.claim(stores.now, batch=3)
    assert len(one) == 3 and len(two) == 2 and {c.account_id for c in one + two} == accounts
    await health.release(stores.db, one)  # nothing learned: as before the claim
    assert {c.account_id for c in await stores.claim(stores.now + timedelta(seconds=1))} == {c.account_id for c in one}


async def test_expiring_is_said_once_per_expiry_and_new_credentials_fence_an_old_finding(stores: Stores) -> None:
    ig = await stores.account("instagram", "ig")
    expiry = stores.now + timedelta(days=3)
    for n in range(3):
        (check,) = await stores.claim(stores.now + n * PERIOD)
        told = await health.record(stores.db, check, Finding(CredentialsStatus.EXPIRING, expire_at=expiry), now=check.claimed_at)
        assert told == (["credentials_expiring"] if n == 0 else [])
    assert stores.events(ig) == [("account.credentials_expiring", f"the token expires at {expiry:%Y-%m-%dT%H:%M:%SZ}")]
    assert stores.sql("SELECT credentials_status, credentials_expire_at FROM accounts WHERE id = %s", ig) == [
        ("EXPIRING", expiry)]
    # A check under way when the tenant gives new credentials: its finding is about the old token.
    (check,) = await stores.claim(stores.now + 3 * PERIOD)
    await stores.accounts.replace_credentials(TENANT, ig, {"access_token": "new"})
    assert stores.sql("SELECT credentials_status, credentials_checked_at, credentials_warned_at FROM accounts "
                      "WHERE id = %s", ig) == [(None, None, None)]
    assert await health.record(stores.db, check, Finding(CredentialsStatus.INVALID, problem="dead"), now=stores.now) == []
    assert stores.sql("SELECT needs_credentials, credentials_status FROM accounts WHERE id = %s", ig) == [(False, None)]


async def test_invalid_holds_the_account_once_and_a_missing_comment_permission_is_said_once(stores: Stores) -> None:
    page, ig = await stores.account("facebook_page", "page"), await stores.account("instagram", "ig")
    checks = {c.account_id: c for c in await stores.claim(stores.now)}
    assert await health.record(stores.db, checks[page], Finding(CredentialsStatus.INVALID, problem="Meta error 190"),
                               now=stores.now) == ["needs_credentials"]
    assert stores.sql("SELECT needs_credentials, credentials_status, credentials_problem FROM accounts WHERE id = %s",
                      page) == [(True, "INVALID", "Meta error 190")]
    missing = "the token lacks the instagram_manage_comments permission, needed for first comments"
    assert await health.record(stores.db, checks[ig], Finding(CredentialsStatus.OK, problem=missing),
                               now=stores.now) == ["needs_credentials"]
    (again,) = await stores.claim(stores.now + PERIOD)  # the page waits for new credentials: not checked
    assert again.account_id == ig
    assert await health.record(stores.db, again, Finding(CredentialsStatus.OK, problem=missing), now=stores.now) == []
    assert stores.events(ig) == [("account.needs_credentials", missing)]
    assert stores.events(page) == [("account.needs_credentials", "Meta error 190")]
    assert stores.sql("SELECT needs_credentials FROM accounts WHERE id = %s", ig) == [(False,)]


async def test_the_dashboard_lists_accounts_needing_attention_first(stores: Stores) -> None:
    busy, paused, expiring, refused = [await stores.account("instagram", n) for n in ("busy", "paused", "expiring", "refused")]
    await stores.posts.create(TENANT, [NewPost(busy, f"p{n}", ["https://e.example/a.jpg"], "", None, None) for n in range(3)])
    stores.sql("UPDATE accounts SET paused = true WHERE id = %s", paused)
    checks = {c.account_id: c for c in await stores.claim(stores.now)}
    await health.record(stores.db, checks[expiring], Finding(CredentialsStatus.EXPIRING, stores.now + timedelta(days=2)),
                        now=stores.now)
    await health.record(stores.db, checks[refused], Finding(CredentialsStatus.INVALID, problem="Meta error 190"),
                        now=stores.now)
    rows = await DashboardStore(stores.db).accounts()
    assert [r.account.id for r in rows] == [refused, expiring, paused, busy]
    assert rows[1].account.credentials_expire_at == stores.now + timedelta(days=2)
