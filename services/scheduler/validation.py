"""Request validation for the scheduler: pure functions, every problem a field violation.

Rules are checked in two steps: the shape of a request (no database needed), then the rules of
the account's platform once the account is known.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence
from urllib.parse import urlsplit

from google.protobuf import duration_pb2
from google.protobuf.timestamp_pb2 import Timestamp

from postsched import recurrence, timezones
from postsched.slots import SlotError, WeeklySchedule
from postsched.store.recurring import Rule
from postsched.errors import FieldViolation, InvalidArgument
from postsched.identifiers import id_violation
from postsched.messages import PLATFORM_FROM_API
from postsched.outbound import OutboundPolicy
from postsched.store.records import NewAccount, NewPost
from postsched.media import is_image, is_video
from postsched.messages import reel_options
from postsched.v1 import resources_pb2, scheduler_pb2

MAX_SCHEDULE_AHEAD = timedelta(days=400)
# A time in the past means "as soon as possible" — up to a day back (a clock a little off, a retry
# of yesterday's request). Further back it is a mistake (a wrong year, seconds taken for
# milliseconds) that would publish at once, so it is refused, naming the field.
MAX_SCHEDULE_PAST = timedelta(hours=24)
MAX_BATCH = 1000
MAX_MEDIA = 10  # Instagram carousels hold at most 10 items; Facebook multi-photo posts use the same cap
MAX_URL_LENGTH = 2048
MAX_KEY_LENGTH = 255
MAX_NAME_LENGTH = 255
FACEBOOK_MAX_TEXT = 63_206
INSTAGRAM_MAX_CAPTION = 2_200
INSTAGRAM_MAX_HASHTAGS = 30
WEBHOOK_MAX_TEXT = FACEBOOK_MAX_TEXT
MIN_WEBHOOK_SECRET = 16
MAX_SECRET_LENGTH = 4096  # Meta's tokens are a few hundred characters

HASHTAG = re.compile(r"#\w+")
FACEBOOK_MAX_COMMENT = 8_000
MAX_REEL_OFFSET_MS = 15 * 60 * 1000  # Instagram Reels last at most 15 minutes
MAX_AUDIO_NAME = 100
KINDS = {resources_pb2.POST_KIND_UNSPECIFIED: "FEED", resources_pb2.FEED: "FEED", resources_pb2.REEL: "REEL",
         resources_pb2.STORY: "STORY"}


def _has_nul(value: str) -> bool:
    # PostgreSQL text cannot hold NUL; refuse it here rather than fail in the database.
    return "\x00" in value


def endpoint_problem(value: str, policy: OutboundPolicy) -> str | None:
    """Why `value` may not be a URL postsched itself calls for the tenant (the outbound guard), or None."""
    return url_problem(value) or policy.url_problem(value)


def url_problem(value: str) -> str | None:
    """Why value is not an absolute http(s) URL, or None if it is one."""
    if len(value) > MAX_URL_LENGTH:
        return f"must be at most {MAX_URL_LENGTH} characters"
    if any(c.isspace() for c in value) or _has_nul(value):
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(value)
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an absolute http:// or https:// URL"
    return None


def schedule_time(
    stamp: Timestamp | None, now: datetime, field: str, violations: list[FieldViolation],
) -> datetime | None:
    """A requested time (None = as soon as possible), at most 400 days ahead and 24 hours back:
    CreatePost's and ReschedulePost's scheduled_at, EnqueuePost's not_before."""
    if stamp is None:
        return None
    try:
        at = stamp.ToDatetime(tzinfo=timezone.utc)
    except (ValueError, OverflowError):
        violations.append(FieldViolation(field, "is not a valid timestamp"))
        return None
    if at > now + MAX_SCHEDULE_AHEAD:
        violations.append(FieldViolation(field, "must be at most 400 days ahead"))
    elif at < now - MAX_SCHEDULE_PAST:
        violations.append(FieldViolation(
            field, "is more than 24 hours in the past; leave it empty, or give a time at most 24 hours ago, "
                   "to publish as soon as possible"))
    return at


def set_time(message: Any, name: str) -> Timestamp | None:
    """A Timestamp field of a request, or None when it is not set."""
    return getattr(message, name) if message.HasField(name) else None


