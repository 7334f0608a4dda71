"""Facebook Page posts: text and link to /feed, one photo to /photos, several photos attached to one feed post."""

from __future__ import annotations

import json
from datetime import timedelta

from services.publisher.platforms.graph_api import GraphClient
from services.publisher.platforms.outcomes import Checkpoint, OutcomeUnknown, Post, Target

# Reconciliation looks at the page's posts created since shortly before the attempt started.
LOOKBACK = timedelta(minutes=2)


def message_of(post: Post) -> str:
    """The text Facebook shows. With photos there is no link field, so the link joins the text."""
    if post.media_urls and post.link:
        return f"{post.text}\n\n{post.link}".strip()
    return post.text


class FacebookPage:
    def __init__(self, graph: GraphClient) -> None:
        self._graph = graph

    async def publish(self, post: Post, target: Target, checkpoint: Checkpoint) -> str:
        page, token = target.external_id, target.credentials["access_token"]
        message = message_of(post)
        if not post.media_urls:
            body = await self._graph.call(
                "POST", f"{page}/feed", token=token, account=page,
                params={"message": message or None, "link": post.link or None},
            )
            return str(body["id"])
        if len(post.media_urls) == 1:
            body = await self._graph.call(
                "POST", f"{page}/photos", token=token, account=page,
                params={"url": post.media_urls[0], "caption": message or None},
            )
            return str(body.get("post_id") or body["id"])
        photo_ids = []
        for url in post.media_urls:  # unpublished photos are not visible: safe to make again on retry
            body = await self._graph.call(
                "POST", f"{page}/photos", token=token, account=page, params={"url": url, "published": "false"}
            )
            photo_ids.append(str(body["id"]))
        body = await self._graph.call(
            "POST", f"{page}/feed", token=token, account=page,
            params={"message": message or None,
                    "attached_media": json.dumps([{"media_fbid": pid} for pid in photo_ids])},
        )
        return str(body["id"])

    async def find(self, post: Post, target: Target) -> str | None:
        """Looks for this attempt's post among the page's recent posts, by its text."""
        message = message_of(post)
        if not message:
            raise OutcomeUnknown("a post without text cannot be recognised among the page's posts")
        page, token = target.external_id, target.credentials["access_token"]
        since = int((post.claimed_at - LOOKBACK).timestamp())
        body = await self._graph.call(
            "GET", f"{page}/published_posts", token=token, account=page,
            params={"fields": "id,message,created_time", "since": since, "limit": 100},
        )
        for item in body.get("data", []):
            if item.get("message") == message:
                return str(item["id"])
        return None
