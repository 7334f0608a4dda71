"""Instagram content publishing: container(s), wait for FINISHED, then media_publish.

The container id is checkpointed before media_publish: a container whose status_code reads
PUBLISHED has been published, which is how a crash or an ambiguous error is reconciled.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from services.publisher.platforms.graph_api import GraphClient
from services.publisher.platforms.outcomes import Checkpoint, Permanent, Post, RateLimited, Target, Transient

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v")



def is_video(url: str) -> bool:
    return url.split("?", 1)[0].lower().endswith(VIDEO_SUFFIXES)


class Instagram:
    def __init__(
        self, graph: GraphClient, *, poll_interval: float, poll_timeout: float, quota: "InstagramQuota"
    ) -> None:
        self._graph = graph
        self._poll_interval = poll_interval
        self._poll_timeout = poll_timeout
        self._quota = quota

    async def publish(self, post: Post, target: Target, checkpoint: Checkpoint) -> str:
        ig, token = target.external_id, target.credentials["access_token"]
        await self._quota.check(target, self._graph)
        if len(post.media_urls) == 1:
            container = await self._container(ig, token, post.media_urls[0], caption=post.text)
        else:
            children = [await self._container(ig, token, url, carousel_item=True) for url in post.media_urls]
            for child in children:
                await self._wait_finished(child, ig, token)
            body = await self._graph.call(
                "POST", f"{ig}/media", token=token, account=ig,
                params={"media_type": "CAROUSEL", "children": ",".join(children), "caption": post.text or None},
            )
            container = str(body["id"])
        await self._wait_finished(container, ig, token)
        await checkpoint({"container_id": container})
        try:
            body = await self._graph.call(
                "POST", f"{ig}/media_publish", token=token, account=ig, params={"creation_id": container}
            )
        except Transient as exc:
            if exc.maybe_published and await self._status(container, ig, token) == "PUBLISHED":
                self._quota.used(target)
                return f"container:{container}"
            raise
        self._quota.used(target)
        return str(body["id"])

    async def _container(self, ig: str, token: str, url: str, *, caption: str = "", carousel_item: bool = False) -> str:
        params: dict[str, Any] = {"caption": caption or None}
        if is_video(url):
            params.update(video_url=url, media_type="VIDEO" if carousel_item else "REELS")
        else:
            params.update(image_url=url)
        if carousel_item:
            params["is_carousel_item"] = "true"
        body = await self._graph.call("POST", f"{ig}/media", token=token, account=ig, params=params)
        return str(body["id"])

    async def _status(self, container: str, ig: str, token: str) -> str:
        body = await self._graph.call("GET", container, token=token, account=ig, params={"fields": "status_code"})
        return str(body.get("status_code", ""))

    async def _wait_finished(self, container: str, ig: str, token: str) -> None:
        deadline = time.monotonic() + self._poll_timeout
        while True:
            status = await self._status(container, ig, token)
            if status in ("FINISHED", "PUBLISHED"):
                return
            if status in ("ERROR", "EXPIRED"):
                raise Permanent(f"Instagram container {container} is {status}")
            if time.monotonic() > deadline:
                raise Transient(f"Instagram container {container} still {status or 'unknown'} after {self._poll_timeout:.0f}s")
            await asyncio.sleep(self._poll_interval)

    async def find(self, post: Post, target: Target) -> str | None:
        container = (post.platform_state or {}).get("container_id")
        if not container:
            return None  # no container was finished and recorded: nothing can have been published
        status = await self._status(container, target.external_id, target.credentials["access_token"])
        return f"container:{container}" if status == "PUBLISHED" else None


class InstagramQuota:
    """Instagram's rolling 24-hour cap on API-published posts, per account.

    Read from content_publishing_limit at most once a minute per account; in between, counted here.
    When the platform cannot be asked, the cap is taken as DEFAULT_TOTAL.
    """

    DEFAULT_TOTAL = 50
    REFRESH_SECONDS = 60.0
    WAIT_WHEN_FULL = 3600.0

    def __init__(self) -> None:
        self.usage: dict[str, tuple[int, int, float]] = {}  # ig id -> (used, total, read at)

    async def check(self, target: Target, graph: GraphClient) -> None:
        used, total, read_at = self.usage.get(target.external_id, (0, self.DEFAULT_TOTAL, 0.0))
        if time.monotonic() - read_at > self.REFRESH_SECONDS:
            try:
                body = await graph.call(
                    "GET", f"{target.external_id}/content_publishing_limit", token=target.credentials["access_token"],
                    account=target.external_id, params={"fields": "quota_usage,config"},
                )
                data = (body.get("data") or [{}])[0]
                used = int(data.get("quota_usage", used))
                total = int((data.get("config") or {}).get("quota_total", total))
            except (Transient, RateLimited, Permanent, ValueError, TypeError):
                pass  # keep counting locally
            self.usage[target.external_id] = (used, total, time.monotonic())
        if used >= total:
            raise RateLimited(
                f"Instagram 24-hour publishing limit reached ({used} of {total})", retry_after=self.WAIT_WHEN_FULL
            )

    def used(self, target: Target) -> None:
        used, total, read_at = self.usage.get(target.external_id, (0, self.DEFAULT_TOTAL, 0.0))
        self.usage[target.external_id] = (used + 1, total, read_at)
