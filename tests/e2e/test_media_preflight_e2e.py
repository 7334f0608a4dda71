"""The media pre-flight through the running services (issue 25, item 6): a post due within
POSTSCHED_MEDIA_PREFLIGHT whose media URL is gone, or is not what its kind and platform take,
raises post.media_unreachable well before its due time, once; good media raise nothing; an
UpdatePost has the new media checked again. Media URLs are the tenant's: a listener on a loopback
address the outbound guard forbids counts every connection, and zero proves none was made."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone

import pytest
from aiohttp import web
from google.protobuf.timestamp_pb2 import Timestamp

from postsched.errors import ConfigError
from postsched.settings import PublisherSettings
from postsched.v1 import resources_pb2, scheduler_pb2
from postsched_devtools.processes import Suite
from postsched_devtools.tenant import Tenant
from tests.conftest import TENANT_TOKENS
from tests.e2e.test_settings import GOOD
from tests.listeners import CountingListener, Receiver, loopback_name

pytestmark = pytest.mark.e2e
Req = scheduler_pb2
MIB = 1024 * 1024
# The media server lives on 127.0.0.2, the only address the guard is told to allow; the
# "forbidden" listener on 127.0.0.1 stands for anything private.
ALLOW = "127.0.0.2/32"
PUBLISHER = {**GOOD, "POSTSCHED_NATS_URL": "nats://127.0.0.1:4222", "POSTSCHED_ADMIN_TOKEN": "a" * 40}
NO_ANSWER = "unreachable (no answer from a public address within 10 s)"


class MediaServer:
    """Answers by path; records each (method, path, Range) it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.forbidden = ""  # where /to-forbidden.jpg redirects
        self.receiver = Receiver(self._handle)

    def count(self, path: str, method: str | None = None) -> int:
        return sum(1 for m, p, _ in self.calls if p == path and method in (None, m))

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path, method = request.path, request.method
        self.calls.append((method, path, request.headers.get("Range", "")))
        if path in ("/ok.jpg", "/clip.mp4", "/pic.png"):
            kind = {"/ok.jpg": "image/jpeg", "/clip.mp4": "video/mp4", "/pic.png": "image/png"}[path]
            return web.Response(body=b"x" * 1000, content_type=kind)
        if path == "/gone.jpg":
            return web.Response(status=404, text="<html>not here, and a secret: hunter2</html>")
        if path == "/page.mp4":
            return web.Response(text="<html>a login page</html>" * 100, content_type="text/html")
        if path == "/huge.jpg":  # HEAD says 50 MiB; a GET would stream it (it must never be read)
            response = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
            response.content_length = 50 * MIB
            await response.prepare(request)
            if method == "GET":
                for _ in range(50 * 16):
                    await response.write(b"x" * (64 * 1024))
            return response
        if path == "/nohead.jpg":  # HEAD refused; a ranged GET answers with the total in Content-Range
            if method == "HEAD":
                return web.Response(status=405)
            return web.Response(status=206, body=b"x", content_type="image/jpeg",
                                headers={"Content-Range": "bytes 0-0/2000"})
        if path == "/moved.jpg":
            raise web.HTTPMovedPermanently("/ok.jpg")
        if path == "/to-forbidden.jpg":
            raise web.HTTPFound(self.forbidden)
        if path == "/slow.jpg":
            await asyncio.sleep(60)
        return web.Response(status=500)


@pytest.mark.parametrize(("value", "expected"), [
    ("", timedelta(minutes=15)), ("0", None), ("off", None), ("90s", timedelta(seconds=90)), ("2h", timedelta(hours=2)),
])
def test_the_preflight_window_is_a_duration_default_15_minutes_0_off(value: str, expected: timedelta | None) -> None:
    assert PublisherSettings.from_env({**PUBLISHER, "POSTSCHED_MEDIA_PREFLIGHT": value}).media_preflight == expected


def test_a_bad_preflight_window_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="POSTSCHED_MEDIA_PREFLIGHT"):
        PublisherSettings.from_env({**PUBLISHER, "POSTSCHED_MEDIA_PREFLIGHT": "soon"})


def _at(minutes: float) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(datetime.now(timezone.utc) + timedelta(minutes=minutes))
    return stamp


def _events(suite: Suite) -> list[tuple[str, str, datetime]]:
    return [(str(post), message, at) for post, message, at in suite.sql(
        "SELECT post_id, message, occurred_at FROM events WHERE type = 'post.media_unreachable' ORDER BY sequence")]


