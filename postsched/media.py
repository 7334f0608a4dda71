"""What a media URL holds, told by its file suffix: a video, an image, or (neither) unknown.

One home for the scheduler's validation (a Reel must not be an image) and the publisher (a video
goes as video_url / file_url), so a post is published as the kind of media it was accepted as.
"""

from __future__ import annotations

from urllib.parse import urlsplit

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".heic", ".bmp")


def _suffix_is(url: str, suffixes: tuple[str, ...]) -> bool:
    return urlsplit(url).path.lower().endswith(suffixes)


def is_video(url: str) -> bool:
    return _suffix_is(url, VIDEO_SUFFIXES)


def is_image(url: str) -> bool:
    return _suffix_is(url, IMAGE_SUFFIXES)
