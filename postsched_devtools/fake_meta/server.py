"""A faithful local stand-in for the parts of the Meta Graph API postsched uses.

Graph endpoints (under any version prefix, e.g. /v27.0/, recorded with each call): Page feed and photos, published_posts, Instagram
media containers with status_code (feed, REELS and STORIES, every parameter recorded), media_publish, published media
(permalink) and content_publishing_limit; Page videos, Reels (video_reels: start, the upload host's transfer under
/video-upload/VERSION/VIDEO_ID, finish, and the video's status), photo and video Stories and the Page's stories; a Page or an
Instagram user read by id, and debug_token (tokens registered with POST /_control/tokens). Answers carry
Meta's error body shape and the X-App-Usage / X-Business-Use-Case-Usage headers.

A control API under /_control lets tests and demos inject errors, latency, dropped connections and
"accepted, but answered with an error" per account and endpoint, and read back every accepted post
(to count duplicates) and every call. A webhook receiver under /_webhooks/NAME records deliveries.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections import deque
import json
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable
from urllib.parse import urlencode

from aiohttp import web

PUBLISH_ENDPOINTS = ("feed", "photos", "media", "media_publish", "webhook", "comments", "videos", "video_reels",
                     "video_stories", "photo_stories", "video-upload")
GRADUATION_STRATEGIES = ("MANUAL", "SS_PERFORMANCE")
VERSION = re.compile(r"^v\d+\.\d+$")
SAVE_EVERY = 1.0
# The permissions a token has unless registered with fewer (POST /_control/tokens).
ALL_SCOPES = ("pages_show_list", "pages_read_engagement", "pages_manage_posts", "pages_manage_engagement",
              "instagram_basic", "instagram_content_publish", "instagram_manage_comments")  # seconds between saves of a changed state (--state)


@dataclass
class Fault:
    """What to do to matching calls.

    kind: error (answer with an error, do nothing), ghost (do it, then answer with an error: Meta's
    1/99, Instagram's 4/2207051, or a rate limit after success with code 4, 17, 32 or 613),
    drop (close the connection without doing it), ghost_drop (do it, then close the connection
    without an answer), latency (wait, then go on), late (do it, then wait before answering: a
    client that times out never learns it succeeded), broken (an Instagram container made by the
    call ends in status `status_code`, e.g. ERROR or EXPIRED; a Facebook video started or uploaded by
    the call ends in video_status error, or expired).
    """

    kind: str
    account: str = "*"
    endpoint: str = "*"
    times: int = 1  # how many matching calls it affects; 0 = every one
    skip: int = 0  # matching calls let through untouched first (e.g. 1: a Reel's finish, not its start)
    http_status: int = 500
    code: int = 2
    subcode: int | None = None
    message: str = "An unexpected error has occurred. Please retry your request later."
    latency_ms: int = 0
    regain_minutes: int = 0  # estimated_time_to_regain_access in X-Business-Use-Case-Usage
    retry_after: int | None = None
    status_code: str = "ERROR"
    rate: float = 1.0  # share of matching calls it affects (drawn from the seeded generator)
    method: str = "*"  # GET or POST only (an edge such as comments is read and written)
    used: int = 0
    skipped: int = 0

    def matches(self, account: str, endpoint: str, draw: random.Random, method: str = "*") -> bool:
        return (self.account in ("*", account)) and (self.endpoint in ("*", endpoint)) and (
            self.method in ("*", method)) and (
            self.times == 0 or self.used < self.times
        ) and (self.rate >= 1.0 or draw.random() < self.rate)


@dataclass
class State:
    posts: list[dict[str, Any]] = field(default_factory=list)
    by_account: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # the same posts, oldest first
    containers: dict[str, dict[str, Any]] = field(default_factory=dict)
    media: dict[str, dict[str, Any]] = field(default_factory=dict)  # published Instagram media by id
    calls: list[dict[str, Any]] = field(default_factory=list)
    recent_calls: deque[float] = field(default_factory=deque)  # call times of the last minute, for X-App-Usage
    webhooks: list[dict[str, Any]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    # Calls being answered now, and the most ever at once, per account (a page, an IG user, a webhook).
    in_flight: dict[str, int] = field(default_factory=dict)
    max_in_flight: dict[str, int] = field(default_factory=dict)
    latency_ms: int = 0
    error_rate: float = 0.0  # share of publish calls answered with a transient error (code 2, HTTP 500)
    ig_quota_total: int = 50
    ig_quota_seconds: float = 86400.0  # content_publishing_limit's rolling window (short in tests)
    # Comments by the object they are under (a Page post, an Instagram medium), oldest first.
    comments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    video_processing_seconds: float = 1.0
    # Facebook videos (/videos, Reels, video Stories) by video id, and unpublished photos by id.
    videos: dict[str, dict[str, Any]] = field(default_factory=dict)
    photos: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Tokens registered with POST /_control/tokens: {token: {is_valid, expires_at,
    # data_access_expires_at, scopes}}. Any other token is valid, never expires, has every scope.
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    seed: int = 0
    draw: random.Random = field(default_factory=lambda: random.Random(0))
    last_id: int = 17_000_000_000_000 - 1

    def next_id(self) -> str:
        self.last_id += 1
        return str(self.last_id)

    # What survives a restart with --state: what was published (so ids go on from where they were
    # and a post's permalink never names another run's post) and the webhook deliveries. Calls,
    # faults and settings are a test's or a demo's of the moment and start empty.
    def snapshot(self) -> dict[str, Any]:
        return {"last_id": self.last_id, "posts": self.posts, "containers": self.containers,
                "webhooks": self.webhooks, "comments": self.comments, "videos": self.videos, "photos": self.photos}

    @classmethod
    def restored(cls, saved: dict[str, Any]) -> "State":
        state = cls(containers=dict(saved.get("containers", {})), webhooks=list(saved.get("webhooks", [])),
                    last_id=int(saved.get("last_id", cls.last_id)), comments=dict(saved.get("comments", {})),
                    videos=dict(saved.get("videos", {})), photos=dict(saved.get("photos", {})))
        for post in saved.get("posts", []):
            state.add_post(post)
            if post.get("kind") == "ig_media":
                state.media[post["id"]] = post
        return state

    def add_post(self, post: dict[str, Any]) -> None:
        self.posts.append(post)
        self.by_account.setdefault(post["account"], []).append(post)


SHORTCODE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def shortcode(media_id: str) -> str:
    """Instagram's permalink code for a media id: the id in base 64 with this alphabet."""
    number, code = int(media_id), ""
    while number:
        number, digit = divmod(number, 64)
        code = SHORTCODE_ALPHABET[digit] + code
    return code or "A"


def request_account(path: str) -> str:
    """The account a Graph or webhook call is about: its first node (a page, an IG user, a
    medium) or the webhook's name."""
    parts = [p for p in path.split("/") if p]
    if parts and (VERSION.match(parts[0]) or parts[0] == "_webhooks"):
        parts = parts[1:]
    return parts[0] if parts else ""


def query(p: dict[str, str]) -> dict[str, str]:
    """A call's parameters as a `paging.next` link repeats them (never the token)."""
    return {k: v for k, v in p.items() if k != "access_token"}


def graph_error(status: int, code: int, message: str, subcode: int | None = None, headers: dict[str, str] | None = None) -> web.Response:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code,
                             "fbtrace_id": f"Fake{random.randrange(10**9)}"}
    if subcode:
        error["error_subcode"] = subcode
    return web.json_response({"error": error}, status=status, headers=headers)


