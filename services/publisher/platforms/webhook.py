"""Generic signed webhook: POST the post as JSON; 2xx is success.

Headers: `X-Postsched-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">` with the
account's webhook secret, and `Idempotency-Key: <post id>` so a receiver can drop a repeat.
"""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp

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


class Webhook:
    # The receiver drops a repeated Idempotency-Key, so a retry after a 5xx is harmless; only an
    # answer that never came (a timeout) leaves the outcome unknown.
    repeatable = True
    identifies_by_text = False

    def __init__(self, session: aiohttp.ClientSession, *, timeout: float) -> None:
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def publish(self, post: Post, target: Target, progress: Progress) -> str:
        body = json.dumps(
            {
                "post_id": str(post.id),
                "account_id": str(target.account_id),
                "text": post.text,
                "media_urls": post.media_urls,
                "link": post.link,
                "scheduled_at": post.scheduled_at.isoformat(),
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
            async with self._session.post(
                target.credentials["webhook_url"], data=body, headers=headers, timeout=self._timeout
            ) as response:
                text = await response.text()
                if 200 <= response.status < 300:
                    try:
                        answer = json.loads(text) if text else {}
                    except ValueError:
                        answer = {}
                    found = answer.get("id") if isinstance(answer, dict) else None
                    return str(found) if found else f"webhook:{post.id}"
                retry_after = response.headers.get("Retry-After")
                wait = float(retry_after) if retry_after and retry_after.isdigit() else None
                if response.status == 429:
                    raise RateLimited(f"webhook answered 429", retry_after=wait or DEFAULT_RATE_LIMIT_WAIT)
                if response.status >= 500 or response.status == 408:
                    raise Transient(f"webhook answered {response.status}", retry_after=wait)
                raise Permanent(f"webhook answered {response.status}: {text[:200]}")
        except aiohttp.ClientConnectorError as exc:
            raise Transient(f"cannot connect to the webhook: {exc.os_error or exc}") from exc
        except (asyncio.TimeoutError, aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError,
                aiohttp.ClientOSError) as exc:
            raise Transient(f"no answer from the webhook ({type(exc).__name__})", maybe_published=True) from exc

    async def permalink(self, platform_id: str, target: Target) -> str:
        return ""  # the receiver has no public page for what it received

    async def find(self, post: Post, target: Target) -> list[str]:
        raise OutcomeUnknown("a webhook cannot be asked whether it received the post")
