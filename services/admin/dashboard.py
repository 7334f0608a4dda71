"""The operators' web dashboard, served by the admin service on POSTSCHED_DASHBOARD_ADDR (aiohttp).

Server-rendered HTML and one small script (dashboard_assets/, shipped in the wheel; no build step,
nothing from a CDN). The page polls /api/overview every second: queue stats from the same source as
WatchQueue (AdminServicer's), published / failed per minute over the last hour, accounts that need
a person, the failed posts with a Retry button, and every dispatcher and publisher heard from
(postsched/heartbeat.py). /posts/<id> tells one post's whole story.

Sign-in: an operator's token, in the login form or once as ?token=; then a random session id in
a cookie (HttpOnly, SameSite=Strict, Secure over TLS), kept server-side (sessions.py) and ended by
Sign out. Failed sign-ins are counted per client address and slowed (postsched/throttle.py). Every
change (POST) also needs the page's CSRF token and, when the browser sends one, an Origin of this
host: a page elsewhere cannot make the operator's browser retry or pause anything. Every answer
forbids framing, inline script and sniffing; a Host header that is not this dashboard's is refused
(DNS rebinding).
"""

from __future__ import annotations

import html
import ipaddress
import ssl
import uuid
from importlib import resources
from string import Template
from typing import Any, Awaitable, Callable
from urllib.parse import urlencode, urlsplit

import structlog
from aiohttp import web
from google.protobuf import json_format

from postsched.auth import DEFAULT_OPERATOR, Principal, TokenBook
from postsched.clock import Clock
from postsched.errors import PostschedError, Unauthenticated
from postsched.heartbeat import Replicas
from postsched.settings import DashboardSettings
from postsched.store.admin import AdminStore, Scope
from postsched.store.dashboard import DashboardStore
from postsched.store.dashboard_sessions import DashboardSessionStore
from postsched.throttle import FailedSignIns, TooManyFailures
from postsched.tls import is_loopback
from services.admin.sessions import SESSION_COOKIE, SESSION_SECONDS, Sessions

log = structlog.get_logger("postsched.admin")
ASSETS = resources.files("services.admin") / "dashboard_assets"
STATIC = {"app.js": "application/javascript", "style.css": "text/css", "favicon.svg": "image/svg+xml"}
StatsSource = Callable[[], Awaitable[Any]]  # the QueueStats message WatchQueue streams
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Sent with every answer. The pages load only their own script and style sheet, never inline code.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
                               "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def _asset(name: str) -> str:
    return (ASSETS / name).read_text()


def _page(title: str, body: str, request: web.Request | None = None) -> str:
    csrf, who = "", ""
    if request is not None:
        csrf = request["csrf"]
        who = Template(_asset("who.html")).substitute(name=html.escape(request["operator"].name), csrf=html.escape(csrf))
    return Template(_asset("page.html")).substitute(title=html.escape(title), body=body, csrf=html.escape(csrf), who=who)


