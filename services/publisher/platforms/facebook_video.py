"""Facebook's video upload flow, shared by Page Reels (`/video_reels`) and video Stories (`/video_stories`).

start (`upload_phase=start` → a video id) → transfer (Meta's upload host fetches our hosted file:
`file_url` header) → finish (`upload_phase=finish` with the video id: the publication). Only the
finish cannot be repeated blindly, and one video id is one publication at most: the id is saved
before the finish, and an attempt that finds a saved id reads the video's status first —
published: done; publishing: wait for it; an error: give up; otherwise go on from where the
earlier attempt stopped (the transfer is harmless to repeat). After any error answer to the finish,
the status is read before anything else (Meta's ghost successes).

The upload URL is built from POSTSCHED_META_UPLOAD_URL and the video id, never taken from Meta's
answer: an answer must not be able to send our token to another host.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone
from dataclasses import dataclass
from typing import Any, Callable

from services.publisher.platforms.graph_api import GraphClient
from services.publisher.platforms.outcomes import (
    OutcomeUnknown, Permanent, PlatformError, Post, Progress, Target, Transient,
)
from services.publisher.quotas import FACEBOOK_REELS, PublishingQuotas

REELS = "video_reels"
STORIES = "video_stories"


@dataclass(frozen=True)
class VideoStatus:
    """`GET /{video-id}?fields=status`: the video's overall status and its three phases."""

    video_status: str = ""  # processing, upload_complete, ready, error, expired
    uploading: str = ""  # not_started, in_progress, complete, error
    processing: str = ""
    publishing: str = ""  # not_started, in_progress, complete
    error: str = ""  # what Meta said about a failed phase

    @property
    def failed(self) -> bool:
        return self.video_status in ("error", "expired") or "error" in (self.uploading, self.processing, self.publishing)

    @property
    def uploaded(self) -> bool:
        return self.uploading == "complete"

    @property
    def publishing_started(self) -> bool:
        """The finish went through: another finish must not be sent."""
        return self.publishing in ("in_progress", "complete")

    @property
    def published(self) -> bool:
        return self.publishing == "complete"


def parse_status(body: dict[str, Any]) -> VideoStatus:
    """A video node's `status` field as Meta answers it; missing parts read as unknown ("")."""
    status = body.get("status")
    if not isinstance(status, dict):
        return VideoStatus()

    def phase(name: str) -> tuple[str, str]:
        value = status.get(name)
        if not isinstance(value, dict):
            return "", ""
        errors = value.get("errors")
        said = "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e)
                         for e in errors) if isinstance(errors, list) else ""
        return str(value.get("status", "")), said

    (uploading, e1), (processing, e2), (publishing, e3) = phase("uploading_phase"), phase("processing_phase"), phase("publishing_phase")
    return VideoStatus(video_status=str(status.get("video_status", "")), uploading=uploading, processing=processing,
                       publishing=publishing, error="; ".join(e for e in (e1, e2, e3) if e))


def saved_video(post: Post) -> str | None:
    """The video an earlier attempt of this post started and saved, if any."""
    video = (post.platform_state or {}).get("video_id")
    return str(video) if video else None


