"""Generic signed webhook: POST the post as JSON; 2xx is success.

Headers: `X-Postsched-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">` with the
account's webhook secret, and `Idempotency-Key: <post id>` so a receiver can drop a repeat.
"""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp

from postsched.outbound import (
    MAX_ANSWER_BYTES, Answer, OutboundRefused, TenantHttp, answer_text, printable, retry_after,
)
from postsched.signing import signature

from services.publisher.platforms.outcomes import (
    OutcomeUnknown,
    Permanent,
    Post,
    Progress,
    RateLimited,
    Target,
    Transient,
)

DEFAULT_RATE_LIMIT_WAIT = 60.0
MAX_ID_CHARS = 255


class Webhook:
    # The receiver drops a repeated Idempotency-Key, so a retry after a 5xx is harmless; only an
    # answer that never came (a timeout) leaves the outcome unknown.
    repeatable = True

    def identifies_by_text(self, post: Post) -> bool:
        return False

    def __init__(self, http: TenantHttp, *, timeout: float) -> None:
        self._http = http
        self._timeout = timeout

    async def publish(self, post: Post, target: Target, progress: Progress) -> str:
        body = json.dumps(
            {
                "post_id": str(post.id),
                "account_id": str(target.account_id),
                "text": post.text,
                "media_urls": post.media_urls,
                "link": post.link,
                "scheduled_at": post.scheduled_at.isoformat(),
                "kind": post.kind,
                **({"reel": post.reel} if post.reel else {}),
            }
        ).encode()
        now = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "X-Postsched-Signature": signature(target.credentials["webhook_secret"], now, body),
            "Idempotency-Key": str(post.id),
            "User-Agent": "postsched-webhook/1",
        }
        progress.check()
        try:
            answer = await self._http.post(target.credentials["webhook_url"], body, headers, timeout=self._timeout)
        except OutboundRefused as exc:
            raise Permanent(f"the webhook is not called: {exc.reason}") from exc
        except aiohttp.ClientConnectorError as exc:  # nothing was sent
            raise Transient(f"cannot connect to the webhook ({type(exc.os_error).__name__})") from exc
        except (asyncio.TimeoutError, aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError,
                aiohttp.ClientOSError) as exc:
            raise Transient(f"no answer from the webhook ({type(exc).__name__})", maybe_published=True) from exc
        except aiohttp.ClientError as exc:
            raise Transient(f"the webhook call failed ({type(exc).__name__})", maybe_published=True) from exc
        return self._outcome(post, answer)

    @staticmethod
    def _outcome(post: Post, answer: Answer) -> str:
        """The receiver's id for a 2xx (its JSON `id`, if short and printable), else the error."""
        if 200 <= answer.status < 300:
            try:
                found = json.loads(answer.body).get("id") if answer.complete and answer.body else None
            except (ValueError, AttributeError, UnicodeDecodeError, RecursionError):  # not an answer we can read
                found = None
            text = str(found) if isinstance(found, (str, int)) and not isinstance(found, bool) else ""
            return text if text and len(text) <= MAX_ID_CHARS and printable(text) == text else f"webhook:{post.id}"
        wait = retry_after(answer.headers)
        if answer.status == 429:
            raise RateLimited("webhook answered 429", retry_after=wait if wait is not None else DEFAULT_RATE_LIMIT_WAIT)
        if answer.status >= 500 or answer.status == 408:
            raise Transient(f"webhook answered {answer.status}", retry_after=wait)
        if 300 <= answer.status < 400:
            raise Permanent(f"webhook answered {answer.status}, a redirect: redirects are not followed")
        reason = answer_text(answer)
        if not answer.complete:
            reason = (reason[:100] + f" … (answer over {MAX_ANSWER_BYTES >> 10} KiB, not read further)").strip()
        raise Permanent(f"webhook answered {answer.status}" + (f": {reason}" if reason else ""))

    async def permalink(self, platform_id: str, target: Target) -> str:
        return ""  # the receiver has no public page for what it received

    async def find(self, post: Post, target: Target) -> list[str]:
        raise OutcomeUnknown("a webhook cannot be asked whether it received the post")