def test_bad_media_raise_post_media_unreachable_before_the_due_time_once_each(suite: Suite) -> None:
    media = MediaServer()
    with media.receiver as server, CountingListener("127.0.0.1") as forbidden:
        url = server.url
        scheduler = suite.start("scheduler", POSTSCHED_OUTBOUND_ALLOW=ALLOW)
        suite.start("publisher", POSTSCHED_OUTBOUND_ALLOW=ALLOW, POSTSCHED_MEDIA_PREFLIGHT="15m")
        acme = Tenant(scheduler.addr, TENANT_TOKENS["acme"])
        hook, ig = acme.webhook_account("hook"), acme.instagram_account()

        def post(account: resources_pb2.Account, urls: list[str], *, minutes: float = 3,
                 kind: int = resources_pb2.FEED, cover: str = "") -> str:
            request = Req.CreatePostRequest(account_id=account.account_id, text="t", media_urls=urls,
                                            scheduled_at=_at(minutes), kind=kind)
            if cover:
                request.reel.cover_url = cover
            return acme.CreatePost(request).post_id

        here = f"http://127.0.0.1:{forbidden.port}"
        media.forbidden = f"{here}/c.jpg"
        good = [
            post(hook, [f"{url}/ok.jpg", f"{url}/moved.jpg", f"{url}/nohead.jpg", f"{url}/ok.jpg"]),
            post(ig, [f"{url}/clip.mp4"], kind=resources_pb2.REEL, cover=f"{url}/ok.jpg"),
        ]
        expected = {
            post(hook, [f"{url}/ok.jpg", f"{url}/gone.jpg"]): "media_urls[1]: HTTP 404",
            post(hook, [f"{url}/page.mp4"], minutes=2): "media_urls[0]: text/html is not an image or a video",
            post(ig, [f"{url}/huge.jpg"], minutes=4): "media_urls[0]: 50.0 MB is over Instagram's 8.0 MB for an image",
            post(ig, [f"{url}/pic.png"], minutes=5): "media_urls[0]: image/png: Instagram takes JPEG images only",
            post(ig, [f"{url}/clip.mp4"], kind=resources_pb2.REEL, cover=f"{url}/page.mp4"):
                "reel.cover_url: text/html is not an image",
            post(hook, [f"{url}/slow.jpg"]): f"media_urls[0]: {NO_ANSWER}",
            post(hook, [f"{here}/a.jpg", f"http://{loopback_name()}:{forbidden.port}/b.jpg",
                        f"{url}/to-forbidden.jpg"]):
                f"media_urls[0]: {NO_ANSWER}; media_urls[1]: {NO_ANSWER}; media_urls[2]: redirected, then {NO_ANSWER}",
        }
        later = post(hook, [f"{url}/gone.jpg"], minutes=120)  # outside the 15-minute window
        due = {str(p): at for p, at in suite.sql("SELECT id, scheduled_at FROM posts")}

        deadline = time.monotonic() + 45
        while len(events := _events(suite)) < len(expected):
            assert time.monotonic() < deadline, events
            time.sleep(0.3)
        assert {p: m for p, m, _ in events} == expected
        for post_id, _, occurred in events:
            assert due[post_id] - occurred > timedelta(minutes=1), (post_id, occurred, due[post_id])

        time.sleep(3 * 2.0 + 1)  # several more duty runs: still one event a post, each URL asked once
        assert len(_events(suite)) == len(expected)
        assert media.count("/gone.jpg") == 1 and media.count("/page.mp4") == 2  # one post each, cover too
        # The good post's (named twice, asked once), the moved one's, the REEL's cover, the gone post's.
        assert media.count("/ok.jpg") == 4
        assert media.count("/nohead.jpg", "HEAD") == 1 and media.count("/nohead.jpg", "GET") == 1
        assert ("GET", "/nohead.jpg", "bytes=0-0") in media.calls
        assert media.count("/huge.jpg", "GET") == 0
        assert forbidden.connections == 0
        assert all("hunter2" not in m and "login" not in m for _, m, _ in events)  # never a body
        assert suite.sql("SELECT media_checked_at IS NULL FROM posts WHERE id = %s", (later,)) == [(True,)]
        assert suite.sql("SELECT count(*) FROM posts WHERE media_checked_at IS NOT NULL AND id = ANY(%s::uuid[])",
                         (good,)) == [(len(good),)]  # checked, and found fine
        statuses = suite.sql("SELECT DISTINCT status::text FROM posts")
        assert statuses == [("SCHEDULED",)]  # warned, not failed

        # The owner fixes the gone image: the new media are checked again, and raise nothing.
        gone = next(p for p, m in expected.items() if m.endswith("HTTP 404"))
        before = media.count("/ok.jpg")
        acme.UpdatePost(Req.UpdatePostRequest(post_id=gone, text="t", media_urls=[f"{url}/ok.jpg"]))
        deadline = time.monotonic() + 20
        while media.count("/ok.jpg") == before:
            assert time.monotonic() < deadline, "the updated post's media were not checked again"
            time.sleep(0.2)
        suite.wait_for("SELECT count(*) FROM posts WHERE media_checked_at IS NULL AND id = %s", 0, params=(gone,))
        time.sleep(1.0)
        assert len(_events(suite)) == len(expected)

        # The same events reach the tenant through WatchEvents.
        stream = acme.WatchEvents(Req.WatchEventsRequest(after_sequence=0, types=["post.media_unreachable"]))
        seen = {}
        for event in stream:
            seen[event.post_id] = event.message
            if len(seen) == len(expected):
                stream.cancel()
                break
        assert seen == expected
