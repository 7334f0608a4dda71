"""Account health before posts are due (issue 25, item 5): the publisher's credentials-health duty
against fake-meta, with scheduler, dispatcher and publisher processes, PostgreSQL and NATS.

The duty is off in every other test (tests/conftest.py::service_env); here it is on, looking for
accounts due a check every POSTSCHED_CREDENTIALS_CHECK_TICK seconds."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from postsched.v1 import resources_pb2, scheduler_pb2
from postsched_devtools.fake_meta.control import FakeMeta
from postsched_devtools.processes import Suite
from postsched_devtools.tenant import Tenant
from tests.conftest import ADMIN_TOKEN, TENANT_TOKENS
from tests.dashboard_http import request
from tests.e2e.test_dashboard_security_e2e import session_of, sign_in

pytestmark = pytest.mark.e2e
Req = scheduler_pb2
APP_TOKEN = "1000000000|fake-app-secret"
TICK = "0.3"
PUBLISHING_CALLS = ("feed", "photos", "media", "media_publish")


class Health:
    """The services with the duty on, and what a test reads about one account."""

    def __init__(self, suite: Suite, fake: FakeMeta, **publisher_env: str) -> None:
        self.suite, self.fake = suite, fake
        suite.base_env["POSTSCHED_META_GRAPH_URL"] = fake.graph_url
        self.scheduler = suite.start("scheduler")
        self.dispatcher = suite.start("dispatcher")
        # The duty on (service_env turns it off), with production's period unless a test sets one.
        env = {"POSTSCHED_CREDENTIALS_CHECK_PERIOD": "6h", "POSTSCHED_CREDENTIALS_CHECK_TICK": TICK, **publisher_env}
        self.publisher = suite.start("publisher", **env)
        self.client = Tenant(self.scheduler.addr, TENANT_TOKENS["acme"])

    def account(self, platform: int, external_id: str, token: str) -> resources_pb2.Account:
        return self.client.CreateAccount(Req.CreateAccountRequest(
            platform=platform, external_id=external_id, display_name=external_id, access_token=token))

    def get(self, account: resources_pb2.Account) -> resources_pb2.Account:
        return self.client.GetAccount(Req.GetAccountRequest(account_id=account.account_id))

    def events(self, account: resources_pb2.Account, kind: str) -> list[tuple[datetime, str]]:
        return [(r[0], r[1]) for r in self.suite.sql(
            "SELECT occurred_at, message FROM events WHERE account_id = %s AND type = %s ORDER BY sequence",
            (uuid.UUID(account.account_id), kind))]

    def wait_status(self, account: resources_pb2.Account, status: int, timeout: float = 20) -> resources_pb2.Account:
        deadline = time.monotonic() + timeout
        while (found := self.get(account)).credentials_status != status:
            assert time.monotonic() < deadline, f"still {found.credentials_status}, expected {status}"
            time.sleep(0.1)
        return found

    def wait_calls(self, account: str, endpoint: str, count: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while len(self.fake.calls(account, endpoint)) < count:
            assert time.monotonic() < deadline, f"{endpoint} of {account}: {len(self.fake.calls(account, endpoint))} calls"
            time.sleep(0.1)

    def post(self, account: resources_pb2.Account, text: str, at: datetime | None = None, *,
             media: tuple[str, ...] = ()) -> str:
        request = Req.CreatePostRequest(account_id=account.account_id, text=text, media_urls=media)
        if at is not None:
            request.scheduled_at.FromDatetime(at)
        return self.client.CreatePost(request).post_id

    def get_post(self, post_id: str) -> resources_pb2.Post:
        return self.client.GetPost(Req.GetPostRequest(post_id=post_id))


def test_an_expiring_token_raises_credentials_expiring_once(suite: Suite, fake_meta: FakeMeta) -> None:
    """With an app token, debug_token gives the expiry: EXPIRING, its time, and one event however
    many times the account is checked again (a check every second here)."""
    expires = int(time.time()) + 3 * 86400
    fake_meta.token("EAAB-three-days", expires_at=expires)
    health = Health(suite, fake_meta, POSTSCHED_META_APP_TOKEN=APP_TOKEN, POSTSCHED_CREDENTIALS_CHECK_PERIOD="1s")
    page = health.account(resources_pb2.FACEBOOK_PAGE, "2220001", "EAAB-three-days")
    found = health.wait_status(page, resources_pb2.CREDENTIALS_EXPIRING)
    assert found.credentials_expire_at.ToSeconds() == expires and not found.needs_credentials
    assert found.credentials_checked_at.ToSeconds() > 0
    checks = len(fake_meta.calls("debug_token", "debug_token"))
    health.wait_calls("debug_token", "debug_token", checks + 4)  # four more checks of the same token
    warned = health.events(page, "account.credentials_expiring")
    assert len(warned) == 1 and time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires)) in warned[0][1]
    assert health.events(page, "account.needs_credentials") == []
    assert health.get(page).credentials_status == resources_pb2.CREDENTIALS_EXPIRING
    # The page's own token never authenticated a check: debug_token was asked with the app's.
    assert fake_meta.calls("2220001") == []
    # The dashboard shows it, first.
    admin = suite.start("admin")
    session = session_of(sign_in(admin, ADMIN_TOKEN)[1])
    health.account(resources_pb2.FACEBOOK_PAGE, "2220011", "EAAB-fine")
    rows = json.loads(request(admin, "/api/overview", headers=session)[2])["accounts"]
    assert rows[0]["account_id"] == page.account_id and rows[0]["credentials_status"] == "EXPIRING"
    assert rows[0]["credentials_expire_at"] == time.strftime("%Y-%m-%dT%H:%M+00:00", time.gmtime(expires))


def test_an_invalidated_token_holds_the_next_post_before_it_is_due(suite: Suite, fake_meta: FakeMeta) -> None:
    """Without an app token, a cheap read with the page's token. The token dies after the account's
    first check; an hour later (its check moved back an hour here), a post due in 20 s makes the
    duty look again before it is due: the account needs credentials before its post fails, the post
    waits SCHEDULED without an attempt, and goes out once the tenant gives new credentials."""
    fake_meta.token("EAAB-soon-dead")
    health = Health(suite, fake_meta)  # POSTSCHED_CREDENTIALS_CHECK_PERIOD 6 h, as by default
    page = health.account(resources_pb2.FACEBOOK_PAGE, "2220002", "EAAB-soon-dead")
    health.wait_status(page, resources_pb2.CREDENTIALS_OK)
    fake_meta.token("EAAB-soon-dead", is_valid=False)  # the owner changed their password
    due = datetime.now(timezone.utc) + timedelta(seconds=20)
    post_id = health.post(page, "due in 20 s", at=due)
    time.sleep(1.5)  # five ticks: checked a moment ago, so not checked again (not every tick)
    assert len(fake_meta.calls("2220002", "node")) == 1
    assert health.get(page).credentials_status == resources_pb2.CREDENTIALS_OK
    # An hour passes (the last check moved an hour and a minute back): a post due within the hour
    # and no check within the hour makes the account due a check.
    health.suite.sql("UPDATE accounts SET credentials_checked_at = credentials_checked_at - interval '61 minutes'"
                     " WHERE id = %s", (uuid.UUID(page.account_id),))
    found = health.wait_status(page, resources_pb2.CREDENTIALS_INVALID, timeout=15)
    assert datetime.now(timezone.utc) < due
    assert found.needs_credentials and "190" in found.credentials_problem
    told = health.events(page, "account.needs_credentials")
    assert len(told) == 1 and told[0][0] < due and "190" in told[0][1]
    # Past its due time the post still waits, untried, and nothing was sent to the page. (Leased
    # a tick ahead, it was claimed at its time and given back without a call, its attempt too.)
    time.sleep(max(0.0, (due - datetime.now(timezone.utc)).total_seconds()) + 4)
    post = health.get_post(post_id)
    assert post.status == resources_pb2.SCHEDULED and post.attempts == 0
    assert post.last_error in ("", "the account needs new credentials; waiting for them")
    assert not [c for c in fake_meta.calls("2220002") if c["endpoint"] in PUBLISHING_CALLS]
    assert health.events(page, "account.needs_credentials") == told  # said once
    # New credentials: the post goes out, and the new token is checked afresh.
    health.client.UpdateAccountCredentials(Req.UpdateAccountCredentialsRequest(
        account_id=page.account_id, access_token="EAAB-new-token"))
    health.suite.wait_for("SELECT status::text FROM posts WHERE id = %s", "PUBLISHED", timeout=30,
                          params=(uuid.UUID(post_id),))
    fresh = health.wait_status(page, resources_pb2.CREDENTIALS_OK)
    assert not fresh.needs_credentials and not fresh.credentials_problem
    assert [p["message"] for p in fake_meta.posts("2220002")] == ["due in 20 s"]


def test_a_transient_error_on_the_check_changes_nothing(suite: Suite, fake_meta: FakeMeta) -> None:
    """A 500 (Meta's code 2) teaches nothing: the account stays as it was (never checked), no event,
    no hold; it is asked again on the next runs, and once Meta answers it is OK."""
    fake_meta.fault(kind="error", account="2220003", endpoint="node", times=0, http_status=500, code=2)
    health = Health(suite, fake_meta)
    page = health.account(resources_pb2.FACEBOOK_PAGE, "2220003", "EAAB-page-token")
    health.wait_calls("2220003", "node", 4)  # tried on several runs, not once per 6 h
    found = health.get(page)
    assert found.credentials_status == resources_pb2.CREDENTIALS_STATUS_UNSPECIFIED and not found.needs_credentials
    assert not found.HasField("credentials_checked_at") and not found.credentials_problem
    assert health.suite.sql("SELECT count(*) FROM events WHERE account_id = %s", (uuid.UUID(page.account_id),)) == [(0,)]
    fake_meta.reset()  # Meta answers again
    health.wait_status(page, resources_pb2.CREDENTIALS_OK)
    assert health.suite.sql("SELECT count(*) FROM events WHERE account_id = %s", (uuid.UUID(page.account_id),)) == [(0,)]


def test_a_missing_comment_permission_is_reported_without_holding_posts(suite: Suite, fake_meta: FakeMeta) -> None:
    """An Instagram token without instagram_manage_comments: said once (account.needs_credentials
    naming it, credentials_problem), while the account stays OK and its posts are published."""
    fake_meta.token("IGQ-no-comments", scopes=["instagram_basic", "instagram_content_publish"])
    health = Health(suite, fake_meta, POSTSCHED_META_APP_TOKEN=APP_TOKEN, POSTSCHED_CREDENTIALS_CHECK_PERIOD="1s")
    ig = health.account(resources_pb2.INSTAGRAM, "17841400000222004", "IGQ-no-comments")
    found = health.wait_status(ig, resources_pb2.CREDENTIALS_OK)
    assert "instagram_manage_comments" in found.credentials_problem and not found.needs_credentials
    post_id = health.post(ig, "published all the same", media=("https://cdn.example.com/a.jpg",))
    health.suite.wait_for("SELECT status::text FROM posts WHERE id = %s", "PUBLISHED", timeout=30,
                          params=(uuid.UUID(post_id),))
    checks = len(fake_meta.calls("debug_token", "debug_token"))
    health.wait_calls("debug_token", "debug_token", checks + 3)
    told = health.events(ig, "account.needs_credentials")
    assert len(told) == 1 and "instagram_manage_comments" in told[0][1]
    assert not health.get(ig).needs_credentials


def test_a_tenants_unreadable_token_marks_its_account_and_stops_no_one_elses_checks(
        suite: Suite, fake_meta: FakeMeta) -> None:
    """Meta answers debug_token with a 190 for a token it cannot parse, as for a refused app token.
    The app token, asked about itself, tells the two apart: one tenant's garbage marks only its own
    account, and the other accounts are still checked."""
    health = Health(suite, fake_meta, POSTSCHED_META_APP_TOKEN=APP_TOKEN)
    garbage = health.account(resources_pb2.FACEBOOK_PAGE, "2220007", "malformed-token")
    fine = health.account(resources_pb2.FACEBOOK_PAGE, "2220008", "EAAB-fine-token")
    found = health.wait_status(garbage, resources_pb2.CREDENTIALS_INVALID)
    assert found.needs_credentials and "Cannot parse access token" in found.credentials_problem
    assert "malformed-token" not in found.credentials_problem
    health.wait_status(fine, resources_pb2.CREDENTIALS_OK)