class VideoUploads:
    """The start / transfer / finish flow on one Page, with the status reads that make it safe."""

    def __init__(self, graph: GraphClient, upload: GraphClient, *, poll_interval: float, poll_timeout: float,
                 quotas: PublishingQuotas) -> None:
        self._graph = graph
        self._quotas = quotas  # a Reel's finish takes a place in the Page's daily Reels limit first
        self._upload = upload  # based at {POSTSCHED_META_UPLOAD_URL}/video-upload/{version}
        self._poll_interval = poll_interval
        self._poll_timeout = poll_timeout

    async def status(self, video_id: str, target: Target) -> VideoStatus:
        body = await self._graph.call("GET", video_id, token=target.credentials["access_token"], meter=target.meter,
                                      params={"fields": "status"})
        return parse_status(body)

    async def publish(self, edge: str, post: Post, target: Target, progress: Progress, *,
                      finish: dict[str, Any], wait_published: bool) -> tuple[str, str]:
        """Publishes the post's one video through `edge`; returns (video id, post id or "").

        `finish`: the finish call's own parameters (description, video_state). `wait_published`:
        poll the status after the finish until Meta has published it (Reels: the finish only
        starts the publication); Stories are published when the finish answers."""
        page, token = target.external_id, target.credentials["access_token"]
        video_id = saved_video(post)
        status: VideoStatus | None = None
        if video_id:
            status = await self.status(video_id, target)
            if status.publishing_started:
                return await self._settled(video_id, target, wait_published, "")
            if status.failed:
                raise Permanent(f"Facebook video {video_id} failed: {status.error or status.video_status}")
            if (post.platform_state or {}).get("finish_sent_at"):
                # A finish went out before (its answer lost): never a second one. Meta may show it
                # publishing a little later; if it never does, a person looks.
                try:
                    await self._wait(video_id, target, lambda s: s.publishing_started, "publishing")
                except Transient as exc:
                    raise OutcomeUnknown(f"the finish of video {video_id} was sent, but Meta does not show it "
                                         f"publishing ({exc.message})") from None
                return await self._settled(video_id, target, wait_published, "")
        else:
            body = await self._graph.call("POST", f"{page}/{edge}", token=token, meter=target.meter,
                                          params={"upload_phase": "start"})
            video_id = str(body["video_id"])
            await progress.save({"video_id": video_id, "video_edge": edge})
        if status is None or not status.uploaded:
            await self._upload.call("POST", video_id, token=token, meter=target.meter, auth_scheme="OAuth",
                                    headers={"file_url": post.media_urls[0]})
        await self._wait(video_id, target, lambda s: s.uploaded, "uploaded")
        quota = FACEBOOK_REELS if edge == REELS else None
        if quota:  # RateLimited when the Page's Reels of the day are used up: no finish against it
            await self._quotas.reserve(target, quota)
        sent = False
        try:
            # From here the video may be publishing: a later attempt never sends another finish, and
            # a Reel counts towards its Page's daily Reels (postsched/store/quotas.py).
            await progress.save({"finish_sent_at": datetime.now(timezone.utc).isoformat()})
            progress.check()  # the finish is the publication: only while this attempt holds the post
            try:
                answer = await self._graph.call("POST", f"{page}/{edge}", token=token, meter=target.meter,
                                                params={"upload_phase": "finish", "video_id": video_id, **finish})
            except PlatformError as exc:
                # Whatever the error said, the finish may have gone through: the video tells.
                try:
                    after = await self.status(video_id, target)
                except PlatformError:
                    raise exc from None
                if not after.publishing_started:
                    raise
                answer = {}
            sent = True
        finally:
            if quota:  # the place is used now, or free again; the count takes over from the marker
                await self._quotas.settle(target, quota, published=sent)
        if answer.get("success") is False:
            raise Transient(f"Facebook did not finish video {video_id} (success: false)", maybe_published=True)
        return await self._settled(video_id, target, wait_published, str(answer.get("post_id") or ""))

    async def _settled(self, video_id: str, target: Target, wait_published: bool, post_id: str) -> tuple[str, str]:
        if wait_published:
            await self._wait(video_id, target, lambda s: s.published, "published")
        return video_id, post_id

    async def _wait(self, video_id: str, target: Target, done: Callable[[VideoStatus], bool], what: str) -> None:
        """Polls the video's status until `done(status)`; an error ends it (Permanent), and so does
        the poll timeout (Transient: a later attempt reads the status first and goes on from there)."""
        deadline = time.monotonic() + self._poll_timeout
        while True:
            status = await self.status(video_id, target)
            if status.failed:  # first: an uploaded video can still have failed processing
                raise Permanent(f"Facebook video {video_id} failed: {status.error or status.video_status}")
            if done(status):
                return
            if time.monotonic() > deadline:
                raise Transient(f"Facebook video {video_id} not {what} after {self._poll_timeout:.0f}s "
                                f"({status.video_status or 'unknown'})")
            await asyncio.sleep(self._poll_interval)
