"""The media pre-flight: POSTSCHED_MEDIA_PREFLIGHT (default 15 min) before a post is due, each of
its media URLs is asked for its type and size, and `post.media_unreachable` is raised at once when
one is gone or does not fit the post's kind and platform (media_fit.py), so the owner can fix it
with UpdatePost before the slot. The post itself is not failed.

Media URLs are the tenant's: every call goes through the outbound guard (TenantHttp: no private
or reserved address unless POSTSCHED_OUTBOUND_ALLOW opens it, checked again at each redirect;
the name resolved once). Each URL gets one check: a HEAD, or, when HEAD is refused, a GET of
`Range: bytes=0-0` of which at most RANGE_BYTES are read; redirects are followed by hand, at most
MAX_REDIRECTS, each hop guarded; REQUEST_TIMEOUT a call and URL_BUDGET the whole check. A tenant
has at most TENANT_POSTS_IN_FLIGHT posts checked at once per publisher (each one URL at a time),
all tenants together POSTS_IN_FLIGHT.

What the owner learns is what the remote said in its status line and headers (status, media type,
size), never a body. When there is no answer at all, one message says so whatever the reason (a
forbidden address, a name that does not resolve, a refused connection, a timeout): a tenant's URL
is not a probe of what postsched's network can see.
"""

from __future__ import annotations

import asyncio
import functools
from datetime import timedelta
from urllib.parse import urljoin

import aiohttp
import structlog

from postsched import telemetry
from postsched.clock import Clock
from postsched.errors import PostschedError
from postsched.outbound import Answer, OutboundRefused, TenantHttp
from postsched.store.posts.preflight import MediaToCheck, PreflightStore
from services.publisher import media_fit

log = structlog.get_logger("postsched.media_preflight")

POSTS_IN_FLIGHT = 32
TENANT_POSTS_IN_FLIGHT = 2
REQUEST_TIMEOUT = 5.0
URL_BUDGET = 10.0
MAX_REDIRECTS = 3
RANGE_BYTES = 16  # a ranged GET asks for one byte; a server ignoring the range is cut off here
HEAD_REFUSED = frozenset({
    405, 501,  # HEAD not allowed / not implemented
    403,  # a presigned URL (S3, GCS) is signed for GET only and answers HEAD with 403
})
HEADERS = {"User-Agent": "postsched-media-check/1", "Accept": "image/*, video/*"}
NO_ANSWER = f"unreachable (no answer from a public address within {URL_BUDGET:g} s)"


class MediaPreflight:
    period = 2.0

    def __init__(self, http: TenantHttp, store: PreflightStore, clock: Clock, *, window: timedelta,
                 posts_in_flight: int = POSTS_IN_FLIGHT, tenant_posts_in_flight: int = TENANT_POSTS_IN_FLIGHT,
                 request_timeout: float = REQUEST_TIMEOUT, url_budget: float = URL_BUDGET) -> None:
        self._http = http
        self._store = store
        self._clock = clock
        self._window = window
        self._posts_in_flight = posts_in_flight
        self._tenant_posts = tenant_posts_in_flight
        self._request_timeout = request_timeout
        self._url_budget = url_budget
        self._checks: dict[asyncio.Task[None], str] = {}  # check -> its tenant

    async def run_once(self) -> int:
        """Claims posts to check, as many as there is room for, and starts their checks; returns
        how many. A tenant with a check still running here gets none until it ends."""
        free = self._posts_in_flight - len(self._checks)
        if free <= 0:
            return 0
        now = self._clock.now()
        with telemetry.untraced():  # a poll every few seconds: spans of it would drown the real ones
            posts = await self._store.claim(now=now, until=now + self._window, limit=free,
                                            per_tenant=self._tenant_posts, skip_tenants=sorted(set(self._checks.values())))
        for post in posts:
            task = asyncio.create_task(self._check(post))
            self._checks[task] = post.tenant_id
            task.add_done_callback(functools.partial(self._checks.pop))
        return len(posts)

    async def stop(self) -> None:
        """Cancels the checks in flight (their posts stay marked checked: a check is at most once)."""
        for task in list(self._checks):
            task.cancel()
        if self._checks:
            await asyncio.wait(list(self._checks), timeout=5)

    async def _check(self, post: MediaToCheck) -> None:
        try:
            message = await self.problems(post)
            if message and not await self._store.report(post, message):
                log.info("media check overtaken by a change of the post", post_id=str(post.id))
        except PostschedError as exc:
            log.warning("media check not recorded", post_id=str(post.id), error=str(exc))
        except Exception:
            log.exception("media check crashed", post_id=str(post.id))

    async def problems(self, post: MediaToCheck) -> str:
        """What is wrong with the post's media, one `field: problem` each, "; "-separated ("" if nothing)."""
        urls = [(f"media_urls[{i}]", url, False) for i, url in enumerate(post.media_urls)]
        if post.cover_url:
            urls.append(("reel.cover_url", post.cover_url, True))
        answers: dict[str, media_fit.Probe | str] = {}  # one check per URL, however often the post names it
        found = []
        for field, url, cover in urls:
            if url not in answers:
                answers[url] = await self.probe(url)
            answer = answers[url]
            problem = answer if isinstance(answer, str) else media_fit.problem(
                answer, platform=post.platform, kind=post.kind, cover=cover)
            if problem:
                found.append(f"{field}: {problem}")
        return "; ".join(found)

    async def probe(self, url: str) -> media_fit.Probe | str:
        """What `url` answers (after at most MAX_REDIRECTS redirects), or why there is no answer."""
        current, hops = url, 0
        try:
            async with asyncio.timeout(self._url_budget):
                while True:
                    answer = await self._ask(current)
                    location = answer.headers.get("Location")
                    if answer.status not in (301, 302, 303, 307, 308) or not location:
                        return media_fit.Probe(answer.status, media_fit.media_type(answer.headers.get("Content-Type")),
                                               media_fit.size_of(answer.status, answer.headers))
                    if hops == MAX_REDIRECTS:
                        return f"more than {MAX_REDIRECTS} redirects"
                    current, hops = urljoin(current, location), hops + 1
        except (OutboundRefused, aiohttp.ClientError, OSError, TimeoutError, ValueError):
            # ValueError: a Location that is not a URL. Which of these it was is not said (module doc).
            return NO_ANSWER if hops == 0 else f"redirected, then {NO_ANSWER}"

    async def _ask(self, url: str) -> Answer:
        answer = await self._http.request("HEAD", url, HEADERS, timeout=self._request_timeout, max_answer=0)
        if answer.status in HEAD_REFUSED:
            answer = await self._http.request("GET", url, {**HEADERS, "Range": "bytes=0-0"},
                                              timeout=self._request_timeout, max_answer=RANGE_BYTES)
        return answer