def post_shape(
    request: scheduler_pb2.CreatePostRequest, now: datetime, prefix: str = ""
) -> tuple[NewPost | None, list[FieldViolation]]:
    """Checks what can be checked without the account; returns the post to create, or violations."""
    violations: list[FieldViolation] = []
    id_problem = id_violation(request.account_id, prefix + "account_id")
    if id_problem:
        violations.append(id_problem)
    if _has_nul(request.text):
        violations.append(FieldViolation(prefix + "text", "must not contain NUL characters"))
    if not request.text.strip() and not request.media_urls:
        violations.append(FieldViolation(prefix + "text", "a post needs text or at least one media URL"))
    if len(request.media_urls) > MAX_MEDIA:
        violations.append(FieldViolation(prefix + "media_urls", f"at most {MAX_MEDIA} media URLs"))
    for i, url in enumerate(request.media_urls):
        problem = url_problem(url)
        if problem:
            violations.append(FieldViolation(f"{prefix}media_urls[{i}]", problem))
    if request.link:
        problem = url_problem(request.link)
        if problem:
            violations.append(FieldViolation(prefix + "link", problem))
    key = request.idempotency_key
    if len(key) > MAX_KEY_LENGTH or _has_nul(key):
        violations.append(
            FieldViolation(prefix + "idempotency_key", f"must be at most {MAX_KEY_LENGTH} characters, no NUL")
        )
    at = schedule_time(set_time(request, "scheduled_at"), now, prefix + "scheduled_at", violations)
    kind = KINDS.get(request.kind)
    if kind is None:
        violations.append(FieldViolation(prefix + "kind", "must be FEED, REEL or STORY"))
    reel = reel_options(request.reel) if request.HasField("reel") else {}
    violations += reel_shape(reel, kind, prefix)
    if _has_nul(request.first_comment):
        violations.append(FieldViolation(prefix + "first_comment", "must not contain NUL characters"))
    if violations:
        return None, violations
    post = NewPost(
        account_id=uuid.UUID(request.account_id),
        text=request.text,
        media_urls=list(request.media_urls),
        link=request.link,
        scheduled_at=at,
        idempotency_key=key or None,
        kind=kind or "FEED",
        reel=reel or None,
        first_comment=request.first_comment if request.first_comment.strip() else "",
    )
    return post, []


def as_created(account_id: str, content: Any) -> scheduler_pb2.CreatePostRequest:
    """The content fields of another request (UpdatePost, CreateRecurringPost: the same names) as
    the CreatePostRequest whose rules they follow."""
    return scheduler_pb2.CreatePostRequest(
        account_id=account_id, text=content.text, media_urls=content.media_urls, link=content.link, kind=content.kind,
        reel=content.reel if content.HasField("reel") else None, first_comment=content.first_comment)


def reel_shape(reel: dict[str, Any], kind: str | None, prefix: str) -> list[FieldViolation]:
    """A Reel's options, on their own (the platform's rules come later)."""
    violations: list[FieldViolation] = []
    if reel and kind != "REEL":
        violations.append(FieldViolation(prefix + "reel", "reel options go only with kind REEL"))
    if "cover_url" in reel:
        problem = url_problem(reel["cover_url"])
        if problem:
            violations.append(FieldViolation(prefix + "reel.cover_url", problem))
    if not 0 <= reel.get("thumb_offset_ms", 0) <= MAX_REEL_OFFSET_MS:
        violations.append(FieldViolation(prefix + "reel.thumb_offset_ms", f"must be 0 to {MAX_REEL_OFFSET_MS} ms"))
    audio = reel.get("audio_name", "")
    if len(audio) > MAX_AUDIO_NAME or _has_nul(audio):
        violations.append(FieldViolation(prefix + "reel.audio_name", f"at most {MAX_AUDIO_NAME} characters, no NUL"))
    strategy = reel.get("graduation_strategy")
    if strategy is not None and strategy not in ("MANUAL", "SS_PERFORMANCE"):
        violations.append(FieldViolation(prefix + "reel.graduation_strategy", "must be MANUAL or SS_PERFORMANCE"))
    elif reel.get("trial") and strategy is None:
        violations.append(FieldViolation(prefix + "reel.graduation_strategy",
                                         "a trial reel needs MANUAL or SS_PERFORMANCE"))
    elif strategy is not None and not reel.get("trial"):
        violations.append(FieldViolation(prefix + "reel.graduation_strategy", "goes only with trial"))
    return violations


