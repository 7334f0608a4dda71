"""Facebook Page Stories: a photo (uploaded unpublished, then `/photo_stories`) or a video (the
upload flow of facebook_video.py through `/video_stories`).

The publishing call (`photo_stories`, or the video's finish) is the one that cannot be repeated
blindly. The media id (photo or video) is saved before it, and a Story is found again by that id
among the Page's stories (`GET /{page-id}/stories`, which lists each Story's media_id): a Story has
no text to recognise it by.
"""

from __future__ import annotations

from typing import Any

from services.publisher.platforms.facebook_video import STORIES, VideoUploads, saved_video
from services.publisher.platforms.graph_api import GraphClient
from postsched.media import is_video
from services.publisher.platforms.outcomes import PlatformError, Post, Progress, Target

PAGE_LIMIT = 100
MAX_PAGES = 20  # a Page's stories of the last day: far fewer than 2,000


def saved_photo(post: Post) -> str | None:
    photo = (post.platform_state or {}).get("photo_id")
    return str(photo) if photo else None


class PageStories:
    def __init__(self, graph: GraphClient, uploads: VideoUploads) -> None:
        self._graph = graph
        self._uploads = uploads

    async def publish(self, post: Post, target: Target, progress: Progress) -> str:
        """Publishes the post's one photo or video as a Story; returns the Story's post id (the
        media id when Meta's answer did not give it and the Page's stories do not list it yet)."""
        page, token = target.external_id, target.credentials["access_token"]
        if is_video(post.media_urls[0]):
            video_id, post_id = await self._uploads.publish(STORIES, post, target, progress, finish={},
                                                            wait_published=False)
            return post_id or await self._story_of(video_id, target) or video_id
        photo_id = saved_photo(post)
        if photo_id is None:
            # An unpublished photo shows nowhere: safe to make again if this attempt dies before saving it.
            body = await self._graph.call("POST", f"{page}/photos", token=token, meter=target.meter,
                                          params={"url": post.media_urls[0], "published": "false"})
            photo_id = str(body["id"])
            await progress.save({"photo_id": photo_id})
        progress.check()
        try:
            answer = await self._graph.call("POST", f"{page}/photo_stories", token=token, meter=target.meter,
                                            params={"photo_id": photo_id})
        except PlatformError as exc:
            # Whatever the error said, the Story may be up: the Page's stories tell.
            try:
                found = await self._story_of(photo_id, target)
            except PlatformError:
                raise exc from None
            if found:
                return found
            raise
        return str(answer.get("post_id") or await self._story_of(photo_id, target) or photo_id)

    async def find(self, post: Post, target: Target) -> list[str]:
        media = saved_photo(post) or saved_video(post)
        if not media:
            return []  # nothing was saved before a publishing call: none was made
        found = await self._story_of(media, target)
        return [found] if found else []

    async def _story_of(self, media_id: str, target: Target) -> str:
        """The post id of the Page's Story showing `media_id`, "" if there is none."""
        page, token = target.external_id, target.credentials["access_token"]
        params: dict[str, Any] = {"fields": "post_id,media_id,status,creation_time", "limit": PAGE_LIMIT}
        async for data in self._graph.listing(f"{page}/stories", token=token, meter=target.meter, params=params,
                                              max_pages=MAX_PAGES, what="the Page's stories"):
            for item in data:
                if isinstance(item, dict) and str(item.get("media_id", "")) == media_id:
                    return str(item.get("post_id") or media_id)  # found, even without a post id
        return ""
