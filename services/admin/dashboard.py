"""The operators' web dashboard, served by the admin service on POSTSCHED_DASHBOARD_ADDR (aiohttp).

Server-rendered HTML and one small script (dashboard_assets/, shipped in the wheel; no build step,
nothing from a CDN). The page polls /api/overview every second: queue stats from the same source as
WatchQueue (AdminServicer's), published / failed per minute over the last hour, accounts that need
a person, the failed posts with a Retry button, and every dispatcher and publisher heard from
(postsched/heartbeat.py). /posts/<id> tells one post's whole story.

Sign-in: the operators' token, in the login form or once as ?token=; then a signed session cookie
(HttpOnly, SameSite=Strict). Every change (POST) also needs the page's X-CSRF-Token header and, when
the browser sends one, an Origin of this host: a page elsewhere cannot make the operator's browser
retry or pause anything.
"""

from __future__ import annotations

import html
import uuid
from importlib import resources
from string import Template
from typing import Any, Awaitable, Callable
from urllib.parse import urlencode, urlsplit

import structlog
from aiohttp import web
from google.protobuf import json_format

from postsched.clock import Clock
from postsched.errors import PostschedError
from postsched.heartbeat import Replicas
from postsched.tls import is_loopback
from postsched.store.admin import AdminStore, Scope
from postsched.store.dashboard import DashboardStore
from services.admin.sessions import SESSION_COOKIE, SESSION_SECONDS, Sessions

log = structlog.get_logger("postsched.admin")
ASSETS = resources.files("services.admin") / "dashboard_assets"
STATIC = {"app.js": "application/javascript", "style.css": "text/css"}
StatsSource = Callable[[], Awaitable[Any]]  # the QueueStats message WatchQueue streams


def _asset(name: str) -> str:
    return (ASSETS / name).read_text()


def _page(title: str, body: str, csrf: str = "") -> str:
    return Template(_asset("page.html")).substitute(title=html.escape(title), body=body, csrf=html.escape(csrf))