def kind_rules(post: NewPost, platform: str, prefix: str = "") -> list[FieldViolation]:
    """What each kind takes on each platform (Meta's content publishing and video_reels guides)."""
    violations: list[FieldViolation] = []
    reel = post.reel or {}
    if post.kind in ("REEL", "STORY"):
        if len(post.media_urls) != 1:
            violations.append(FieldViolation(prefix + "media_urls", f"a {post.kind.title()} takes exactly one media URL"))
        if post.link:
            violations.append(FieldViolation(prefix + "link", f"a {post.kind.title()} cannot carry a link"))
    if post.kind == "REEL" and post.media_urls and is_image(post.media_urls[0]):
        violations.append(FieldViolation(prefix + "media_urls[0]", "a Reel is a video (.mp4 or .mov), not an image"))
    if post.kind == "STORY":
        if post.text.strip():
            violations.append(FieldViolation(prefix + "text", "Stories take no text"))
        if post.first_comment:
            violations.append(FieldViolation(prefix + "first_comment", "Stories take no comments"))
    if post.first_comment:
        limit = INSTAGRAM_MAX_CAPTION if platform == "instagram" else FACEBOOK_MAX_COMMENT
        if platform == "webhook":
            violations.append(FieldViolation(prefix + "first_comment", "webhook accounts take no first comment"))
        elif len(post.first_comment) > limit:
            violations.append(FieldViolation(prefix + "first_comment", f"at most {limit} characters on this platform"))
        elif platform == "instagram" and len(HASHTAG.findall(post.first_comment)) > INSTAGRAM_MAX_HASHTAGS:
            violations.append(FieldViolation(prefix + "first_comment", f"at most {INSTAGRAM_MAX_HASHTAGS} hashtags"))
    if platform == "facebook_page":
        for name in ("cover_url", "thumb_offset_ms", "audio_name", "trial"):
            if name in reel:
                violations.append(FieldViolation(f"{prefix}reel.{name}", "Facebook Reels do not take it (Instagram only)"))
        if reel.get("share_to_feed") is False:
            violations.append(FieldViolation(prefix + "reel.share_to_feed", "Facebook Reels are always in the feed"))
        if post.kind == "FEED" and len(post.media_urls) > 1 and any(is_video(u) for u in post.media_urls):
            violations.append(FieldViolation(prefix + "media_urls", "a Facebook video post takes one video, alone"))
    return violations


def platform_rules(post: NewPost, platform: str, prefix: str = "") -> list[FieldViolation]:
    """The rules of the account's platform."""
    violations = kind_rules(post, platform, prefix)
    if platform == "instagram":
        if not post.media_urls:
            violations.append(FieldViolation(prefix + "media_urls", "Instagram posts need at least one image or video URL"))
        if len(post.text) > INSTAGRAM_MAX_CAPTION:
            violations.append(FieldViolation(prefix + "text", f"Instagram captions are at most {INSTAGRAM_MAX_CAPTION} characters"))
        if len(HASHTAG.findall(post.text)) > INSTAGRAM_MAX_HASHTAGS:
            violations.append(FieldViolation(prefix + "text", f"Instagram captions hold at most {INSTAGRAM_MAX_HASHTAGS} hashtags"))
        if post.link:
            # Instagram has no link field; refusing beats silently dropping it.
            violations.append(FieldViolation(prefix + "link", "Instagram posts cannot carry a link; put it in the text"))
    elif platform == "facebook_page":
        if len(post.text) > FACEBOOK_MAX_TEXT:
            violations.append(FieldViolation(prefix + "text", f"Facebook posts are at most {FACEBOOK_MAX_TEXT} characters"))
    elif len(post.text) > WEBHOOK_MAX_TEXT:
        violations.append(FieldViolation(prefix + "text", f"at most {WEBHOOK_MAX_TEXT} characters"))
    return violations


