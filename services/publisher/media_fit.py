"""Does a media URL's answer fit the post that will hand it to the platform? Pure rules, no I/O.

What is judged is only what the remote said in its status line and headers (status, Content-Type,
size); the media pre-flight never reads a body. A URL is fine unless it is shown to be wrong: a
size the remote does not give is not a problem.

| platform      | images                | image size | video size | source                                   |
|---------------|-----------------------|------------|------------|------------------------------------------|
| instagram     | JPEG only             | 8 MB       | 300 MB     | Meta, IG User Media reference, "Image    |
|               |                       |            |            | Specifications: Format: JPEG, File size: |
|               |                       |            |            | 8 MB maximum"; 300 MB for Reels video is |
|               |                       |            |            | from schedulers' guides (Ayrshare,       |
|               |                       |            |            | Sprinklr), not found on Meta's own pages |
| facebook_page | any image/*           | 10 MB      | 10 GB      | schedulers' guides (Ayrshare "Facebook   |
|               |                       |            |            | Pages"); not verified on Meta's pages    |
| webhook       | any image/*           | -          | -          | the receiver decides                     |

Kinds (Meta's content publishing guide; validation.kind_rules checks the URLs' names at create
time, this checks what they really are): a REEL's media is a video and its cover an image; a
STORY or FEED item is an image or a video. Limits are in MiB (the larger reading of "MB"): a
warning must never be a false alarm about a file Meta accepts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

MIB = 1024 * 1024


@dataclass(frozen=True)
class PlatformMedia:
    name: str  # as the owner knows it, for messages
    image_types: frozenset[str] | None  # None: any image/*
    image_bytes: int | None
    video_bytes: int | None


PLATFORMS: dict[str, PlatformMedia] = {
    "instagram": PlatformMedia("Instagram", frozenset({"image/jpeg", "image/jpg", "image/pjpeg"}), 8 * MIB, 300 * MIB),
    "facebook_page": PlatformMedia("Facebook", None, 10 * MIB, 10 * 1024 * MIB),
    "webhook": PlatformMedia("the webhook", None, None, None),
}

# A media type as RFC 9110 spells it (type "/" subtype, token characters): anything else the remote
# sent is not repeated to the tenant.
MEDIA_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]{1,60}/[a-z0-9!#$&^_.+-]{1,60}")


@dataclass(frozen=True)
class Probe:
    """What a media URL answered: its final status (after redirects), media type and size."""

    status: int
    content_type: str  # lower case, no parameters; "" when none was given or it was unreadable
    size: int | None  # bytes, when the remote said


def media_type(header: str | None) -> str:
    """The media type of a Content-Type header, or "" when there is none fit to repeat."""
    value = (header or "").split(";", 1)[0].strip().lower()
    return value if MEDIA_TYPE.fullmatch(value) else ""


def size_of(status: int, headers: Mapping[str, str]) -> int | None:
    """The whole file's size: a 206's Content-Range total (`bytes 0-0/12345`), else Content-Length
    of a 200 (a HEAD's, or a GET whose range was ignored)."""
    if status == 206:
        match = re.fullmatch(r"\s*bytes\s+\d+-\d+/(\d{1,20})\s*", headers.get("Content-Range") or "")
        return int(match.group(1)) if match else None
    length = (headers.get("Content-Length") or "").strip()
    return int(length) if status == 200 and length.isdigit() and len(length) <= 20 else None


def _megabytes(size: int) -> str:
    return f"{size / MIB:.1f} MB" if size < 1024 * MIB else f"{size / (1024 * MIB):.1f} GB"


def problem(probe: Probe, *, platform: str, kind: str, cover: bool = False) -> str | None:
    """Why the answer does not fit a post of `kind` on `platform` (`cover`: a Reel's cover image),
    or None when it fits."""
    if not 200 <= probe.status < 300:
        return f"HTTP {probe.status}"
    rules = PLATFORMS.get(platform, PLATFORMS["webhook"])
    found = probe.content_type or "no Content-Type"
    is_image, is_video = found.startswith("image/"), found.startswith("video/")
    if cover and not is_image:
        return f"{found} is not an image"
    if kind == "REEL" and not cover and not is_video:
        return f"{found} is not a video (a Reel is a video)"
    if not (is_image or is_video):
        return f"{found} is not an image or a video"
    if is_image and rules.image_types is not None and found not in rules.image_types:
        return f"{found}: {rules.name} takes JPEG images only"
    limit = rules.image_bytes if is_image else rules.video_bytes
    if limit is not None and probe.size is not None and probe.size > limit:
        what = "an image" if is_image else "a video"
        return f"{_megabytes(probe.size)} is over {rules.name}'s {_megabytes(limit)} for {what}"
    return None