class Dashboard:
    def __init__(self, stats: StatsSource, store: AdminStore, reads: DashboardStore, clock: Clock,
                 replicas: Replicas, *, operators: TokenBook, sessions: DashboardSessionStore,
                 settings: DashboardSettings = DashboardSettings(), tracing_ui_url: str = "") -> None:
        self._stats = stats
        self._replicas = replicas
        self._store = store
        self._reads = reads
        self._clock = clock
        self._sessions = Sessions(sessions, operators, clock)
        self._settings = settings
        self._failures = FailedSignIns("dashboard")
        self._tracing_ui = tracing_ui_url.rstrip("/")
        self._runner: web.AppRunner | None = None
        self.port = 0

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._check_host, self._guard])
        app.on_response_prepare.append(self._add_headers)
        app.router.add_get("/login", self._login_form)
        app.router.add_post("/login", self._login)
        app.router.add_post("/logout", self._logout)
        app.router.add_get("/", self._index)
        app.router.add_get("/posts/{post_id}", self._post_page)
        app.router.add_get("/static/{name}", self._static)
        app.router.add_get("/favicon.ico", self._favicon)  # asked for by browsers whatever the page says
        app.router.add_get("/api/overview", self._overview)
        app.router.add_post("/api/posts/retry-failed", self._retry_all)
        app.router.add_post("/api/posts/{post_id}/retry", self._retry)
        app.router.add_post("/api/accounts/{account_id}/{action:pause|resume}", self._pause)
        return app

    async def start(self, addr: str) -> None:
        host, _, port = addr.rpartition(":")
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        context = None
        if self._settings.tls_cert:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self._settings.tls_cert, self._settings.tls_key)
        site = web.TCPSite(self._runner, host.strip("[]"), int(port), ssl_context=context)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        log.info("dashboard listening", addr=addr, port=self.port, tls=context is not None)
        if not is_loopback(addr) and context is None and not self._settings.trusted_proxies:
            log.warning("the dashboard speaks plain HTTP on a non-loopback address: serve it to operators "
                        "through a TLS-terminating proxy or ingress, or the token and cookie cross the network readable",
                        addr=addr)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # Who may ask: the Host, the client, the session

    @web.middleware
    async def _check_host(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not self._known_host(request.host):
            raise web.HTTPMisdirectedRequest(text="this dashboard does not answer to that host name; "
                                                  "add it to POSTSCHED_DASHBOARD_HOSTS")
        return await handler(request)

    def _known_host(self, host_header: str) -> bool:
        """IP literals and localhost cannot be rebound; any other name must be configured."""
        host = _host_part(host_header)
        if not host:
            return False
        if host in ("localhost", self._settings_host()):
            return True
        try:
            ipaddress.ip_address(host)
            return True
        except ValueError:
            pass
        return any(host == name or name.startswith("*.") and host.endswith(name[1:]) for name in self._settings.hosts)

    def _settings_host(self) -> str:
        return (self._settings.addr or "").rpartition(":")[0].strip("[]").lower()

    def _from_proxy(self, request: web.Request) -> bool:
        try:
            remote = ipaddress.ip_address(request.remote or "")
        except ValueError:
            return False
        return any(remote in network for network in self._settings.trusted_proxies)

    def _client(self, request: web.Request) -> str:
        """The address sign-ins are counted against: the peer, or the first hop before the trusted proxies."""
        if self._from_proxy(request):
            # Every header line (a proxy may add its own line rather than append), nearest hop last.
            hops = ",".join(request.headers.getall("X-Forwarded-For", [])).split(",")
            for hop in reversed(hops):
                try:
                    address = ipaddress.ip_address(_host_part(hop))
                except ValueError:
                    break
                if not any(address in n for n in self._settings.trusted_proxies):
                    return str(address)
        return request.remote or ""

    def _secure(self, request: web.Request) -> bool:
        return bool(self._settings.tls_cert) or (
            self._from_proxy(request) and request.headers.get("X-Forwarded-Proto", "").lower() == "https")

    async def _add_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        response.headers.update(SECURITY_HEADERS)
        if not request.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        if self._settings.tls_cert:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in ("/login", "/favicon.ico") or request.path.startswith("/static/"):
            return await handler(request)
        token = request.query.get("token")
        if token is not None and request.method == "GET":  # the first visit's link: sign in, drop it from the URL
            if request.headers.get("Sec-Fetch-Site", "none") not in ("none", "same-origin"):
                # Loaded by another site (an <img> in a page the operator reads): never tried, so it
                # cannot count failures against the operator's own address.
                raise web.HTTPSeeOther("/login")
            rest = {k: v for k, v in request.query.items() if k != "token"}
            # One leading slash: "//evil.example" would be another site.
            response = web.HTTPSeeOther("/" + request.path.lstrip("/") + (f"?{urlencode(rest)}" if rest else ""))
            if not await self._sign_in(request, token, response):
                raise web.HTTPUnauthorized(text="wrong token")
            raise response
        session = request.cookies.get(SESSION_COOKIE)
        operator = await self._sessions.operator(session)
        if operator is None or session is None:
            if request.path.startswith("/api/"):
                raise web.HTTPUnauthorized(text="sign in first")
            raise web.HTTPSeeOther("/login")
        if request.method == "POST":
            offered = request.headers.get("X-CSRF-Token")
            if offered is None and request.content_type == "application/x-www-form-urlencoded":
                offered = str((await request.post()).get("csrf", ""))
            if not self._same_origin(request) or not self._sessions.csrf_matches(session, offered):
                raise web.HTTPForbidden(text="cross-site request refused")
        request["session"] = session
        request["operator"] = operator
        request["csrf"] = self._sessions.csrf_token(session)
        return await handler(request)

    @staticmethod
    def _same_origin(request: web.Request) -> bool:
        """Whether a browser says the request comes from one of this dashboard's own pages. Under
        Referrer-Policy no-referrer a browser's Origin is "null", so Sec-Fetch-Site decides when sent."""
        site = request.headers.get("Sec-Fetch-Site")
        if site is not None:
            return site in ("same-origin", "none")
        origin = request.headers.get("Origin")
        return origin is None or origin != "null" and urlsplit(origin).netloc == request.host

    async def _sign_in(self, request: web.Request, token: str, response: web.StreamResponse) -> bool:
        """Opens a session on `response` when the token is an operator's; slowed for an address that
        keeps failing (a try over the limit is refused with 429 without being checked)."""
        client = self._client(request)
        try:
            session, operator = await self._failures.attempt(client, lambda: self._sessions.sign_in(token, client))
        except TooManyFailures as exc:
            raise web.HTTPTooManyRequests(text=str(exc), headers={"Retry-After": str(int(exc.retry_after) + 1)}) from None
        except Unauthenticated:
            return False
        response.set_cookie(SESSION_COOKIE, session, max_age=SESSION_SECONDS, httponly=True, samesite="Strict",
                            path="/", secure=self._secure(request))
        log.info("operator signed in to the dashboard", operator=operator.name, client=client)
        return True

    async def _login_form(self, request: web.Request, wrong: bool = False) -> web.Response:
        note = '<p class="error">That is not an operator\'s token.</p>' if wrong else ""
        body = Template(_asset("login.html")).substitute(note=note)
        return web.Response(text=_page("Sign in", body), content_type="text/html", status=401 if wrong else 200)

    async def _login(self, request: web.Request) -> web.Response:
        if not self._same_origin(request):
            raise web.HTTPForbidden(text="cross-site request refused")
        form = await request.post()
        response = web.HTTPSeeOther("/")
        if not await self._sign_in(request, str(form.get("token", "")), response):
            return await self._login_form(request, wrong=True)
        raise response

    async def _logout(self, request: web.Request) -> web.Response:
        await self._sessions.sign_out(request["session"])
        log.info("operator signed out of the dashboard", operator=request["operator"].name, client=self._client(request))
        response = web.HTTPSeeOther("/login")
        response.del_cookie(SESSION_COOKIE, path="/")
        raise response

    # Pages

    async def _index(self, request: web.Request) -> web.Response:
        return web.Response(text=_page("postsched", _asset("index.html"), request), content_type="text/html")

    async def _static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in STATIC:
            raise web.HTTPNotFound()
        return web.Response(text=_asset(name), content_type=STATIC[name])

    async def _favicon(self, request: web.Request) -> web.Response:
        return web.Response(text=_asset("favicon.svg"), content_type="image/svg+xml",
                            headers={"Cache-Control": "max-age=86400"})

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
            f"<td>{html.escape(e.message)}</td>{self._trace_cell(e.trace_id)}</tr>"
            for e in reversed(logs)
        )
        # Without a tracing UI the trace ids link nowhere: one line names the post's trace instead,
        # for `postsched logs` or a search of the services' logs.
        trace_ids = sorted({e.trace_id for e in logs if e.trace_id})
        retry = (f'<button class="retry" data-post="{post.id}">Retry</button>' if post.status == "FAILED" else "")
        fields = [("status", post.status), ("account", str(post.account_id)), ("tenant", post.tenant_id),
                  ("scheduled at", post.scheduled_at.isoformat(timespec="seconds")), ("attempts", str(post.attempts)),
                  ("last error", post.last_error or ""), ("platform post", post.platform_post_id or ""),
                  ("permalink", post.permalink or ""), ("text", post.text)]
        if post.recurring_post_id:
            rule = await self._reads.recurring(post.recurring_post_id)
            summary = f"{post.recurring_post_id}" + (
                f" ({' '.join(rule['recurrence'])} from {rule['start_time'].isoformat()} {rule['time_zone']}; "
                f"{rule['status'].lower()}, {rule['occurrences_skipped']} skipped)" if rule else "")
            fields.append(("recurring post", summary))
            if post.occurrence_time:
                fields.append(("occurrence of", post.occurrence_time.isoformat(timespec="seconds")))
        if post.slotted:
            fields.append(("slot", "a slot of its account's posting schedule (EnqueuePost)"))
        if not self._tracing_ui and trace_ids:
            fields.append(("trace", ", ".join(trace_ids) + f"    (its log lines: postsched logs {post.id})"))
        facts = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in fields)
        body = Template(_asset("post.html")).substitute(post_id=post.id, facts=facts, rows=rows, retry=retry,
                                                        trace_head="<th>trace</th>" if self._tracing_ui else "")
        return web.Response(text=_page(f"post {post.id}", body, request), content_type="text/html")

    def _trace_cell(self, trace_id: str | None) -> str:
        """The trace column's cell: a link to the tracing UI; no column without one."""
        if not self._tracing_ui:
            return ""
        if not trace_id:
            return "<td></td>"
        url = html.escape(f"{self._tracing_ui}/trace/{trace_id}")
        return f'<td><a href="{url}" target="_blank" rel="noopener"><code>{html.escape(trace_id)}</code></a></td>'

    # The page's data and actions

    async def _overview(self, request: web.Request) -> web.Response:
        stats = json_format.MessageToDict(await self._stats(), always_print_fields_with_no_presence=True,
                                          preserving_proto_field_name=True)
        now = self._clock.now()
        failed = await self._store.failed_posts(Scope(), limit=50, after=None)
        accounts = await self._reads.accounts()
        names = {str(r.account.id): r.account.display_name or r.account.external_id for r in accounts}
        return web.json_response({
            "stats": stats,
            "services": self._replicas.listing(),
            "tenants": await self._reads.tenants(),
            "per_minute": await self._reads.per_minute(now),
            "failed": [{"post_id": str(p.id), "account_id": str(p.account_id), "tenant_id": p.tenant_id,
                        "account": names.get(str(p.account_id), ""),
                        "failed_at": p.updated_at.isoformat(timespec="seconds"), "reason": p.last_error or "",
                        "text": p.text[:80]} for p in failed],
            "trouble": await self._reads.in_trouble(now),
            "accounts": [{"account_id": str(r.account.id), "tenant_id": r.account.tenant_id,
                          "platform": r.account.platform, "external_id": r.account.external_id,
                          "name": r.account.display_name, "paused": r.account.paused,
                          "needs_credentials": r.account.needs_credentials,
                          "credentials_status": r.account.credentials_status or "",
                          "credentials_expire_at": r.account.credentials_expire_at
                          and r.account.credentials_expire_at.isoformat(timespec="minutes"),
                          "credentials_problem": r.account.credentials_problem or "",
                          "throttled": bool(r.throttled_until and r.throttled_until > now), "counts": r.counts,
                          "time_zone": r.account.time_zone, "slots": r.slots,
                          "min_post_interval_s": int(r.account.min_post_interval.total_seconds()),
                          "quotas": [{"name": q.name, "used": q.used, "total": q.total,
                                      "window_s": int(q.window.total_seconds()),
                                      "frees_at": q.frees_at and q.frees_at.isoformat(timespec="minutes")}
                                     for q in r.account.publishing_quotas]}
                         for r in accounts],
        })

    async def _retry(self, request: web.Request) -> web.Response:
        post_id = _uuid(request.match_info["post_id"])
        try:
            record, _ = await self._store.retry_post(post_id, self._clock.now(), _actor(request))
        except PostschedError as exc:
            return web.json_response({"error": exc.message}, status=409)
        log.info("post retried from the dashboard", post_id=str(post_id), operator=_actor(request))
        return web.json_response({"post_id": str(record.id), "status": record.status})

    async def _retry_all(self, request: web.Request) -> web.Response:
        """Every failed post of every tenant back to SCHEDULED (RetryFailed with no scope)."""
        retried, waiting = await self._store.retry_failed(Scope(), self._clock.now(), _actor(request))
        log.info("every failed post retried from the dashboard", posts=retried, operator=_actor(request))
        return web.json_response({"retried": retried, "waiting_for_credentials": waiting})

    async def _pause(self, request: web.Request) -> web.Response:
        account_id = _uuid(request.match_info["account_id"])
        paused = request.match_info["action"] == "pause"
        try:
            account = await self._store.set_paused(account_id, paused, self._clock.now(), _actor(request))
        except PostschedError as exc:
            return web.json_response({"error": exc.message}, status=404)
        return web.json_response({"account_id": str(account.id), "paused": account.paused})


def _host_part(text: str) -> str:
    """The host of a Host header or a forwarded hop ('host:port', '[v6]:port', '[v6]', a bare
    address), lowercase, without port or brackets; '' when malformed ('[::1]evil.example')."""
    text = text.strip().lower()
    if text.startswith("["):
        inside, _, rest = text[1:].partition("]")
        return inside if rest == "" or rest[:1] == ":" and rest[1:].isdigit() else ""
    return text.rpartition(":")[0] if text.count(":") == 1 else text


def _actor(request: web.Request) -> str:
    operator: Principal = request["operator"]
    return operator.name or DEFAULT_OPERATOR


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise web.HTTPNotFound(text="not an id") from None
