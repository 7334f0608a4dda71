"""Facebook Page posts: text and link to /feed, one photo to /photos, several photos attached to one
feed post, one video to /videos; Reels (/video_reels) and Stories (facebook_video.py, facebook_stories.py).

Reconciliation (after an answer that may hide a success, before any second attempt, and for an
attempt whose publisher went away) finds a Reel or a Story by the id saved before its publishing
step; any other post, it recognises by its text among the page's published posts: it reads them in every window in which one
of the post's attempts may have reached Facebook, following `paging.next` to the end of each
window: a busy page receives hundreds of posts a minute, far more than one page of answers.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from services.publisher.platforms.facebook_stories import PageStories
from services.publisher.platforms.facebook_video import REELS, VideoUploads, saved_video
from services.publisher.platforms.graph_api import GraphClient
from postsched.media import is_video
from services.publisher.platforms.outcomes import OutcomeUnknown, PlatformError, Post, Progress, Target, Transient

# Margin around each attempt's window, for clock skew between us and Meta and for Meta's own delay.
LOOKBACK = timedelta(minutes=2)
PAGE_LIMIT = 100  # Meta's maximum per page of published_posts
MAX_PAGES = 100  # per lookup: 10,000 posts; past that the window cannot be read, outcome unknown


def message_of(post: Post) -> str:
    """The text Facebook shows. With photos there is no link field, so the link joins the text."""
    if post.media_urls and post.link:
        return f"{post.text}\n\n{post.link}".strip()
    return post.text


def is_video_post(post: Post) -> bool:
    """A feed post of one video: POST /{page-id}/videos."""
    return post.kind == "FEED" and len(post.media_urls) == 1 and is_video(post.media_urls[0])


def windows(claims: tuple[datetime, ...], attempt_span: float) -> list[tuple[datetime, datetime]]:
    """The time ranges in which the attempts claimed at `claims` may have created a post: each
    attempt lasts at most `attempt_span` seconds; overlapping ranges merged."""
    spans = sorted((c - LOOKBACK, c + timedelta(seconds=attempt_span) + LOOKBACK) for c in claims)
    merged: list[tuple[datetime, datetime]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


class FacebookPage:
    repeatable = False

    def __init__(self, graph: GraphClient, uploads: VideoUploads, *, attempt_span: float) -> None:
        self._graph = graph
        self._uploads = uploads
        self._stories = PageStories(graph, uploads)
        self._attempt_span = attempt_span

    def identifies_by_text(self, post: Post) -> bool:
        # Reels and Stories: by the media id saved before publishing; a video post: not at all.
        return post.kind == "FEED" and not is_video_post(post)

    async def publish(self, post: Post, target: Target, progress: Progress) -> str:
        page, token = target.external_id, target.credentials["access_token"]
        message = message_of(post)
        if post.kind == "REEL":
            # The finish only starts the publication: the Reel is published once Meta says so.
            video_id, _ = await self._uploads.publish(
                REELS, post, target, progress, finish={"video_state": "PUBLISHED", "description": message or None},
                wait_published=True)
            return video_id
        if post.kind == "STORY":
            return await self._stories.publish(post, target, progress)
        if is_video_post(post):
            # One call, no id before it, and Meta lists a video post only once it is processed: it
            # cannot be looked up reliably. So once the call may have reached Meta, no attempt sends
            # it again: find() answers outcome_unknown for a person to check.
            await progress.save({"video_sent_at": datetime.now(timezone.utc).isoformat()})
            try:
                body = await self._graph.call(
                    "POST", f"{page}/videos", token=token, meter=target.meter,
                    params={"file_url": post.media_urls[0], "description": message or None},
                )
            except PlatformError as exc:
                if not (isinstance(exc, Transient) and exc.maybe_published):
                    await progress.save({"video_sent_at": None})  # refused or never sent: not there
                raise
            return str(body["id"])
        if not post.media_urls:
            progress.check()
            body = await self._graph.call(
                "POST", f"{page}/feed", token=token, meter=target.meter,
                params={"message": message or None, "link": post.link or None},
            )
            return str(body["id"])
        if len(post.media_urls) == 1:
            progress.check()
            body = await self._graph.call(
                "POST", f"{page}/photos", token=token, meter=target.meter,
                params={"url": post.media_urls[0], "caption": message or None},
            )
            return str(body.get("post_id") or body["id"])
        photo_ids = []
        for url in post.media_urls:  # unpublished photos are not visible: safe to make again on retry
            body = await self._graph.call(
                "POST", f"{page}/photos", token=token, meter=target.meter, params={"url": url, "published": "false"}
            )
            photo_ids.append(str(body["id"]))
        progress.check()
        body = await self._graph.call(
            "POST", f"{page}/feed", token=token, meter=target.meter,
            params={"message": message or None,
                    "attached_media": json.dumps([{"media_fbid": pid} for pid in photo_ids])},
        )
        return str(body["id"])

    async def permalink(self, platform_id: str, target: Target) -> str:
        # A feed post's id is PAGEID_POSTID, and Facebook's permalink is made of the two: no call.
        page, _, post = platform_id.partition("_")
        if page and post:
            return f"https://www.facebook.com/{page}/posts/{post}"
        # A video's or a Reel's id (a Story's post id): Meta knows its permalink_url, if it has one.
        body = await self._graph.call("GET", platform_id, token=target.credentials["access_token"],
                                      meter=target.meter, params={"fields": "permalink_url"})
        link = str(body.get("permalink_url") or "")
        return f"https://www.facebook.com{link}" if link.startswith("/") else link

    async def find(self, post: Post, target: Target) -> list[str]:
        """A Reel by its saved video's status, a Story among the Page's stories by its saved media;
        any other post: every post on the page with its text, created in one of its attempts' windows."""
        if post.kind == "REEL":
            video = saved_video(post)
            if not video:
                return []  # the upload never started, so no finish was sent
            status = await self._uploads.status(video, target)
            # Publishing counts: Meta took the finish, and the Reel goes live without another call.
            return [video] if status.publishing_started else []
        if post.kind == "STORY":
            return await self._stories.find(post, target)
        if is_video_post(post):
            if not (post.platform_state or {}).get("video_sent_at"):
                return []  # the call never reached Meta
            raise OutcomeUnknown("a Facebook video post whose answer was lost cannot be looked up (Meta lists it only "
                                 "once processed); it is not sent again")
        message = message_of(post)
        if not message:
            raise OutcomeUnknown("a post without text cannot be recognised among the page's posts")
        found: list[str] = []
        for since, until in windows(post.claims or (post.claimed_at,), self._attempt_span):
            found += await self._matching(target, message, since, until)
        # A post can show on two pages of an answer when others arrive while it is read.
        return list(dict.fromkeys(found))

    async def _matching(self, target: Target, message: str, since: datetime, until: datetime) -> list[str]:
        page, token = target.external_id, target.credentials["access_token"]
        params: dict[str, Any] = {"fields": "id,message,created_time", "since": int(since.timestamp()),
                                  "until": int(until.timestamp()) + 1, "limit": PAGE_LIMIT}
        found: list[str] = []
        async for data in self._graph.listing(f"{page}/published_posts", token=token, meter=target.meter, params=params,
                                              max_pages=MAX_PAGES, what="the page's posts in this post's attempts' window"):
            found += [str(item["id"]) for item in data if isinstance(item, dict) and item.get("message") == message]
        return found
