"""The media pre-flight's fit rules (services/publisher/media_fit.py): status, type, kind, size."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from services.publisher.media_fit import MIB, Probe, media_type, problem, size_of

JPEG, PNG, MP4, HTML = "image/jpeg", "image/png", "video/mp4", "text/html"


@pytest.mark.parametrize(("probe", "platform", "kind", "cover", "expected"), [
    (Probe(200, JPEG, 1000), "instagram", "FEED", False, None),
    (Probe(206, MP4, 50 * MIB), "instagram", "REEL", False, None),
    (Probe(200, PNG, 1000), "facebook_page", "FEED", False, None),
    (Probe(200, PNG, 1000), "webhook", "STORY", False, None),
    (Probe(200, MP4, None), "facebook_page", "STORY", False, None),  # no size given: not a problem
    (Probe(404, JPEG, None), "webhook", "FEED", False, "HTTP 404"),
    (Probe(302, "", None), "webhook", "FEED", False, "HTTP 302"),
    (Probe(200, HTML, 10), "webhook", "FEED", False, "text/html is not an image or a video"),
    (Probe(200, "", 10), "facebook_page", "FEED", False, "no Content-Type is not an image or a video"),
    (Probe(200, JPEG, 10), "facebook_page", "REEL", False, "image/jpeg is not a video (a Reel is a video)"),
    (Probe(200, HTML, 10), "instagram", "REEL", True, "text/html is not an image"),
    (Probe(200, MP4, 10), "instagram", "REEL", True, "video/mp4 is not an image"),
    (Probe(200, PNG, 10), "instagram", "FEED", False, "image/png: Instagram takes JPEG images only"),
    (Probe(200, PNG, 10), "instagram", "REEL", True, "image/png: Instagram takes JPEG images only"),
    (Probe(200, JPEG, 8 * MIB + 1), "instagram", "FEED", False, "8.0 MB is over Instagram's 8.0 MB for an image"),
    (Probe(200, JPEG, 8 * MIB), "instagram", "FEED", False, None),
    (Probe(200, MP4, 301 * MIB), "instagram", "REEL", False, "301.0 MB is over Instagram's 300.0 MB for a video"),
    (Probe(200, PNG, 11 * MIB), "facebook_page", "FEED", False, "11.0 MB is over Facebook's 10.0 MB for an image"),
    (Probe(200, MP4, 11 * 1024 * MIB), "facebook_page", "FEED", False,
     "11.0 GB is over Facebook's 10.0 GB for a video"),
    (Probe(200, JPEG, 10**12), "webhook", "FEED", False, None),  # a webhook's receiver has no Meta limits
])
def test_fit_rules(probe: Probe, platform: str, kind: str, cover: bool, expected: str | None) -> None:
    assert problem(probe, platform=platform, kind=kind, cover=cover) == expected


@pytest.mark.parametrize(("header", "expected"), [
    ("image/JPEG; charset=binary", "image/jpeg"),
    ("video/mp4", "video/mp4"),
    (None, ""),
    ("", ""),
    ("text/html\u202e<script>", ""),  # not a media type: nothing of it is repeated
    ("image/" + "x" * 500, ""),
    ("nonsense", ""),
])
def test_only_a_well_formed_media_type_is_repeated(header: str | None, expected: str) -> None:
    assert media_type(header) == expected


@pytest.mark.parametrize(("status", "headers", "expected"), [
    (200, {"Content-Length": "12345"}, 12345),
    (206, {"Content-Range": "bytes 0-0/987654321", "Content-Length": "1"}, 987654321),
    (206, {"Content-Range": "bytes 0-0/*", "Content-Length": "1"}, None),  # total unknown
    (206, {"Content-Length": "1"}, None),  # a partial answer's length is not the file's
    (200, {}, None),
    (200, {"Content-Length": "-5"}, None),
    (200, {"Content-Length": "9" * 40}, None),
    (404, {"Content-Length": "100"}, None),
])
def test_size_comes_from_content_range_or_a_whole_answers_length(
    status: int, headers: dict[str, str], expected: int | None,
) -> None:
    assert size_of(status, CIMultiDict(headers)) == expected