def batch_size(requests: int) -> None:
    if requests == 0:
        raise InvalidArgument([FieldViolation("requests", "at least one post is required")])
    if requests > MAX_BATCH:
        raise InvalidArgument([FieldViolation("requests", f"at most {MAX_BATCH} posts per batch, got {requests}")])


def credentials_for(
    platform: str,
    request: scheduler_pb2.CreateAccountRequest | scheduler_pb2.UpdateAccountCredentialsRequest,
    violations: list[FieldViolation],
    policy: OutboundPolicy,
) -> dict[str, str]:
    """The credentials a platform needs, from a request; problems go to `violations`."""
    if platform in ("facebook_page", "instagram"):
        if not request.access_token.strip():
            violations.append(FieldViolation("access_token", "is required for Facebook and Instagram accounts"))
        elif len(request.access_token) > MAX_SECRET_LENGTH:
            violations.append(FieldViolation("access_token", f"must be at most {MAX_SECRET_LENGTH} characters"))
        if request.webhook_url or request.webhook_secret:
            violations.append(FieldViolation("webhook_url", "only WEBHOOK accounts take webhook_url and webhook_secret"))
        return {"access_token": request.access_token.strip()}
    if not request.webhook_url:
        violations.append(FieldViolation("webhook_url", "is required for WEBHOOK accounts"))
    else:
        problem = endpoint_problem(request.webhook_url, policy)
        if problem:
            violations.append(FieldViolation("webhook_url", problem))
    if not MIN_WEBHOOK_SECRET <= len(request.webhook_secret) <= MAX_SECRET_LENGTH:
        violations.append(FieldViolation(
            "webhook_secret", f"must be {MIN_WEBHOOK_SECRET} to {MAX_SECRET_LENGTH} characters"
        ))
    if request.access_token:
        violations.append(FieldViolation("access_token", "WEBHOOK accounts take webhook_secret, not access_token"))
    return {"webhook_url": request.webhook_url, "webhook_secret": request.webhook_secret}


def new_account(request: scheduler_pb2.CreateAccountRequest, policy: OutboundPolicy) -> NewAccount:
    """The account to create, with its credentials, or INVALID_ARGUMENT."""
    violations: list[FieldViolation] = []
    platform = PLATFORM_FROM_API.get(request.platform)
    if platform is None:
        violations.append(FieldViolation("platform", "must be FACEBOOK_PAGE, INSTAGRAM or WEBHOOK"))
    external_id = request.external_id.strip()
    if not external_id:
        violations.append(FieldViolation("external_id", "is required"))
    elif len(external_id) > MAX_NAME_LENGTH or _has_nul(external_id):
        violations.append(FieldViolation("external_id", f"must be at most {MAX_NAME_LENGTH} characters"))
    elif platform in ("facebook_page", "instagram") and not external_id.isdigit():
        violations.append(FieldViolation("external_id", "Meta page and Instagram user ids are numeric"))
    if len(request.display_name) > MAX_NAME_LENGTH or _has_nul(request.display_name):
        violations.append(FieldViolation("display_name", f"must be at most {MAX_NAME_LENGTH} characters"))
    credentials = credentials_for(platform, request, violations, policy) if platform else {}
    time_zone = zone_name(request.time_zone or "UTC", "time_zone", violations)
    interval = post_interval(request.min_post_interval, "min_post_interval", violations) \
        if request.HasField("min_post_interval") else timedelta(0)
    if violations:
        raise InvalidArgument(violations)
    assert platform is not None
    return NewAccount(
        platform=platform,
        external_id=external_id,
        display_name=request.display_name.strip(),
        credentials=credentials,
        time_zone=time_zone,
        min_post_interval=interval,
    )


MAX_POST_INTERVAL = timedelta(days=7)


def zone_name(name: str, field: str, violations: list[FieldViolation]) -> str:
    """An IANA time zone name known to the tzdata package shipped with postsched (never the host's)."""
    try:
        timezones.zone(name)
    except timezones.UnknownTimeZone as exc:
        violations.append(FieldViolation(field, str(exc)))
    return name


