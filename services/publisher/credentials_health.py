"""The credentials-health duty: each Meta account's token is checked before its posts need it.

Every tick it claims a batch of Meta accounts due a check (postsched/store/credentials_health.py:
never checked, checked POSTSCHED_CREDENTIALS_CHECK_PERIOD ago, or with a post due within the hour
and not checked within the hour) and asks the Graph API about each token:

- with POSTSCHED_META_APP_TOKEN, `GET /debug_token?input_token=…` authenticated by the app token:
  validity, expiry (`expires_at`, `data_access_expires_at`; 0 = never) and the granted scopes;
- without it, a cheap read with the account's own token, `GET /{external_id}?fields=id`: valid or
  not (a 190), nothing about expiry or scopes.

What it finds (`classify`): INVALID (not valid, or a permission needed to publish is missing)
makes the account need credentials before its posts fail: they wait SCHEDULED, and
account.needs_credentials is said once. EXPIRING (valid, expires within
POSTSCHED_CREDENTIALS_WARNING) says account.credentials_expiring once per expiry. A permission only
a first comment needs is reported (credentials_problem, account.needs_credentials once) without
holding any post. A transient error, a timeout or a rate limit teaches nothing: the account is
left as it was and checked again on a later run.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import structlog

from postsched.clock import Clock
from postsched.credentials import CredentialBox, CredentialsUnreadable
from postsched.lifecycle import CredentialsStatus
from postsched.outbound import printable
from postsched.store import credentials_health as store
from postsched.store.credentials_health import DueCheck, Finding
from postsched.store.database import Database
from services.publisher.platforms.graph_api import GraphClient
from services.publisher.platforms.outcomes import Permanent, PlatformError, RateLimited, meter

log = structlog.get_logger("postsched.publisher")

# The check before an account's next hour of posts: a post due within AHEAD, and no check within AHEAD.
AHEAD = timedelta(hours=1)
BATCH = 200  # accounts claimed per run
CONCURRENCY = 8  # checks in flight at once

# Permissions (Meta's scope names) without which an account's posts cannot be published at all,
# and those only a post's first comment needs.
PUBLISHING_PERMISSION = {"facebook_page": "pages_manage_posts", "instagram": "instagram_content_publish"}
COMMENT_PERMISSION = {"facebook_page": "pages_manage_engagement", "instagram": "instagram_manage_comments"}


def _moment(value: Any) -> datetime | None:
    """A unix time from debug_token (0, or absent: never)."""
    try:
        seconds = int(value or 0)
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(seconds, timezone.utc) if seconds > 0 else None


def classify(platform: str, data: dict[str, Any], *, now: datetime, warning: timedelta) -> Finding:
    """What debug_token's `data` says about an account's token."""
    if data.get("is_valid") is not True:
        found = data.get("error")
        error: dict[str, Any] = found if isinstance(found, dict) else {}
        message = printable(str(error.get("message") or "")) or "Meta says the token is not valid"
        code = f"Meta error {error['code']}: " if error.get("code") else ""
        return Finding(CredentialsStatus.INVALID, problem=f"{code}{message}")
    problem = None
    scopes = data.get("scopes")
    if isinstance(scopes, list):  # absent: Meta said nothing about permissions, so nothing is judged
        needed = PUBLISHING_PERMISSION.get(platform)
        if needed and needed not in scopes:
            return Finding(CredentialsStatus.INVALID,
                           problem=f"the token lacks the {needed} permission, needed to publish")
        for_comments = COMMENT_PERMISSION.get(platform)
        if for_comments and for_comments not in scopes:
            problem = f"the token lacks the {for_comments} permission, needed for first comments"
    ends = [t for t in (_moment(data.get("expires_at")), _moment(data.get("data_access_expires_at"))) if t]
    expire_at = min(ends, default=None)
    expiring = expire_at is not None and expire_at - now <= warning
    return Finding(CredentialsStatus.EXPIRING if expiring else CredentialsStatus.OK, expire_at, problem)


class CredentialsHealth:
    def __init__(self, db: Database, graph: GraphClient, box: CredentialBox, clock: Clock, *,
                 period: timedelta, warning: timedelta, tick: float, app_token: str = "") -> None:
        self._db = db
        self._graph = graph
        self._box = box
        self._clock = clock
        self._period = period
        self._warning = warning
        self._app_token = app_token
        self._app_token_verdict: asyncio.Task[bool] | None = None  # asked once per run, shared by its checks
        self.period = tick  # how often the supervisor runs it

    async def run_once(self) -> int:
        """Checks the accounts due a check now; returns how many it learned something about."""
        due = await store.claim(self._db, now=self._clock.now(), period=self._period, ahead=AHEAD, batch=BATCH)
        if not due:
            return 0
        slots = asyncio.Semaphore(CONCURRENCY)
        self._app_token_verdict = None
        halt = asyncio.Event()  # Meta asked to wait, or the app token is refused: no more calls this run

        async def one(check: DueCheck) -> Finding | None:
            async with slots:
                return None if halt.is_set() else await self._check(check, halt)

        findings = await asyncio.gather(*(one(check) for check in due))
        unknown = [check for check, finding in zip(due, findings) if finding is None]
        await store.release(self._db, unknown)
        now = self._clock.now()
        for check, finding in zip(due, findings):
            if finding is None:
                continue
            told = await store.record(self._db, check, finding, now=now)
            log.info("credentials checked", account_id=str(check.account_id), tenant_id=check.tenant_id,
                     status=finding.status.value, expire_at=finding.expire_at and finding.expire_at.isoformat(),
                     problem=finding.problem, events=told)
        return len(due) - len(unknown)

    async def _app_token_refused(self) -> bool:
        """Whether Meta refuses the app token itself: asked once per run, whichever checks need it."""
        if self._app_token_verdict is None:
            self._app_token_verdict = asyncio.ensure_future(self._ask_about_app_token())
        return await asyncio.shield(self._app_token_verdict)

    async def _ask_about_app_token(self) -> bool:
        """debug_token asked about the app token itself."""
        try:
            await self._graph.call("GET", "debug_token", token=self._app_token, meter="app",
                                   params={"input_token": self._app_token})
        except Permanent as exc:
            return exc.needs_credentials
        except PlatformError:
            return True  # cannot tell now: stop this run rather than mark accounts on a guess
        return False

    async def _check(self, check: DueCheck, halt: asyncio.Event) -> Finding | None:
        """The finding about one account's token, or None when this check learned nothing."""
        try:
            token = self._box.open(check.sealed_credentials).get("access_token", "")
        except CredentialsUnreadable as exc:
            log.error("credentials check skipped: stored credentials unreadable", account_id=str(check.account_id),
                      error=str(exc))
            return None
        if not token:
            return Finding(CredentialsStatus.INVALID, problem="no access_token stored")
        whose = meter(check.platform, check.external_id, check.account_id)
        try:
            if self._app_token:
                answer = await self._graph.call("GET", "debug_token", token=self._app_token, meter=whose,
                                                params={"input_token": token})
                data = answer.get("data")
                if not isinstance(data, dict):
                    log.warning("credentials check: debug_token answered without data", account_id=str(check.account_id))
                    return None
                return classify(check.platform, data, now=self._clock.now(), warning=self._warning)
            await self._graph.call("GET", check.external_id, token=token, meter=whose, params={"fields": "id"})
            return Finding(CredentialsStatus.OK)
        except Permanent as exc:
            message = exc.message.replace(token, "<token>")  # a token never reaches a log
            if exc.needs_credentials and not self._app_token:
                return Finding(CredentialsStatus.INVALID, problem=message)
            if exc.needs_credentials:
                # A 190 on debug_token is about the app token or about the token asked about (a
                # tenant may store anything): the app token, asked about itself, tells which.
                if await self._app_token_refused():
                    halt.set()
                    log.error("credentials checks stopped: Meta refuses POSTSCHED_META_APP_TOKEN", error=message)
                    return None
                return Finding(CredentialsStatus.INVALID, problem=message)
            log.warning("credentials check: Meta refused the read; nothing concluded", account_id=str(check.account_id),
                        error=message)
            return None
        except RateLimited as exc:
            if self._app_token:  # the app's calls are metered together: all of them wait
                halt.set()
            # With the page's own token only that Page waits: the other accounts are checked on.
            log.info("credentials check: Meta asks to wait", account_id=str(check.account_id),
                     error=exc.message.replace(token, "<token>"), retry_after_s=exc.retry_after)
            return None
        except PlatformError as exc:  # transient: a timeout, a 5xx, a dropped connection
            log.info("credentials check: no answer; trying again later", account_id=str(check.account_id),
                     error=exc.message.replace(token, "<token>"))
            return None