class FakeMeta:
    def __init__(self, state_file: Path | None = None) -> None:
        self.state_file = state_file
        self.state = State()
        if state_file is not None and state_file.exists():
            self.state = State.restored(json.loads(state_file.read_text()))
        self.app = web.Application(middlewares=[self._every_call])
        self.app.add_routes([
            web.post("/_control/faults", self.add_fault),
            web.post("/_control/settings", self.settings),
            web.post("/_control/reset", self.reset),
            web.post("/_control/page_posts", self.add_page_posts),
            web.post("/_control/tokens", self.add_token),
            web.get("/_control/posts", self.list_posts),
            web.get("/_control/calls", self.list_calls),
            web.get("/_control/webhooks", self.list_webhooks),
            web.get("/_control/comments", self.list_comments),
            web.get("/_control/concurrency", self.concurrency),
            web.post("/_webhooks/{name}", self.webhook),
            web.post("/video-upload/{version}/{video_id}", self.video_upload),
            web.route("*", "/{path:.*}", self.graph),
        ])

    # --- control -----------------------------------------------------------------------------

    async def add_fault(self, request: web.Request) -> web.Response:
        body = await request.json()
        faults = body if isinstance(body, list) else [body]
        for item in faults:
            self.state.faults.append(Fault(**item))
        return web.json_response({"faults": len(self.state.faults)})

    async def settings(self, request: web.Request) -> web.Response:
        body = await request.json()
        for key in ("latency_ms", "error_rate", "ig_quota_total", "ig_quota_seconds", "video_processing_seconds", "seed"):
            if key in body:
                setattr(self.state, key, type(getattr(self.state, key))(body[key]))
        if "seed" in body:
            self.state.draw = random.Random(self.state.seed)
        return web.json_response({"ok": True})

    async def add_page_posts(self, request: web.Request) -> web.Response:
        """Posts made on a page by someone else (other tools, people): {account, count, message,
        kind}. A busy page makes a lookup page through hundreds of them. With kind "ig_media" they are
        an Instagram account's publications by another tool: they count towards its quota."""
        body = await request.json()
        for i in range(int(body.get("count", 1))):
            message = str(body.get("message", "by someone else {i}")).format(i=i)
            if body.get("kind") == "ig_media":
                media_id = self.state.next_id()
                medium = {"id": media_id, "account": body["account"], "kind": "ig_media", "message": message,
                          "container": "", "children": [], "created_time": time.time(), "media_type": "IMAGE",
                          "permalink": f"https://www.instagram.com/p/{shortcode(media_id)}/", "foreign": True}
                self.state.add_post(medium)
                self.state.media[media_id] = medium
                continue
            self.state.add_post({"id": f"{body['account']}_{self.state.next_id()}", "account": body["account"],
                                 "kind": "feed", "message": message, "created_time": time.time(), "foreign": True})
        return web.json_response({"posts": len(self.state.by_account.get(body["account"], []))})

    async def add_token(self, request: web.Request) -> web.Response:
        """What debug_token says about a token: {token, is_valid, expires_at, data_access_expires_at
        (unix seconds, 0 = never), scopes}. A token made invalid (or past its expires_at) gets 190 on
        every call, as Meta answers after a password change."""
        body = await request.json()
        self.state.tokens[str(body["token"])] = {
            "is_valid": bool(body.get("is_valid", True)), "expires_at": int(body.get("expires_at", 0)),
            "data_access_expires_at": int(body.get("data_access_expires_at", 0)),
            "scopes": list(body.get("scopes", ALL_SCOPES))}
        return web.json_response({"tokens": len(self.state.tokens)})

    def _token_refusal(self, token: str) -> tuple[int, str] | None:
        """(subcode, message) of a 190 for a token Meta would refuse, None for a good one."""
        if token.startswith("invalid"):
            return 463, "Error validating access token: Session has expired."
        known = self.state.tokens.get(token)
        if known is None:
            return None
        if not known["is_valid"]:
            return 460, "Error validating access token: The session has been invalidated because the user changed their password."
        if known["expires_at"] and known["expires_at"] <= time.time():
            return 463, "Error validating access token: Session has expired."
        return None

    def _debug_token(self, p: dict[str, str]) -> web.Response:
        """GET /debug_token?input_token=…: what Meta knows about a token (asked with an app token)."""
        token = p.get("input_token", "")
        if not token:
            return graph_error(400, 100, "(#100) The parameter input_token is required")
        if token.startswith("malformed"):  # as Meta answers a token it cannot parse: a 190 of the call itself
            return graph_error(400, 190, "Invalid OAuth access token - Cannot parse access token")
        known = self.state.tokens.get(token, {"expires_at": 0, "data_access_expires_at": 0, "scopes": ALL_SCOPES})
        data: dict[str, Any] = {"app_id": "1000000000", "type": "PAGE", "application": "postsched fake-meta",
                                "is_valid": True, "expires_at": known["expires_at"],
                                "data_access_expires_at": known["data_access_expires_at"], "scopes": known["scopes"]}
        refusal = self._token_refusal(token)
        if refusal is not None:
            data["is_valid"] = False
            data["error"] = {"code": 190, "subcode": refusal[0], "message": refusal[1]}
        return web.json_response({"data": data})

    async def reset(self, request: web.Request) -> web.Response:
        self.state = State()
        return web.json_response({"ok": True})

    async def list_posts(self, request: web.Request) -> web.Response:
        return web.json_response({"posts": self.state.posts})

    async def list_calls(self, request: web.Request) -> web.Response:
        return web.json_response({"calls": self.state.calls})

    async def list_comments(self, request: web.Request) -> web.Response:
        return web.json_response({"comments": self.state.comments})

    async def list_webhooks(self, request: web.Request) -> web.Response:
        return web.json_response({"deliveries": self.state.webhooks})

    async def concurrency(self, request: web.Request) -> web.Response:
        """The most calls each account had in flight at once since the last reset."""
        return web.json_response({"max_in_flight": self.state.max_in_flight})

    # --- behaviour shared by every call ----------------------------------------------------------

    @web.middleware
    async def _every_call(self, request: web.Request,
                          handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        if request.path.startswith("/_control"):
            return await handler(request)
        state = self.state  # a reset while this call runs must not make the counts negative
        account = request_account(request.path)
        state.in_flight[account] = now_in = state.in_flight.get(account, 0) + 1
        if now_in > state.max_in_flight.get(account, 0):
            state.max_in_flight[account] = now_in
        try:
            response = await handler(request)
        finally:
            state.in_flight[account] -= 1
        now = time.time()
        recent = self.state.recent_calls
        recent.append(now)
        while recent and recent[0] < now - 60:
            recent.popleft()
        pct = min(100, len(recent) // 100)  # a nominal allowance of 10,000 calls a minute
        response.headers["X-App-Usage"] = json.dumps({"call_count": pct, "total_time": pct, "total_cputime": pct})
        return response

    async def _faults(self, request: web.Request, account: str, endpoint: str) -> tuple[web.StreamResponse | None, Fault | None]:
        """Applies latency, drops and errors; returns (answer instead of the real one, ghost or late fault)."""
        if self.state.latency_ms:
            await asyncio.sleep(self.state.latency_ms / 1000)
        for fault in self.state.faults:
            if not fault.matches(account, endpoint, self.state.draw, request.method):
                continue
            if fault.skipped < fault.skip:
                fault.skipped += 1
                continue
            fault.used += 1
            if fault.kind == "latency":
                await asyncio.sleep(fault.latency_ms / 1000)
                continue
            if fault.kind == "drop":
                if request.transport:
                    request.transport.close()
                raise ConnectionResetError("fake-meta dropped the connection")
            if fault.kind in ("ghost", "ghost_drop", "late", "broken"):
                return None, fault
            return self._fault_answer(fault, account), None
        if endpoint in PUBLISH_ENDPOINTS and self.state.error_rate and self.state.draw.random() < self.state.error_rate:
            return graph_error(500, 2, "Service temporarily unavailable"), None
        return None, None

    def _fault_answer(self, fault: Fault, account: str) -> web.Response:
        headers: dict[str, str] = {}
        if fault.regain_minutes:
            headers["X-Business-Use-Case-Usage"] = json.dumps({account: [{
                "type": "pages", "call_count": 100, "total_cputime": 20, "total_time": 30,
                "estimated_time_to_regain_access": fault.regain_minutes}]})
        if fault.retry_after is not None:
            headers["Retry-After"] = str(fault.retry_after)
        return graph_error(fault.http_status, fault.code, fault.message, fault.subcode, headers)

    # --- webhooks ------------------------------------------------------------------------------------

    async def webhook(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        self.state.calls.append({"at": time.time(), "method": "POST", "account": name, "endpoint": "webhook"})
        answer, ghost = await self._faults(request, name, "webhook")
        if answer is not None:
            return answer
        body = await request.read()
        self.state.webhooks.append({
            "name": name, "body": json.loads(body), "signature": request.headers.get("X-Postsched-Signature", ""),
            "idempotency_key": request.headers.get("Idempotency-Key", ""), "raw": body.decode(),
        })
        post = json.loads(body)
        self.state.add_post({"id": f"wh_{self.state.next_id()}", "account": name, "kind": "webhook",
                             "message": post.get("text", ""), "created_time": int(time.time())})
        return await self._after(request, ghost, name, web.json_response({"id": self.state.posts[-1]["id"]}))

    async def _after(
        self, request: web.Request, fault: Fault | None, account: str, response: web.Response
    ) -> web.Response:
        """The answer to a call that was carried out, as a ghost, late or broken fault would give it."""
        if fault is None or not 200 <= response.status < 300:
            return response
        if fault.kind == "ghost_drop":
            if request.transport:
                request.transport.close()
            raise ConnectionResetError("fake-meta dropped the connection after doing the call")
        if fault.kind == "broken":
            answer = json.loads(response.body)  # type: ignore[arg-type]
            container = self.state.containers.get(str(answer.get("id")))
            if container is not None:
                container["status"] = fault.status_code
            video = self.state.videos.get(str(answer.get("video_id") or answer.get("id")))
            if video is not None:
                video["failed"] = "expired" if fault.status_code.upper() == "EXPIRED" else "error"
            return response
        if fault.kind == "late":
            await asyncio.sleep(fault.latency_ms / 1000)
            return response
        return self._fault_answer(fault, account)  # done, but answered with an error

    # --- the Graph API ---------------------------------------------------------------------------------

    async def graph(self, request: web.Request) -> web.StreamResponse:
        parts = [p for p in request.match_info["path"].split("/") if p]
        version = ""
        if parts and VERSION.match(parts[0]):
            version, parts = parts[0], parts[1:]
        params = dict(request.query)
        if request.method == "POST":
            params.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
        token = params.pop("access_token", "") or request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        node = parts[0] if parts else ""
        edge = parts[1] if len(parts) > 1 else ""
        # A published Instagram medium read by id (its permalink) is its own endpoint for faults.
        endpoint = edge or ("ig_media" if node in self.state.media else "debug_token" if node == "debug_token" else "node")
        self.state.calls.append({"at": time.time(), "method": request.method, "account": node, "endpoint": endpoint,
                                 "version": version, "phase": params.get("upload_phase", "")})
        if not token:
            return graph_error(400, 104, "An access token is required to request this resource.")
        refusal = self._token_refusal(token)
        if refusal is not None:
            return graph_error(400, 190, refusal[1], refusal[0])
        answer, ghost = await self._faults(request, node, endpoint)
        if answer is not None:
            return answer
        def listing(page: str, p: dict[str, str]) -> web.Response:
            return self._published_posts(page, p, request)

        def upload_session(page: str, p: dict[str, str]) -> web.Response:
            return self._upload_session(edge, page, p, f"{request.scheme}://{request.host}/video-upload/{version or 'v27.0'}")

        handler = {
            ("POST", "feed"): self._feed, ("POST", "photos"): self._photos, ("POST", "media"): self._media,
            ("POST", "media_publish"): self._media_publish, ("GET", "published_posts"): listing,
            ("GET", "feed"): listing, ("GET", "content_publishing_limit"): self._publishing_limit,
            ("POST", "comments"): self._comment, ("GET", "comments"): self._comments,
            ("GET", "media"): self._ig_user_media,
            ("POST", "videos"): self._videos, ("POST", "video_reels"): upload_session,
            ("POST", "video_stories"): upload_session, ("POST", "photo_stories"): self._photo_story,
            ("GET", "stories"): self._stories,
            ("GET", ""): self._node,
        }.get((request.method, edge))
        if handler is None:
            return graph_error(400, 100, f"Unsupported {request.method} request to /{'/'.join(parts)}")
        return await self._after(request, ghost, node, handler(node, params))

    def _feed(self, page: str, p: dict[str, str]) -> web.Response:
        if not p.get("message") and not p.get("link") and not p.get("attached_media"):
            return graph_error(400, 100, "(#100) Missing message or attachment")
        post_id = f"{page}_{self.state.next_id()}"
        attached = json.loads(p["attached_media"]) if p.get("attached_media") else []
        self.state.add_post({"id": post_id, "account": page, "kind": "feed", "message": p.get("message", ""),
                             "link": p.get("link", ""), "media": [a["media_fbid"] for a in attached],
                             "created_time": time.time()})
        return web.json_response({"id": post_id})

    def _photos(self, page: str, p: dict[str, str]) -> web.Response:
        if not p.get("url"):
            return graph_error(400, 100, "(#100) param url must be a valid URL")
        photo_id = self.state.next_id()
        if p.get("published", "true") == "false":
            self.state.photos[photo_id] = {"account": page, "url": p["url"]}  # for attached_media, photo_stories
            return web.json_response({"id": photo_id})
        post_id = f"{page}_{self.state.next_id()}"
        self.state.add_post({"id": post_id, "account": page, "kind": "photo",
                             "message": p.get("caption") or p.get("message", ""), "media": [p["url"]],
                             "created_time": time.time()})
        return web.json_response({"id": photo_id, "post_id": post_id})

    def _published_posts(self, page: str, p: dict[str, str], request: web.Request) -> web.Response:
        """Newest first, within since/until (unix seconds, inclusive), at most `limit` (25 by
        default, 100 at most) a page, with cursor paging: `paging.cursors.after` and a full
        `paging.next` URL while more posts remain, as Meta answers."""
        try:
            since = float(p.get("since", "0") or 0)
            until = float(p.get("until", "0") or 0) or float("inf")
            limit = min(100, max(1, int(p.get("limit", "25") or 25)))
            after = int(base64.urlsafe_b64decode(p["after"].encode()).decode()) if p.get("after") else None
        except (ValueError, UnicodeError, binascii.Error):
            return graph_error(400, 100, "(#100) Invalid since, until, limit or after")
        # The cursor names the last post of a page (its place in the page's history), so posts
        # arriving while a client pages through do not shift what comes next, as with Meta's cursors.
        posts = self.state.by_account.get(page, [])
        chunk: list[tuple[int, dict[str, Any]]] = []
        more = False
        for index in range(len(posts) - 1 if after is None else after - 1, -1, -1):
            post = posts[index]
            # Videos and Reels are Page posts too; Stories are not (they are listed by /stories).
            if post["kind"] not in ("feed", "photo", "video", "reel") or not since <= post["created_time"] <= until:
                continue
            if len(chunk) == limit:
                more = True
                break
            chunk.append((index, post))
        data = [{"id": post["id"], "message": post["message"],
                 "created_time": time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(post["created_time"]))}
                for _, post in chunk]
        body: dict[str, Any] = {"data": data}
        if chunk:
            def cursor(n: int) -> str:
                return base64.urlsafe_b64encode(str(n).encode()).decode()
            body["paging"] = {"cursors": {"before": cursor(chunk[0][0]), "after": cursor(chunk[-1][0])}}
            if more:
                query = {k: v for k, v in p.items() if k != "access_token"} | {"after": cursor(chunk[-1][0])}
                body["paging"]["next"] = str(request.url.with_query(query))
        return web.json_response(body)

    def _media(self, ig: str, p: dict[str, str]) -> web.Response:
        media_type = p.get("media_type", "IMAGE")
        if media_type == "CAROUSEL":
            children = [c for c in p.get("children", "").split(",") if c]
            if not 2 <= len(children) <= 10 or any(c not in self.state.containers for c in children):
                return graph_error(400, 100, "(#100) children must be 2 to 10 existing carousel item containers")
        elif not p.get("image_url") and not p.get("video_url"):
            return graph_error(400, 100, "(#100) image_url or video_url is required")
        elif media_type == "REELS" and not p.get("video_url"):
            return graph_error(400, 100, "(#100) The parameter video_url is required for media_type REELS")
        elif (problem := self._reel_problem(media_type, p)) is not None:
            return graph_error(400, 100, problem)
        else:
            children = []
        container = self.state.next_id()
        video = bool(p.get("video_url"))
        self.state.containers[container] = {
            "account": ig, "media_type": media_type, "caption": p.get("caption", ""), "children": children,
            "ready_at": time.time() + (self.state.video_processing_seconds if video else 0), "status": "IN_PROGRESS",
            "url": p.get("image_url") or p.get("video_url"),
            "params": dict(p),  # every parameter as received, for tests to check what arrived
        }
        return web.json_response({"id": container})

    @staticmethod
    def _reel_problem(media_type: str, p: dict[str, str]) -> str | None:
        """What Meta refuses in a container's Reel parameters (IG User Media reference)."""
        reel_only = [k for k in ("cover_url", "thumb_offset", "share_to_feed", "audio_name", "trial_params") if k in p]
        if reel_only and media_type != "REELS":
            return f"(#100) {reel_only[0]} is only for media_type REELS"
        if p.get("share_to_feed", "true") not in ("true", "false"):
            return "(#100) share_to_feed must be true or false"
        if not p.get("thumb_offset", "0").isdigit():
            return "(#100) thumb_offset must be a number of milliseconds"
        if "trial_params" in p:
            try:
                trial = json.loads(p["trial_params"])
            except ValueError:
                trial = None
            if not isinstance(trial, dict) or trial.get("graduation_strategy") not in GRADUATION_STRATEGIES:
                return "(#100) trial_params must be a JSON object with graduation_strategy MANUAL or SS_PERFORMANCE"
        return None

    def _container_status(self, container: dict[str, Any]) -> str:
        if container["status"] == "IN_PROGRESS" and time.time() >= container["ready_at"]:
            container["status"] = "FINISHED"
        return str(container["status"])

    def _node(self, node: str, p: dict[str, str]) -> web.Response:
        if node == "debug_token":
            return self._debug_token(p)
        if node in self.state.media:
            return self._ig_media(self.state.media[node], p)
        if node in self.state.videos:
            return self._video_node(node, p)
        container = self.state.containers.get(node)
        if container is None and set((p.get("fields") or "id").split(",")) <= {"id"}:
            return web.json_response({"id": node})  # a Page or an Instagram user read with its token
        if container is None and set((p.get("fields") or "").split(",")) <= {"id", "username"}:
            return web.json_response({"id": node, "username": f"ig{node}"})  # an Instagram user's name
        if container is None:
            return graph_error(400, 100, f"(#100) Unsupported get request. Object with ID '{node}' does not exist")
        return web.json_response({"status_code": self._container_status(container), "id": node})

    def _ig_media(self, medium: dict[str, Any], p: dict[str, str]) -> web.Response:
        """An IG Media node: the fields asked for (id when none are), as Meta answers them."""
        values = {
            "id": medium["id"], "permalink": medium["permalink"], "caption": medium["message"],
            "media_type": medium["media_type"], "username": f"ig{medium['account']}",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(medium["created_time"])),
        }
        fields = [f for f in (p.get("fields") or "id").split(",") if f]
        unknown = [f for f in fields if f not in values]
        if unknown:
            return graph_error(400, 100, f"(#100) Tried accessing nonexisting field ({unknown[0]}) on node type (IGMedia)")
        return web.json_response({f: values[f] for f in fields} | {"id": medium["id"]})

    def _ig_published_last_day(self, ig: str) -> int:
        """Publications in the quota's rolling window (a day at Meta; shorter when a test says so)."""
        day_ago = time.time() - self.state.ig_quota_seconds
        return sum(1 for post in self.state.by_account.get(ig, []) if post["kind"] == "ig_media"
                   and post["created_time"] >= day_ago)

    def _ig_user_media(self, ig: str, p: dict[str, str]) -> web.Response:
        """GET /{ig-user-id}/media: the account's published media, newest first, `since` (unix
        seconds), `limit` (25 by default, 100 at most) and an `after` cursor (the medium's place)."""
        try:
            since = float(p.get("since", "0") or 0)
            limit = min(100, max(1, int(p.get("limit", "25") or 25)))
            after = int(p["after"]) if p.get("after") else None
        except ValueError:
            return graph_error(400, 100, "(#100) Invalid since, limit or after")
        posts = self.state.by_account.get(ig, [])
        data: list[dict[str, Any]] = []
        last, more = None, False
        for index in range(len(posts) - 1 if after is None else after - 1, -1, -1):
            post = posts[index]
            if post["kind"] != "ig_media" or post["created_time"] < since:
                continue
            if len(data) == limit:
                more = True
                break
            data.append({"id": post["id"], "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S+0000",
                                                                      time.gmtime(post["created_time"])),
                         "created_time": post["created_time"]})
            last = index
        body: dict[str, Any] = {"data": data}
        if more and last is not None:
            body["paging"] = {"cursors": {"after": str(last)}, "next": "?" + urlencode(query(p) | {"after": last})}
        return web.json_response(body)

    def _comment_owner(self, node: str) -> tuple[str, str] | None:
        """(account, platform) of the object a comment goes under: a Page post or an IG medium."""
        if node in self.state.media:
            return self.state.media[node]["account"], "instagram"
        page, _, rest = node.partition("_")
        if rest and any(post["id"] == node for post in self.state.by_account.get(page, [])):
            return page, "facebook"
        return None

    def _comment(self, node: str, p: dict[str, str]) -> web.Response:
        """POST /{object-id}/comments with `message`: a comment by the object's own account."""
        owner = self._comment_owner(node)
        if owner is None:
            return graph_error(400, 100, f"(#100) Unsupported post request. Object with ID '{node}' does not exist")
        if not p.get("message"):
            return graph_error(400, 100, "(#100) The parameter message is required")
        account, platform = owner
        comment_id = f"{node}_{self.state.next_id()}" if platform == "facebook" else self.state.next_id()
        self.state.comments.setdefault(node, []).append(
            {"id": comment_id, "message": p["message"], "from": account, "created_time": time.time()})
        return web.json_response({"id": comment_id})

    def _comments(self, node: str, p: dict[str, str]) -> web.Response:
        """GET /{object-id}/comments: oldest first, `limit` (25, at most 100) and an `after` cursor;
        Facebook's carry message and from{id,name}, Instagram's text, username and from{id,username}."""
        owner = self._comment_owner(node)
        if owner is None:
            return graph_error(400, 100, f"(#100) Unsupported get request. Object with ID '{node}' does not exist")
        try:
            limit = min(100, max(1, int(p.get("limit", "25") or 25)))
            start = int(p["after"]) + 1 if p.get("after") else 0
        except ValueError:
            return graph_error(400, 100, "(#100) Invalid limit or after")
        every = self.state.comments.get(node, [])
        chunk = every[start:start + limit]
        if owner[1] == "instagram":
            # As Meta: an Instagram comment's author is named by an Instagram-scoped id (IGSID), not
            # the ig-user-id, and by the username.
            data = [{"id": c["id"], "text": c["message"], "username": f"ig{c['from']}",
                     "from": {"id": f"igsid-{c['from']}", "username": f"ig{c['from']}"}} for c in chunk]
        else:
            data = [{"id": c["id"], "message": c["message"], "from": {"id": c["from"], "name": f"Page {c['from']}"}}
                    for c in chunk]
        body: dict[str, Any] = {"data": data}
        if start + limit < len(every):
            after = start + limit - 1
            body["paging"] = {"cursors": {"after": str(after)}, "next": "?" + urlencode(query(p) | {"after": after})}
        return web.json_response(body)

    def _media_publish(self, ig: str, p: dict[str, str]) -> web.Response:
        container = self.state.containers.get(p.get("creation_id", ""))
        if container is None or container["account"] != ig:
            return graph_error(400, 24, "The requested resource does not exist", 2207008)
        status = self._container_status(container)
        if status == "PUBLISHED":
            return graph_error(400, 9007, "The media has already been published", 2207027)
        if status != "FINISHED":
            return graph_error(400, 9007, "Media ID is not available", 2207027)
        if self._ig_published_last_day(ig) >= self.state.ig_quota_total:
            return graph_error(400, 9, "Application request limit reached", 2207042)
        container["status"] = "PUBLISHED"
        media_id = self.state.next_id()
        medium = {"id": media_id, "account": ig, "kind": "ig_media", "message": container["caption"],
                  "container": p["creation_id"], "children": container["children"], "created_time": time.time(),
                  "media_type": container["media_type"], "permalink": f"https://www.instagram.com/p/{shortcode(media_id)}/",
                  "params": container.get("params", {})}
        self.state.add_post(medium)
        self.state.media[media_id] = medium
        return web.json_response({"id": media_id})

    def _publishing_limit(self, ig: str, p: dict[str, str]) -> web.Response:
        return web.json_response({"data": [{
            "quota_usage": self._ig_published_last_day(ig),
            "config": {"quota_total": self.state.ig_quota_total, "quota_duration": int(self.state.ig_quota_seconds)},
        }]})


    # --- Facebook videos, Reels and Stories ---------------------------------------------------------
    # A video: {id, account, edge, file_url, uploaded_at, ready_at, finished_at, failed, post_id}.
    # Its status is computed when read: uploaded by the transfer, processed video_processing_seconds
    # later, published by the finish (a Reel once processed too). Each publication is a post with a
    # kind (video, reel, story) in /_control/posts, so duplicates can be counted.

    def _new_video(self, page: str, edge: str, **values: Any) -> dict[str, Any]:
        video_id = self.state.next_id()
        video = {"id": video_id, "account": page, "edge": edge, "file_url": "", "uploaded_at": None, "ready_at": None,
                 "finished_at": None, "failed": "", "post_id": "", "created_time": time.time()} | values
        self.state.videos[video_id] = video
        return video

    def _upload_session(self, edge: str, page: str, p: dict[str, str], upload_base: str) -> web.Response:
        """POST /{page-id}/video_reels or /video_stories: upload_phase start, or finish with video_id."""
        phase = p.get("upload_phase", "")
        if phase == "start":
            started = self._new_video(page, edge)
            return web.json_response({"video_id": started["id"], "upload_url": f"{upload_base}/{started['id']}"})
        if phase != "finish":
            return graph_error(400, 100, "(#100) upload_phase must be one of start, finish")
        video = self.state.videos.get(p.get("video_id", ""))
        if video is None or video["edge"] != edge:
            return graph_error(400, 100, "(#100) Invalid video_id: no upload session with this id was started on this edge")
        if video["account"] != page:
            return graph_error(400, 200, "(#200) The video was started on another Page")
        if video["uploaded_at"] is None:
            return graph_error(400, 6000, "There was a problem uploading your video file: the video was not transferred "
                               "before the finish phase", 1363130)
        if video["failed"]:
            return graph_error(400, 6000, f"The video cannot be published: its processing ended in {video['failed']}", 1363008)
        if video["finished_at"] is not None:
            return graph_error(400, 100, "(#100) This video has already been published")
        if edge == "video_reels" and p.get("video_state", "") != "PUBLISHED":
            return graph_error(400, 100, "(#100) video_state must be PUBLISHED (drafts and scheduling are not modelled)")
        now = time.time()
        video["finished_at"] = now
        if edge == "video_reels":
            post = {"id": f"{page}_{self.state.next_id()}", "account": page, "kind": "reel", "video_id": video["id"],
                    "message": p.get("description", ""), "media": [video["file_url"]], "created_time": now}
            video["post_id"] = post["id"]
            self.state.add_post(post)
            return web.json_response({"success": True})
        video["ready_at"] = min(video["ready_at"] or now, now)  # a Story is up when the finish answers
        return web.json_response({"success": True, "post_id": self._story(page, video["id"], "video", video["file_url"])})

    def _story(self, page: str, media_id: str, media_type: str, url: str) -> str:
        post_id = self.state.next_id()
        self.state.add_post({"id": post_id, "account": page, "kind": "story", "media_id": media_id,
                             "media_type": media_type, "message": "", "media": [url], "created_time": time.time()})
        return post_id

    async def video_upload(self, request: web.Request) -> web.StreamResponse:
        """Meta's upload host: POST /video-upload/{version}/{video-id} with `Authorization: OAuth <token>`
        and a hosted file's URL in the `file_url` header. Answers {"success": true}, or a debug_info error."""
        video = self.state.videos.get(request.match_info["video_id"])
        account = video["account"] if video else ""
        self.state.calls.append({"at": time.time(), "method": "POST", "account": account, "endpoint": "video-upload",
                                 "version": request.match_info["version"], "file_url": request.headers.get("file_url", "")})

        def refused(status: int, kind: str, message: str) -> web.Response:
            return web.json_response({"debug_info": {"retriable": False, "type": kind, "message": message}}, status=status)

        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme != "OAuth" or not token.strip():
            return refused(401, "AuthError", "Authorization: OAuth <token> is required")
        refusal = self._token_refusal(token.strip())
        if refusal is not None:
            return refused(401, "AuthError", refusal[1])
        if video is None:
            return refused(400, "ParameterValidationError", "Invalid video id")
        if not request.headers.get("file_url", "").startswith(("http://", "https://")):
            return refused(400, "ParameterValidationError", "The file_url header must hold the hosted file's URL")
        answer, fault = await self._faults(request, account, "video-upload")
        if answer is not None:
            return answer
        now = time.time()
        video["file_url"] = request.headers["file_url"]
        video["uploaded_at"] = now
        video["ready_at"] = now + self.state.video_processing_seconds
        if fault is not None and fault.kind == "broken":
            video["failed"] = "expired" if fault.status_code.upper() == "EXPIRED" else "error"
            fault = None
        return await self._after(request, fault, account, web.json_response({"success": True}))

    def _videos(self, page: str, p: dict[str, str]) -> web.Response:
        """POST /{page-id}/videos with file_url (a hosted file) and description: a video post on the Page."""
        if not p.get("file_url"):
            return graph_error(400, 100, "(#100) file_url or an uploaded file is required")
        now = time.time()
        video = self._new_video(page, "videos", file_url=p["file_url"], uploaded_at=now, finished_at=now,
                                ready_at=now + self.state.video_processing_seconds)
        post = {"id": f"{page}_{self.state.next_id()}", "account": page, "kind": "video", "video_id": video["id"],
                "message": p.get("description", ""), "media": [p["file_url"]], "created_time": now}
        video["post_id"] = post["id"]
        self.state.add_post(post)
        return web.json_response({"id": video["id"]})

    def _video_status(self, video: dict[str, Any]) -> dict[str, Any]:
        """A video's `status` field, in Meta's shape."""
        now = time.time()
        uploaded = video["uploaded_at"] is not None
        processed = uploaded and not video["failed"] and now >= video["ready_at"]
        uploading = {"status": "complete" if uploaded else "not_started"}
        if video["failed"]:
            processing: dict[str, Any] = {"status": "error", "errors": [
                {"code": 1363008, "message": f"Video processing failed ({video['failed']})"}]}
        else:
            processing = {"status": "complete" if processed else "in_progress" if uploaded else "not_started"}
        if video["finished_at"] is None or video["failed"]:
            publishing: dict[str, Any] = {"status": "not_started"}
        elif processed:
            publishing = {"status": "complete", "publish_status": "published", "publish_time": int(video["finished_at"])}
        else:
            publishing = {"status": "in_progress"}
        overall = video["failed"] or ("ready" if processed else "processing")
        return {"video_status": overall, "uploading_phase": uploading, "processing_phase": processing,
                "publishing_phase": publishing}

    def _video_node(self, video_id: str, p: dict[str, str]) -> web.Response:
        video = self.state.videos[video_id]
        link = f"/reel/{video_id}/" if video["edge"] == "video_reels" else f"/{video['account']}/videos/{video_id}/"
        values: dict[str, Any] = {"id": video_id, "status": self._video_status(video), "permalink_url": link,
                                  "post_id": video["post_id"] or None}
        if video["edge"] == "video_stories":
            del values["permalink_url"]  # a Story is seen among the Page's stories, not at a URL of its own
        fields = [f for f in (p.get("fields") or "id").split(",") if f]
        unknown = [f for f in fields if f not in values]
        if unknown:
            return graph_error(400, 100, f"(#100) Tried accessing nonexisting field ({unknown[0]}) on node type (Video)")
        return web.json_response({f: values[f] for f in fields if values[f] is not None} | {"id": video_id})

    def _photo_story(self, page: str, p: dict[str, str]) -> web.Response:
        """POST /{page-id}/photo_stories with the id of an unpublished photo of the Page."""
        photo = self.state.photos.get(p.get("photo_id", ""))
        if photo is None or photo["account"] != page:
            return graph_error(400, 100, "(#100) photo_id must be an unpublished photo uploaded to this Page")
        return web.json_response({"success": True, "post_id": self._story(page, p["photo_id"], "photo", photo["url"])})

    def _stories(self, page: str, p: dict[str, str]) -> web.Response:
        """GET /{page-id}/stories: the Page's stories, newest first, `limit` (25, at most 100) and an
        `after` cursor, each with post_id, status, creation_time, media_type, media_id and url."""
        try:
            limit = min(100, max(1, int(p.get("limit", "25") or 25)))
            after = int(p["after"]) if p.get("after") else None
        except ValueError:
            return graph_error(400, 100, "(#100) Invalid limit or after")
        posts = self.state.by_account.get(page, [])
        data: list[dict[str, Any]] = []
        last, more = None, False
        for index in range(len(posts) - 1 if after is None else after - 1, -1, -1):
            post = posts[index]
            if post["kind"] != "story":
                continue
            if len(data) == limit:
                more = True
                break
            data.append({"post_id": post["id"], "status": "PUBLISHED", "media_type": post["media_type"],
                         "media_id": post["media_id"], "url": post["media"][0],
                         "creation_time": str(int(post["created_time"]))})
            last = index
        body: dict[str, Any] = {"data": data}
        if more and last is not None:
            body["paging"] = {"cursors": {"after": str(last)}, "next": "?" + urlencode(query(p) | {"after": last})}
        return web.json_response(body)


    def save(self) -> None:
        """Writes the state to the state file (whole or not at all: a crash mid-write keeps the old one)."""
        if self.state_file is None:
            return
        partial = self.state_file.with_suffix(".partial")
        partial.write_text(json.dumps(self.state.snapshot()))
        partial.replace(self.state_file)

    async def keep_saved(self, every: float = SAVE_EVERY) -> None:
        """Saves the state whenever it changed, every `every` seconds, until cancelled."""
        saved = self.state.last_id, len(self.state.webhooks)
        while True:
            await asyncio.sleep(every)
            now = self.state.last_id, len(self.state.webhooks)
            if now != saved:
                self.save()
                saved = now


async def serve(host: str, port: int, state_file: Path | None = None) -> None:
    """Runs fake-meta until SIGINT/SIGTERM; with a state file, what it published survives a restart."""
    from postsched.grpc_server import wait_for_shutdown_signal

    fake = FakeMeta(state_file)
    runner = web.AppRunner(fake.app, access_log=None)
    await runner.setup()
    # A call held by a `late` fault never holds up a stop for long.
    site = web.TCPSite(runner, host, port, shutdown_timeout=2.0)
    await site.start()
    print(f"fake-meta listening on http://{host}:{port} (Graph API under /vNN.N/; control API: /_control, webhooks: /_webhooks/NAME)"
          + (f"; state in {state_file}" if state_file else ""), flush=True)
    saving = asyncio.create_task(fake.keep_saved())
    await wait_for_shutdown_signal()
    saving.cancel()
    await runner.cleanup()
    fake.save()