def post_interval(value: duration_pb2.Duration, field: str, violations: list[FieldViolation]) -> timedelta:
    """An account's min_post_interval: 0 to MAX_POST_INTERVAL."""
    if value.seconds < 0 or not 0 <= value.nanos <= 999_999_999:
        violations.append(FieldViolation(field, "a Duration of 0 or more (nanos 0 to 999,999,999)"))
        return timedelta(0)
    interval = timedelta(seconds=value.seconds, microseconds=value.nanos // 1000)
    if interval > MAX_POST_INTERVAL:
        violations.append(FieldViolation(field, f"at most {MAX_POST_INTERVAL.days} days"))
    return interval


def account_changes(request: scheduler_pb2.UpdateAccountRequest) -> dict[str, object]:
    """UpdateAccount's changes, by column: only the fields the request sets."""
    violations: list[FieldViolation] = []
    changes: dict[str, object] = {}
    if request.HasField("display_name"):
        if len(request.display_name) > MAX_NAME_LENGTH or _has_nul(request.display_name):
            violations.append(FieldViolation("display_name", f"must be at most {MAX_NAME_LENGTH} characters"))
        changes["display_name"] = request.display_name.strip()
    if request.HasField("time_zone"):
        changes["time_zone"] = zone_name(request.time_zone, "time_zone", violations)
    if request.HasField("min_post_interval"):
        changes["min_post_interval"] = post_interval(request.min_post_interval, "min_post_interval", violations)
    if violations:
        raise InvalidArgument(violations)
    return changes


CIVIL_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M")


def civil_time(text: str, field: str, violations: list[FieldViolation]) -> datetime | None:
    """A civil local time, "YYYY-MM-DDTHH:MM[:SS]", without an offset (the time zone is its own field)."""
    for layout in CIVIL_FORMATS:
        try:
            return datetime.strptime(text, layout)
        except ValueError:
            continue
    violations.append(FieldViolation(field, 'a local time "YYYY-MM-DDTHH:MM:SS" without an offset (time_zone says where)'))
    return None


# A rule's start: at most a year back (its occurrences are counted from there: a COUNT rule begun in
# 1904 costs a third of a second of CPU at each evaluation) and as far ahead as a post may be.
MAX_START_PAST = timedelta(days=366)


def recurring_rule(start_time: str, time_zone: str, lines: Sequence[str], violations: list[FieldViolation],
                   now: datetime) -> Rule | None:
    """A recurring post's rule: its civil start, time zone and RFC 5545 lines (postsched.recurrence)."""
    start = civil_time(start_time, "start_time", violations)
    zone_name(time_zone, "time_zone", violations)
    if start is None or violations:
        return None
    local_now = now.astimezone(timezones.zone(time_zone)).replace(tzinfo=None)
    if not local_now - MAX_START_PAST <= start <= local_now + MAX_SCHEDULE_AHEAD:
        violations.append(FieldViolation("start_time", f"at most {MAX_START_PAST.days} days back and "
                                                       f"{MAX_SCHEDULE_AHEAD.days} days ahead"))
        return None
    try:
        recurrence.cached(tuple(lines), start, time_zone)
    except recurrence.RecurrenceError as exc:
        field = "recurrence" if exc.line is None else f"recurrence[{exc.line}]"
        violations.append(FieldViolation(field, exc.message))
        return None
    return Rule(start, time_zone, list(lines))


def recurring_content(content: scheduler_pb2.CreatePostRequest, violations: list[FieldViolation]) -> NewPost | None:
    """A recurring post's content, by CreatePost's rules (the platform's are checked once the account is known)."""
    post, problems = post_shape(content, datetime.now(timezone.utc))
    violations.extend(problems)
    return post


MAX_UPCOMING = 500


def schedule_slots(request: scheduler_pb2.SetPostingScheduleRequest, time_zone: str) -> WeeklySchedule | None:
    """A posting schedule's slots (None: no slots, the schedule is removed), or INVALID_ARGUMENT."""
    violations: list[FieldViolation] = []
    zone_name(time_zone, "time_zone", violations)
    if violations:
        raise InvalidArgument(violations)
    if not request.slots:
        return None
    try:
        return WeeklySchedule.parse(timezones.zone(time_zone), [(s.day_of_week, s.time) for s in request.slots])
    except SlotError as exc:
        raise InvalidArgument([FieldViolation(f"slots[{exc.index}]" if exc.index is not None else "slots", exc.message)]) from None
