"""The Meta Graph API over HTTP (aiohttp): requests, usage headers, and error classification."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable
from urllib.parse import parse_qsl, urlencode, urlsplit

import aiohttp

from postsched.outbound import printable, read_bounded
from services.publisher.platforms.outcomes import OutcomeUnknown, Permanent, PlatformError, RateLimited, Transient

# Error codes, from Meta's error-handling and rate-limiting pages (see shared/META-GRAPH.md).
TRANSIENT_CODES = {-2, -1, 1, 2}
RATE_LIMIT_CODES = {4, 9, 17, 32, 341, 613, *range(80000, 80015)}
PERMANENT_CODES = {10, 100, 104, 190, 368, 506, 1609005, *range(200, 300)}
GHOST_SUBCODES = {(1, 99), (4, 2207051)}  # an error although the post went out
IG_QUOTA_SUBCODE = 2207042
DEFAULT_RATE_LIMIT_WAIT = 60.0
IG_QUOTA_WAIT = 3600.0
# The largest answer read: a page of 100 posts of 63,206 characters each, JSON-escaped, could pass
# 8 MiB in theory; real pages are far smaller. A longer answer is an error, never a bigger buffer.
MAX_ANSWER_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Usage:
    """Rate-limit headers of one answer, in percent of the allowance."""

    app_call_pct: float | None = None
    business_call_pct: float | None = None
    regain_access_seconds: float | None = None  # estimated_time_to_regain_access (minutes) * 60


def parse_usage(headers: Any) -> Usage:
    app_pct = business_pct = regain = None
    try:
        app = json.loads(headers.get("X-App-Usage", "null") or "null")
        if isinstance(app, dict):
            app_pct = float(max(app.get("call_count", 0), app.get("total_time", 0), app.get("total_cputime", 0)))
    except (ValueError, TypeError):
        pass
    try:
        buc = json.loads(headers.get("X-Business-Use-Case-Usage", "null") or "null")
        if isinstance(buc, dict):
            for entries in buc.values():
                for entry in entries if isinstance(entries, list) else []:
                    pct = float(max(entry.get("call_count", 0), entry.get("total_time", 0), entry.get("total_cputime", 0)))
                    business_pct = max(business_pct or 0.0, pct)
                    minutes = float(entry.get("estimated_time_to_regain_access", 0) or 0)
                    if minutes:
                        regain = max(regain or 0.0, minutes * 60)
    except (ValueError, TypeError, AttributeError):
        pass
    return Usage(app_call_pct=app_pct, business_call_pct=business_pct, regain_access_seconds=regain)


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After")
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _number(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def classify(status: int, body: Any, headers: Any, usage: Usage) -> PlatformError:
    """The PlatformError for a Graph API error answer."""
    error = body.get("error") if isinstance(body, dict) else None
    debug = body.get("debug_info") if isinstance(body, dict) else None
    if not isinstance(error, dict) and isinstance(debug, dict):
        # Meta's upload host (rupload) answers {"debug_info": {"retriable", "type", "message"}}.
        text = f"HTTP {status} from Meta's upload host: {printable(str(debug.get('message', '')))}"
        if debug.get("retriable") or status >= 500 or status == 429:
            return Transient(text, retry_after=_retry_after(headers))
        return Permanent(text)
    if not isinstance(error, dict):
        if status >= 500 or status == 429:
            return Transient(f"HTTP {status} from the Graph API", retry_after=_retry_after(headers))
        return Permanent(f"HTTP {status} from the Graph API without an error body")
    code, subcode = _number(error.get("code")), _number(error.get("error_subcode"))
    text = f"Meta error {code}" + (f"/{subcode}" if subcode else "") + f": {printable(str(error.get('message', '')))}".rstrip(": ")
    if (code, subcode) in GHOST_SUBCODES:
        return Transient(text, maybe_published=True)
    if subcode == IG_QUOTA_SUBCODE:
        return RateLimited(text + " (Instagram 24-hour publishing limit)", retry_after=IG_QUOTA_WAIT,
                           whole_account=False)
    if code in RATE_LIMIT_CODES or status == 429:
        # The platform's own estimate wins; a minute when it gives none.
        wait = usage.regain_access_seconds or _retry_after(headers) or DEFAULT_RATE_LIMIT_WAIT
        return RateLimited(text, retry_after=wait)
    if code == 190:
        return Permanent(text + " (the account needs new credentials)", needs_credentials=True)
    if code in PERMANENT_CODES:
        return Permanent(text)
    if code in TRANSIENT_CODES or status >= 500 or error.get("is_transient"):
        return Transient(text, retry_after=_retry_after(headers))
    return Permanent(text)


UsageSink = Callable[[str, Usage], None]


class GraphClient:
    """One shared aiohttp session per process; every call reports its usage headers to `usage_sink`."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, *, timeout: float, usage_sink: UsageSink) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._usage_sink = usage_sink

    async def call(
        self, method: str, path: str, *, token: str, meter: str, params: dict[str, Any] | None = None,
        auth_scheme: str = "Bearer", headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """One Graph API request; returns the JSON body or raises a PlatformError.

        The token travels in the Authorization header, never in a URL that could end up in a log
        (`auth_scheme` "OAuth" for Meta's upload host, which asks for that spelling); `headers` are
        sent besides it (the upload host takes a hosted file's URL as a header).
        """
        url = f"{self._base}/{path.lstrip('/')}"
        headers = {**(headers or {}), "Authorization": f"{auth_scheme} {token}"}
        fields = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            if method == "GET":
                request = self._session.get(url, params=fields, headers=headers, timeout=self._timeout)
            else:
                # Encoded here: aiohttp's FormData path costs several times more CPU per request.
                headers["Content-Type"] = "application/x-www-form-urlencoded"
                body = urlencode({k: str(v) for k, v in fields.items()}).encode()
                request = self._session.post(url, data=body, headers=headers, timeout=self._timeout)
            async with request as response:
                usage = parse_usage(response.headers)
                self._usage_sink(meter, usage)
                raw, complete = await read_bounded(response, MAX_ANSWER_BYTES)
                if not complete:
                    raise Transient(f"HTTP {response.status} with an answer over {MAX_ANSWER_BYTES >> 20} MiB, not read",
                                    maybe_published=method == "POST")
                try:
                    answer: Any = json.loads(raw) if raw else None
                except ValueError:
                    answer = None
                if response.status >= 400 or (isinstance(answer, dict) and "error" in answer):
                    raise classify(response.status, answer, response.headers, usage)
                if not isinstance(answer, dict):
                    raise Transient(f"HTTP {response.status} with an unreadable body", maybe_published=method == "POST")
                return answer
        except PlatformError:
            raise
        except aiohttp.ClientConnectorError as exc:  # nothing was sent
            raise Transient(f"cannot connect to the Graph API: {exc.os_error or exc}") from exc
        except (asyncio.TimeoutError, aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError,
                aiohttp.ClientOSError) as exc:
            # The request may have been received and acted on.
            raise Transient(f"no answer from the Graph API ({type(exc).__name__})", maybe_published=method == "POST") from exc
        except aiohttp.ClientError as exc:
            raise Transient(f"Graph API request failed: {exc}", maybe_published=method == "POST") from exc

    async def listing(self, path: str, *, token: str, meter: str, params: dict[str, Any], max_pages: int,
                      what: str) -> AsyncIterator[list[Any]]:
        """Each page (`data`) of a Graph listing, following `paging.next` to its end. Only the next
        link's query is taken, sent to our own Graph URL with our own token: a link is never
        followed to another host. OutcomeUnknown when an answer holds no list, or when more than
        `max_pages` pages remain (`what` names the listing in both)."""
        for _ in range(max_pages):
            body = await self.call("GET", path, token=token, meter=meter, params=params)
            data = body.get("data")
            if not isinstance(data, list):
                raise OutcomeUnknown(f"the Graph API answered the lookup of {what} without a list")
            yield data
            following = (body.get("paging") or {}).get("next")
            if not following or not data:
                return
            params = {k: v for k, v in parse_qsl(urlsplit(following).query) if k != "access_token"}
        raise OutcomeUnknown(f"more than {max_pages} pages of {what}: they cannot be read completely")