class Dashboard:
    def __init__(self, stats: StatsSource, store: AdminStore, reads: DashboardStore, clock: Clock,
                 replicas: Replicas, *, admin_token: str, tracing_ui_url: str = "") -> None:
        self._stats = stats
        self._replicas = replicas
        self._store = store
        self._reads = reads
        self._clock = clock
        self._sessions = Sessions(admin_token)
        self._tracing_ui = tracing_ui_url.rstrip("/")
        self._runner: web.AppRunner | None = None
        self.port = 0

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard])
        app.router.add_get("/login", self._login_form)
        app.router.add_post("/login", self._login)
        app.router.add_get("/", self._index)
        app.router.add_get("/posts/{post_id}", self._post_page)
        app.router.add_get("/static/{name}", self._static)
        app.router.add_get("/api/overview", self._overview)
        app.router.add_post("/api/posts/{post_id}/retry", self._retry)
        app.router.add_post("/api/accounts/{account_id}/{action:pause|resume}", self._pause)
        return app

    async def start(self, addr: str) -> None:
        host, _, port = addr.rpartition(":")
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host.strip("[]"), int(port))
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        log.info("dashboard listening", addr=addr, port=self.port)
        if not is_loopback(addr):
            log.warning("the dashboard speaks plain HTTP on a non-loopback address: serve it to operators "
                        "through a TLS-terminating proxy or ingress, or the token and cookie cross the network readable",
                        addr=addr)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # Sign-in and request forgery

    @web.middleware
    async def _guard(self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        if request.path == "/login" or request.path.startswith("/static/"):
            return await handler(request)
        token = request.query.get("token")
        if token is not None and request.method == "GET":  # the first visit's link: sign in, drop it from the URL
            if not self._sessions.token_matches(token):
                raise web.HTTPUnauthorized(text="wrong token")
            rest = {k: v for k, v in request.query.items() if k != "token"}
            response = web.HTTPSeeOther(request.path + (f"?{urlencode(rest)}" if rest else ""))
            self._set_session(response)
            raise response
        session = request.cookies.get(SESSION_COOKIE)
        if not self._sessions.valid(session):
            if request.path.startswith("/api/"):
                raise web.HTTPUnauthorized(text="sign in first")
            raise web.HTTPSeeOther("/login")
        if request.method == "POST":
            if not self._same_origin(request) or not self._sessions.csrf_matches(session, request.headers.get("X-CSRF-Token")):  # type: ignore[arg-type]
                raise web.HTTPForbidden(text="cross-site request refused")
        request["csrf"] = self._sessions.csrf_token(session)  # type: ignore[arg-type]
        return await handler(request)

    @staticmethod
    def _same_origin(request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        return origin is None or urlsplit(origin).netloc == request.host

    def _set_session(self, response: web.StreamResponse) -> None:
        response.set_cookie(SESSION_COOKIE, self._sessions.new_session(), max_age=SESSION_SECONDS, httponly=True,
                            samesite="Strict", path="/")

    async def _login_form(self, request: web.Request, wrong: bool = False) -> web.Response:
        note = '<p class="error">That is not the operators\' token.</p>' if wrong else ""
        body = Template(_asset("login.html")).substitute(note=note)
        return web.Response(text=_page("Sign in", body), content_type="text/html", status=401 if wrong else 200)

    async def _login(self, request: web.Request) -> web.Response:
        if not self._same_origin(request):
            raise web.HTTPForbidden(text="cross-site request refused")
        form = await request.post()
        if not self._sessions.token_matches(str(form.get("token", ""))):
            return await self._login_form(request, wrong=True)
        response = web.HTTPSeeOther("/")
        self._set_session(response)
        raise response

    # Pages

    async def _index(self, request: web.Request) -> web.Response:
        return web.Response(text=_page("postsched", _asset("index.html"), request["csrf"]), content_type="text/html")

    async def _static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in STATIC:
            raise web.HTTPNotFound()
        return web.Response(text=_asset(name), content_type=STATIC[name])

    async def _post_page(self, request: web.Request) -> web.Response:
        post_id = _uuid(request.match_info["post_id"])
        post = await self._reads.post(post_id)
        if post is None:
            raise web.HTTPNotFound(text="no such post")
        logs = await self._store.list_logs(post_id=post_id, account_id=None, event=None, since=None, until=None,
                                           limit=500, before_id=None)
        rows = "".join(
            f"<tr><td>{html.escape(e.created_at.isoformat(timespec='seconds'))}</td><td>{html.escape(e.event)}</td>"
            f"<td>{html.escape(e.from_status or '')} → {html.escape(e.to_status or '')}</td><td>{e.attempt or ''}</td>"
            f"<td>{html.escape(e.message)}</td><td>{self._trace_link(e.trace_id)}</td></tr>"
            for e in reversed(logs)
        )
        retry = (f'<button class="retry" data-post="{post.id}">Retry</button>' if post.status == "FAILED" else "")
        fields = [("status", post.status), ("account", str(post.account_id)), ("tenant", post.tenant_id),
                  ("scheduled at", post.scheduled_at.isoformat(timespec="seconds")), ("attempts", str(post.attempts)),
                  ("last error", post.last_error or ""), ("platform post", post.platform_post_id or ""),
                  ("permalink", post.permalink or ""), ("text", post.text)]
        facts = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in fields)
        body = Template(_asset("post.html")).substitute(post_id=post.id, facts=facts, rows=rows, retry=retry)
        return web.Response(text=_page(f"post {post.id}", body, request["csrf"]), content_type="text/html")

    def _trace_link(self, trace_id: str | None) -> str:
        if not trace_id:
            return ""
        if not self._tracing_ui:
            return f"<code>{html.escape(trace_id)}</code>"
        url = html.escape(f"{self._tracing_ui}/trace/{trace_id}")
        return f'<a href="{url}" target="_blank" rel="noopener"><code>{html.escape(trace_id)}</code></a>'

    # The page's data and actions

    async def _overview(self, request: web.Request) -> web.Response:
        stats = json_format.MessageToDict(await self._stats(), always_print_fields_with_no_presence=True,
                                          preserving_proto_field_name=True)
        now = self._clock.now()
        failed = await self._store.failed_posts(Scope(), limit=50, after=None)
        accounts = await self._reads.accounts()
        return web.json_response({
            "stats": stats,
            "services": self._replicas.listing(),
            "tenants": await self._reads.tenants(),
            "per_minute": await self._reads.per_minute(now),
            "failed": [{"post_id": str(p.id), "account_id": str(p.account_id), "tenant_id": p.tenant_id,
                        "failed_at": p.updated_at.isoformat(timespec="seconds"), "reason": p.last_error or "",
                        "text": p.text[:80]} for p in failed],
            "accounts": [{"account_id": str(r.account.id), "tenant_id": r.account.tenant_id,
                          "platform": r.account.platform, "external_id": r.account.external_id,
                          "name": r.account.display_name, "paused": r.account.paused,
                          "needs_credentials": r.account.needs_credentials,
                          "throttled": bool(r.throttled_until and r.throttled_until > now), "counts": r.counts}
                         for r in accounts],
        })

    async def _retry(self, request: web.Request) -> web.Response:
        post_id = _uuid(request.match_info["post_id"])
        try:
            record, _ = await self._store.retry_post(post_id, self._clock.now())
        except PostschedError as exc:
            return web.json_response({"error": exc.message}, status=409)
        log.info("post retried from the dashboard", post_id=str(post_id))
        return web.json_response({"post_id": str(record.id), "status": record.status})

    async def _pause(self, request: web.Request) -> web.Response:
        account_id = _uuid(request.match_info["account_id"])
        paused = request.match_info["action"] == "pause"
        try:
            account = await self._store.set_paused(account_id, paused, self._clock.now())
        except PostschedError as exc:
            return web.json_response({"error": exc.message}, status=404)
        return web.json_response({"account_id": str(account.id), "paused": account.paused})


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise web.HTTPNotFound(text="not an id") from None
