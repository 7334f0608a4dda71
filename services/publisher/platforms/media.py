"""What a media URL holds, as the publisher tells it: a video by its file suffix, else an image.

The scheduler's validation uses the same suffixes (services/scheduler/validation.py), so a post is
published as the kind of media it was accepted as.
"""

from __future__ import annotations

from urllib.parse import urlsplit

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v")


def is_video(url: str) -> bool:
    return urlsplit(url).path.lower().endswith(VIDEO_SUFFIXES)
