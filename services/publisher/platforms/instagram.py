"""Instagram content publishing: container(s), wait for FINISHED, then media_publish.

media_publish is the one call that cannot be repeated safely. The container id is saved with the
post as soon as the container exists, and survives later claims: a later attempt (or a rescuer)
reads the container's status_code first. PUBLISHED means published; a FINISHED container younger
than a day is published rather than replaced; only an EXPIRED or ERROR one is replaced. After any
error answer to media_publish (rate limit, permanent, transient, a dropped connection) the status
is read before anything else.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from services.publisher.platforms.graph_api import GraphClient
from services.publisher.quotas import INSTAGRAM_POSTS, PublishingQuotas
from postsched.media import is_video
from services.publisher.platforms.outcomes import (
    Permanent,
    PlatformError,
    Post,
    Progress,
    Target,
    Transient,
    meter,
)

# Meta expires an unpublished container after 24 hours; reuse one only well before that.
CONTAINER_REUSE = timedelta(hours=23)
# The platform id recorded for a post found published by its container's status (not by the
# answer of media_publish): the container id, prefixed, since the media id is then unknown.
CONTAINER_PREFIX = "container:"


def saved_container(post: Post) -> str | None:
    """The container an earlier attempt of this post made and saved, if any."""
    container = (post.platform_state or {}).get("container_id")
    return str(container) if container else None


def kind_container(post: Post) -> dict[str, Any]:
    """The container parameters of a Reel or a Story (Meta's IG User Media reference): a Reel is
    its video with the reel options given; a Story is its one image or video, without a caption."""
    url = post.media_urls[0]
    if post.kind == "STORY":
        return {"media_type": "STORIES", ("video_url" if is_video(url) else "image_url"): url}
    reel = post.reel or {}
    params: dict[str, Any] = {"media_type": "REELS", "video_url": url, "caption": post.text or None,
                              "cover_url": reel.get("cover_url"), "thumb_offset": reel.get("thumb_offset_ms"),
                              "audio_name": reel.get("audio_name")}
    if "share_to_feed" in reel:
        params["share_to_feed"] = "true" if reel["share_to_feed"] else "false"
    if reel.get("trial"):
        params["trial_params"] = json.dumps({"graduation_strategy": reel.get("graduation_strategy", "MANUAL")})
    return {k: v for k, v in params.items() if v is not None}


class Instagram:
    repeatable = False

    def identifies_by_text(self, post: Post) -> bool:
        return False  # by the container id saved before media_publish

    def __init__(
        self, graph: GraphClient, *, poll_interval: float, poll_timeout: float, quota: PublishingQuotas
    ) -> None:
        self._graph = graph
        self._poll_interval = poll_interval
        self._poll_timeout = poll_timeout
        self._quota = quota

    async def publish(self, post: Post, target: Target, progress: Progress) -> str:
        ig, token = target.external_id, target.credentials["access_token"]
        container = await self._reusable_container(post, ig, token)
        if container and container.startswith("published:"):
            return f"{CONTAINER_PREFIX}{container.removeprefix('published:')}"
        await self._quota.check(target, INSTAGRAM_POSTS)  # known to be full: no container made for nothing
        if container is None:
            container = await self._new_container(post, ig, token)
            await progress.save({"container_id": container,
                                 "container_created_at": datetime.now(timezone.utc).isoformat()})
        await self._wait_finished(container, ig, token)
        # A place in the publishing limit first (RateLimited when there is none): never a call against it.
        await self._quota.reserve(target, INSTAGRAM_POSTS)
        published = False
        try:
            await progress.save({"publish_sent_at": datetime.now(timezone.utc).isoformat()})  # fenced in the database
            try:
                body = await self._graph.call(
                    "POST", f"{ig}/media_publish", token=token, meter=meter("instagram", ig),
                    params={"creation_id": container})
            except PlatformError:
                # Whatever the error said, it may have gone out: the container tells.
                if await self._status(container, ig, token) == "PUBLISHED":
                    published = True
                    return f"{CONTAINER_PREFIX}{container}"
                raise
            published = True
            return str(body["id"])
        finally:
            await self._quota.settle(target, INSTAGRAM_POSTS, published=published)

    async def _reusable_container(self, post: Post, ig: str, token: str) -> str | None:
        """The container an earlier attempt made, if it can still be used ("published:<id>" if it
        already was); None when a new one is needed."""
        container = saved_container(post)
        if not container:
            return None
        status = await self._status(container, ig, token)
        if status == "PUBLISHED":
            return f"published:{container}"
        try:
            made = datetime.fromisoformat(str((post.platform_state or {}).get("container_created_at")))
        except ValueError:
            return None
        if status in ("FINISHED", "IN_PROGRESS") and datetime.now(timezone.utc) - made < CONTAINER_REUSE:
            return str(container)
        return None  # EXPIRED, ERROR, or too old to trust: make another

    async def _new_container(self, post: Post, ig: str, token: str) -> str:
        if post.kind in ("REEL", "STORY"):
            body = await self._graph.call("POST", f"{ig}/media", token=token, meter=meter("instagram", ig),
                                          params=kind_container(post))
            return str(body["id"])
        if len(post.media_urls) == 1:
            return await self._container(ig, token, post.media_urls[0], caption=post.text)
        children = [await self._container(ig, token, url, carousel_item=True) for url in post.media_urls]
        for child in children:
            await self._wait_finished(child, ig, token)
        body = await self._graph.call(
            "POST", f"{ig}/media", token=token, meter=meter("instagram", ig),
            params={"media_type": "CAROUSEL", "children": ",".join(children), "caption": post.text or None},
        )
        return str(body["id"])

    async def _container(self, ig: str, token: str, url: str, *, caption: str = "", carousel_item: bool = False) -> str:
        params: dict[str, Any] = {"caption": caption or None}
        if is_video(url):
            params.update(video_url=url, media_type="VIDEO" if carousel_item else "REELS")
        else:
            params.update(image_url=url)
        if carousel_item:
            params["is_carousel_item"] = "true"
        body = await self._graph.call("POST", f"{ig}/media", token=token, meter=meter("instagram", ig), params=params)
        return str(body["id"])

    async def _status(self, container: str, ig: str, token: str) -> str:
        body = await self._graph.call("GET", container, token=token, meter=meter("instagram", ig), params={"fields": "status_code"})
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

    async def permalink(self, platform_id: str, target: Target) -> str:
        if platform_id.startswith(CONTAINER_PREFIX):
            return ""  # found published through its container: the media id, and so the permalink, is unknown
        ig, token = target.external_id, target.credentials["access_token"]
        body = await self._graph.call("GET", platform_id, token=token, meter=meter("instagram", ig), params={"fields": "permalink"})
        return str(body.get("permalink") or "")

    async def find(self, post: Post, target: Target) -> list[str]:
        container = saved_container(post)
        if not container:
            return []  # no container was made and recorded: nothing can have been published
        status = await self._status(container, target.external_id, target.credentials["access_token"])
        return [f"{CONTAINER_PREFIX}{container}"] if status == "PUBLISHED" else []
