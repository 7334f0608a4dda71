"""The operators' dashboard in a real browser (headless Chromium): sign in, live stats, a failed
post retried from the page until it is published, its story with a link to the tracing UI, an
account paused and resumed; and, over plain HTTP, a missing session and forged requests refused."""

from __future__ import annotations

import asyncio

import json
import re
import time

import pytest

from postsched.v1 import scheduler_pb2
from tests.browser import chrome, screenshot
from postsched_devtools.tenant import Tenant
from tests.conftest import ADMIN_TOKEN, TENANT_TOKENS
from postsched_devtools.fake_meta.control import FakeMeta
from postsched_devtools.processes import Suite
from tests.dashboard_http import request
from tests.otlp import Receiver

pytestmark = pytest.mark.e2e
TRACING_UI = "http://jaeger.example:16686"


def until(condition, what: str, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    """condition()'s first truthy value; the page redraws parts as data changes, so an element that
    is not there yet or was just replaced counts as not yet."""
    from selenium.common.exceptions import (NoAlertPresentException, NoSuchElementException,
                                            StaleElementReferenceException)

    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except (NoSuchElementException, StaleElementReferenceException, NoAlertPresentException):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


async def send_heartbeats(url: str, bodies: list[bytes]) -> None:
    import nats

    nc = await nats.connect(url)
    for body in bodies:
        await nc.publish("postsched.status.forged.x", body)
    await nc.flush()
    await nc.close()


@pytest.fixture
def running(suite: Suite, fake_meta: FakeMeta):  # type: ignore[no-untyped-def]
    receiver = Receiver().start()  # traced, so the processing log holds trace ids to link
    suite.base_env.update(POSTSCHED_META_GRAPH_URL=fake_meta.graph_url, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint)
    services = {name: suite.start(name) for name in ("scheduler", "dispatcher", "publisher")}
    services["admin"] = suite.start("admin", POSTSCHED_TRACING_UI_URL=TRACING_UI)
    yield services
    suite.stop_all()  # before the receiver goes, so the services' last export finds it
    receiver.stop()


def test_a_failed_post_retried_in_the_page_is_published(running, suite: Suite, fake_meta: FakeMeta) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    admin = running["admin"]
    fake_meta.fault(kind="error", account="8880003", endpoint="feed", times=1, http_status=400, code=100)
    client = Tenant(running["scheduler"].addr, TENANT_TOKENS["acme"])
    page = client.page_account("8880003", token="EAAB-dashboard-token")
    post = client.CreatePost(scheduler_pb2.CreatePostRequest(account_id=page.account_id, text="from the dashboard"))
    suite.wait_for("SELECT status::text FROM posts WHERE id = %s", "FAILED", params=(post.post_id,))

    driver = chrome()
    try:
        base = f"http://localhost:{admin.dashboard_port}"
        driver.get(base + "/")
        assert driver.current_url == base + "/login"  # no session: the sign-in form
        driver.find_element(By.ID, "token").send_keys("not the token")
        driver.find_element(By.ID, "sign-in").click()
        until(lambda: "not an operator's token" in driver.page_source, "the wrong token refused")
        driver.find_element(By.ID, "token").send_keys(ADMIN_TOKEN)
        driver.find_element(By.ID, "sign-in").click()
        until(lambda: driver.current_url == base + "/", "the dashboard after signing in")
        (cookie,) = [c for c in driver.get_cookies() if c["name"] == "postsched_session"]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert driver.find_element(By.ID, "operator").text == "operator"  # who is signed in

        failed_row = f'#failed tr[data-post="{post.post_id}"]'
        until(lambda: "Meta error 100" in driver.find_element(By.CSS_SELECTOR, failed_row + " .reason").text,
              "the failed post and its reason in the page")
        until(lambda: driver.find_element(By.CSS_SELECTOR, "#count-FAILED b").text == "1", "the FAILED count")
        account_row = driver.find_element(By.CSS_SELECTOR, f'#accounts tr[data-account="{page.account_id}"]')
        assert "8880003" in account_row.text
        assert "0 / 1 / 0" in driver.find_element(By.CSS_SELECTOR, '#tenants tr[data-tenant="acme"]').text
        # Every dispatcher and publisher, heard from over NATS, all duties running.
        replicas = until(lambda: [r.text for r in driver.find_elements(By.CSS_SELECTOR, "#services tbody tr")
                                  if "serving" in r.text] if len(driver.find_elements(By.CSS_SELECTOR, "#services tbody tr")) == 2 else None,
                         "the dispatcher and the publisher in the services table")
        assert sorted(r.split()[0] for r in replicas) == ["dispatcher", "publisher"]
        screenshot(driver, "dashboard-failed-post")

        until(lambda: driver.find_element(By.CSS_SELECTOR, failed_row + " button.retry").click() or True,
              "the Retry button clicked")  # the retry, clicked in the page
        suite.wait_for("SELECT status::text FROM posts WHERE id = %s", "PUBLISHED", params=(post.post_id,))
        until(lambda: driver.find_element(By.CSS_SELECTOR, "#count-PUBLISHED b").text == "1", "the PUBLISHED count")
        until(lambda: not driver.find_elements(By.CSS_SELECTOR, f'#failed tr[data-post="{post.post_id}"]'),
              "the retried post leaving the failed list")
        until(lambda: driver.find_elements(By.CSS_SELECTOR, "#chart rect.published"), "a published bar in the chart")
        assert [p["message"] for p in fake_meta.posts()].count("from the dashboard") == 1
        # The chart's axes: a scale in posts a minute, and local times along the bottom.
        y_labels = [t.text for t in driver.find_elements(By.CSS_SELECTOR, "#chart text.y-label")]
        x_labels = [t.text for t in driver.find_elements(By.CSS_SELECTOR, "#chart text.x-label")]
        assert y_labels[0] == "0" and int(y_labels[-1]) >= 1 and driver.find_element(By.CSS_SELECTOR, "#chart .unit")
        assert len(x_labels) >= 4 and all(re.fullmatch(r"\d\d:\d\d", t) for t in x_labels), x_labels
        assert "times in" in driver.find_element(By.ID, "zone").text
        screenshot(driver, "dashboard")

        # A post in its second delivery shows as retrying, with its error, before it can fail.
        fake_meta.fault(kind="error", account="8880004", endpoint="feed", times=1, http_status=500, code=2)
        other = client.page_account("8880004", token="EAAB-dashboard-token-2")
        shaky = client.CreatePost(scheduler_pb2.CreatePostRequest(account_id=other.account_id, text="shaky"))
        retrying = until(lambda: [r for r in driver.find_elements(By.CSS_SELECTOR, f'#trouble tr[data-post="{shaky.post_id}"]')
                                  if "retrying (attempt 2)" in r.text], "the post in the retrying list")
        assert "retrying" in retrying[0].get_attribute("class") and "Meta error 2" in retrying[0].text
        assert driver.find_element(By.CSS_SELECTOR, f'#trouble tr[data-post="{shaky.post_id}"] span').get_attribute(
            "title") == other.account_id  # the account by name, its id on hover
        screenshot(driver, "dashboard-retrying")
        suite.wait_for("SELECT status::text FROM posts WHERE id = %s", "PUBLISHED", params=(shaky.post_id,))
        until(lambda: "Nothing retrying or overdue." in driver.find_element(By.ID, "trouble").text,
              "the empty state once it is published")

        # At 400 px the page does not scroll sideways (wide tables scroll inside their card).
        driver.set_window_size(400, 900)
        until(lambda: driver.execute_script("return document.documentElement.scrollWidth") <= 400,
              "no horizontal scroll at 400 px")
        until(lambda: driver.execute_script("return document.getElementById('chart').viewBox.baseVal.width") <= 400,
              "the chart redrawn to its new width")
        screenshot(driver, "dashboard-400px")
        driver.set_window_size(1280, 1000)

        # Retry all asks first: dismissed, the failed post stays; accepted, it goes out again.
        fake_meta.fault(kind="error", account="8880004", endpoint="feed", times=1, http_status=400, code=100)
        lost = client.CreatePost(scheduler_pb2.CreatePostRequest(account_id=other.account_id, text="retried by all"))
        suite.wait_for("SELECT status::text FROM posts WHERE id = %s", "FAILED", params=(lost.post_id,))
        until(lambda: driver.find_elements(By.CSS_SELECTOR, f'#failed tr[data-post="{lost.post_id}"]'), "the failed post")
        driver.find_element(By.ID, "retry-all").click()
        alert = until(lambda: driver.switch_to.alert, "the Retry all confirmation")
        assert "Retry all 1 failed posts" in alert.text
        alert.dismiss()
        time.sleep(0.5)  # a window in which nothing may happen
        assert suite.sql("SELECT status::text FROM posts WHERE id = %s", (lost.post_id,)) == [("FAILED",)]
        driver.find_element(By.ID, "retry-all").click()
        until(lambda: driver.switch_to.alert, "the Retry all confirmation").accept()
        suite.wait_for("SELECT status::text FROM posts WHERE id = %s", "PUBLISHED", params=(lost.post_id,))

        # The post's story: its processing log, the retry in it, trace ids linking to the tracing UI.
        driver.get(f"{base}/posts/{post.post_id}")
        story = driver.find_element(By.ID, "story").text
        assert "retried" in story and "published" in story and "failed" in story
        links = [a.get_attribute("href") for a in driver.find_elements(By.CSS_SELECTOR, "#story a")]
        assert links and all(link.startswith(TRACING_UI + "/trace/") for link in links)
        screenshot(driver, "dashboard-post")

        # Pause and resume the account from the page.
        driver.get(base + "/")
        until(lambda: driver.find_element(By.CSS_SELECTOR, f'button.pause[data-account="{page.account_id}"]').click() or True,
              "the account's Pause button clicked")
        # It asks first: dismissed, nothing happens; accepted, the account is paused.
        alert = until(lambda: driver.switch_to.alert, "the confirmation")
        assert "Pause" in alert.text and "until it is resumed" in alert.text
        alert.dismiss()
        time.sleep(0.5)  # a window in which nothing may happen
        assert not suite.sql("SELECT paused FROM accounts WHERE id = %s", (page.account_id,))[0][0]
        driver.find_element(By.CSS_SELECTOR, f'button.pause[data-account="{page.account_id}"]').click()
        until(lambda: driver.switch_to.alert, "the confirmation").accept()
        until(lambda: suite.sql("SELECT paused FROM accounts WHERE id = %s", (page.account_id,))[0][0], "paused")
        until(lambda: driver.find_element(By.CSS_SELECTOR, f'button.resume[data-account="{page.account_id}"]').click() or True,
              "the Resume button clicked")
        until(lambda: not suite.sql("SELECT paused FROM accounts WHERE id = %s", (page.account_id,))[0][0], "resumed")
    finally:
        driver.quit()


def test_a_token_link_signs_in_once_and_sign_out_ends_the_session(running) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    driver = chrome()
    try:
        base = f"http://localhost:{running['admin'].dashboard_port}"
        driver.get(f"{base}/?token={ADMIN_TOKEN}")
        until(lambda: driver.current_url == base + "/", "the token dropped from the address")
        # The page's script runs under the Content-Security-Policy (no inline script): live stats.
        until(lambda: driver.find_element("id", "count-SCHEDULED").text, "live stats")
        (cookie,) = [c for c in driver.get_cookies() if c["name"] == "postsched_session"]
        driver.find_element(By.ID, "sign-out").click()
        until(lambda: driver.current_url == base + "/login", "the sign-in form after signing out")
        # The old session id is dead on the server, not only forgotten by this browser.
        status, headers, _ = request(running["admin"], "/", headers={"Cookie": f"postsched_session={cookie['value']}"})
        assert status == 303 and headers["Location"] == "/login"
        driver.get(base + "/")
        until(lambda: driver.current_url == base + "/login", "no way back in without signing in")
    finally:
        driver.quit()


def test_no_session_and_forged_requests_are_refused(running, suite: Suite) -> None:  # type: ignore[no-untyped-def]
    admin = running["admin"]
    assert request(admin, "/")[0] == 303 and request(admin, "/")[1]["Location"] == "/login"
    assert request(admin, "/api/overview")[0] == 401
    assert request(admin, "/?token=wrong")[0] == 401
    some_post = "00000000-0000-0000-0000-000000000001"
    assert request(admin, f"/api/posts/{some_post}/retry", method="POST")[0] == 401  # no session
    # Sign in the way the form does; a login posted from another site is refused.
    assert request(admin, "/login", method="POST", data=f"token={ADMIN_TOKEN}".encode(),
                   headers={"Origin": "http://evil.example", "Content-Type": "application/x-www-form-urlencoded"})[0] == 403
    status, headers, _ = request(admin, "/login", method="POST", data=f"token={ADMIN_TOKEN}".encode(),
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 303
    cookie = headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    session = {"Cookie": cookie.split(";", 1)[0]}
    status, _, body = request(admin, "/", headers=session)
    assert status == 200
    csrf = body.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    overview = json.loads(request(admin, "/api/overview", headers=session)[2])
    assert set(overview) == {"stats", "services", "tenants", "per_minute", "failed", "trouble", "accounts"}
    assert len(overview["per_minute"]) == 60
    # Anyone on NATS can send "heartbeats": malformed ones are dropped, the overview still answers.
    asyncio.run(send_heartbeats(suite.nats_url, [b'{"instance": "no-service"}', b"[]", b"not json", b"[" * 100_000,
                                                 b'{"service": 1, "instance": {}}', b'{"service": "x", "instance": "i", '
                                                 b'"duties": [1], "figures": "f"}']))
    time.sleep(0.5)
    status, _, body = request(admin, "/api/overview", headers=session)
    assert status == 200 and {s["service"] for s in json.loads(body)["services"]} <= {"dispatcher", "publisher"}
    # A change without the page's token, with a wrong one, or from another origin: refused.
    retry = f"/api/posts/{some_post}/retry"
    assert request(admin, retry, method="POST", headers=session)[0] == 403
    assert request(admin, retry, method="POST", headers={**session, "X-CSRF-Token": "0" * 64})[0] == 403
    assert request(admin, retry, method="POST",
                   headers={**session, "X-CSRF-Token": csrf, "Origin": "http://evil.example"})[0] == 403
    for other_site in ({"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}, {"Origin": "null"}):
        assert request(admin, retry, method="POST", headers={**session, "X-CSRF-Token": csrf, **other_site})[0] == 403
    # With both, the request goes through (and the post, which does not exist, is reported so).
    status, _, body = request(admin, retry, method="POST", headers={**session, "X-CSRF-Token": csrf})
    assert status == 409 and "not found" in json.loads(body)["error"]
