"""Pure parts of the post kinds: Instagram's Reel and Story container parameters, Facebook's video status."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

from services.publisher.platforms.facebook_video import VideoStatus, parse_status
from services.publisher.platforms.instagram import kind_container
from postsched.media import is_video
from services.publisher.platforms.outcomes import Post

NOW = datetime(2027, 1, 5, 12, 0, tzinfo=timezone.utc)


def post(kind: str, url: str, text: str = "", reel: dict | None = None) -> Post:
    return Post(id=uuid.uuid4(), text=text, media_urls=[url], link="", scheduled_at=NOW, claimed_at=NOW,
                kind=kind, reel=reel or {})


def test_a_reel_container_carries_every_reel_option_given() -> None:
    params = kind_container(post("REEL", "https://cdn.example.com/r.mp4", "caption", {
        "cover_url": "https://cdn.example.com/c.jpg", "thumb_offset_ms": 1500, "share_to_feed": False,
        "audio_name": "Our song", "trial": True, "graduation_strategy": "SS_PERFORMANCE"}))
    assert params == {"media_type": "REELS", "video_url": "https://cdn.example.com/r.mp4", "caption": "caption",
                      "cover_url": "https://cdn.example.com/c.jpg", "thumb_offset": 1500, "audio_name": "Our song",
                      "share_to_feed": "false", "trial_params": json.dumps({"graduation_strategy": "SS_PERFORMANCE"})}


def test_a_reel_without_options_sends_none_of_them() -> None:
    assert kind_container(post("REEL", "https://cdn.example.com/r.mov")) == {
        "media_type": "REELS", "video_url": "https://cdn.example.com/r.mov"}


def test_a_story_is_an_image_or_a_video_by_its_suffix_without_caption() -> None:
    assert kind_container(post("STORY", "https://cdn.example.com/s.jpg?w=1")) == {
        "media_type": "STORIES", "image_url": "https://cdn.example.com/s.jpg?w=1"}
    assert kind_container(post("STORY", "https://cdn.example.com/s.MP4?sig=a.jpg")) == {
        "media_type": "STORIES", "video_url": "https://cdn.example.com/s.MP4?sig=a.jpg"}


def test_is_video_reads_the_path_only() -> None:
    assert is_video("https://cdn.example.com/a.mov#x.jpg")
    assert not is_video("https://cdn.example.com/a.jpg?name=b.mp4")


def status(video: str, uploading: str, processing: str, publishing: str) -> dict:
    return {"status": {"video_status": video, "uploading_phase": {"status": uploading},
                       "processing_phase": {"status": processing}, "publishing_phase": {"status": publishing}}}


def test_video_status_phases() -> None:
    started = parse_status(status("processing", "not_started", "not_started", "not_started"))
    assert not (started.uploaded or started.publishing_started or started.failed)
    finishing = parse_status(status("processing", "complete", "in_progress", "in_progress"))
    assert finishing.uploaded and finishing.publishing_started and not finishing.published
    done = parse_status(status("ready", "complete", "complete", "complete"))
    assert done.published and not done.failed


def test_a_failed_video_says_why() -> None:
    body = status("error", "complete", "error", "not_started")
    body["status"]["processing_phase"]["errors"] = [{"code": 1363008, "message": "bad codec"}]
    failed = parse_status(body)
    assert failed.failed and failed.error == "bad codec" and not failed.publishing_started
    assert parse_status({"status": {"video_status": "expired"}}).failed


def test_an_unreadable_status_is_unknown_not_published() -> None:
    assert parse_status({"id": "1"}) == VideoStatus()
    assert parse_status({"status": {"publishing_phase": "complete"}}).published is False
