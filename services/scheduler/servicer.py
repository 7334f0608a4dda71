"""SchedulerService handlers: validate, call the store, convert. Errors are mapped by the interceptor."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, timezone
from typing import AsyncIterator, Callable, Sequence

import structlog

from postsched.auth import current_tenant
from postsched.grpc_server import Context
from postsched.clock import Clock
from postsched.errors import FieldViolation, InvalidArgument, NotFound, QuotaExceeded
from postsched.limits import StreamCount, TenantLimits
from postsched.identifiers import parse_id
from postsched import recurrence, timezones
from postsched.messages import (
    PLATFORM_FROM_API, RECURRING_STATUS_FROM_API, account_message, event_message, post_message, recurring_message,
    reel_message, schedule_message, timestamp,
)
from postsched.slots import WeeklySchedule
from postsched.store.recurring import NewRecurring, RecurringRecord, RecurringStore
from postsched.store.schedules import ScheduleRecord, ScheduleStore
from postsched.outbound import OutboundPolicy
from postsched.paging import PageTokens, binding, page_size
from postsched.credentials import CredentialBox
from postsched.store.accounts import AccountStore
from postsched.store.event_webhooks import EventWebhookStore, WebhookRecord
from postsched.store.events import EVENT_TYPES, EventStore
from postsched.store.posts import PostStore, new_record
from postsched.store.records import AccountRecord, NewPost, PageCursor, PostRecord
from postsched.tracecontext import current_traceparent, new_traceparent, trace_id_of
from postsched.v1 import resources_pb2, scheduler_pb2, scheduler_pb2_grpc
from services.scheduler import validation
from services.scheduler.event_feed import EventFeed

log = structlog.get_logger("postsched.scheduler")
LIVE_COUNT_TTL = 1.0  # seconds a tenant's live-post count is reused for the live_posts quota


class SchedulerServicer(scheduler_pb2_grpc.SchedulerServiceServicer):
    def __init__(
        self, accounts: AccountStore, posts: PostStore, events: EventStore, webhooks: EventWebhookStore,
        box: CredentialBox, clock: Clock, tokens: PageTokens, outbound: OutboundPolicy, limits: TenantLimits,
        feed: EventFeed, recurring: RecurringStore, schedules: ScheduleStore,
    ) -> None:
        self._recurring = recurring
        self._schedules = schedules
        self._outbound = outbound
        self._limits = limits
        self._feed = feed
        self._streams = StreamCount(limits)
        self._live: dict[str, tuple[int, float]] = {}  # tenant -> (live posts, monotonic time read)
        self._accounts = accounts
        self._posts = posts
        self._events = events
        self._webhooks = webhooks
        self._box = box
        self._clock = clock
        self._tokens = tokens

    async def CreateAccount(self, request: scheduler_pb2.CreateAccountRequest, context: Context) -> resources_pb2.Account:
        new = validation.new_account(request, self._outbound)
        tenant = current_tenant()
        limit = self._limits.of(tenant).accounts
        if await self._accounts.live_count(tenant) >= limit:
            raise QuotaExceeded("accounts", tenant, f"{limit} accounts exist already; delete one first", value=limit)
        return account_message(await self._accounts.create(tenant, new))

    async def GetAccount(self, request: scheduler_pb2.GetAccountRequest, context: Context) -> resources_pb2.Account:
        account_id = parse_id(request.account_id, "account_id")
        return account_message(await self._accounts.get(current_tenant(), account_id, with_quotas=True))

    async def UpdateAccount(self, request: scheduler_pb2.UpdateAccountRequest, context: Context) -> resources_pb2.Account:
        account_id = parse_id(request.account_id, "account_id")
        changes = validation.account_changes(request)
        tenant = current_tenant()
        if not changes:
            return account_message(await self._accounts.get(tenant, account_id, with_quotas=True))
        return account_message(await self._accounts.update(tenant, account_id, changes))

    async def UpdateAccountCredentials(
        self, request: scheduler_pb2.UpdateAccountCredentialsRequest, context: Context
    ) -> resources_pb2.Account:
        account_id = parse_id(request.account_id, "account_id")
        tenant = current_tenant()
        account = await self._accounts.get(tenant, account_id)
        violations: list[FieldViolation] = []
        credentials = validation.credentials_for(account.platform, request, violations, self._outbound)
        if violations:
            raise InvalidArgument(violations)
        return account_message(await self._accounts.replace_credentials(tenant, account_id, credentials))

    async def ListAccounts(
        self, request: scheduler_pb2.ListAccountsRequest, context: Context
    ) -> scheduler_pb2.ListAccountsResponse:
        limit = page_size(request.page_size)
        platform = None
        if request.platform:
            platform = PLATFORM_FROM_API.get(request.platform)
            if platform is None:
                raise InvalidArgument([FieldViolation("platform", "unknown platform")])
        tenant = current_tenant()
        bound_to = binding(tenant, "ListAccounts", platform)
        after = self._tokens.cursor(request.page_token, bound_to)
        records: Sequence[AccountRecord] = await self._accounts.list(tenant, platform=platform, limit=limit + 1, after=after)
        records, token = self._tokens.cut_page(records, limit, lambda r: PageCursor(at=r.created_at, id=r.id), bound_to)
        return scheduler_pb2.ListAccountsResponse(accounts=[account_message(r) for r in records], next_page_token=token)

    async def CreatePost(self, request: scheduler_pb2.CreatePostRequest, context: Context) -> resources_pb2.Post:
        (record,) = await self._create([request], prefix=lambda i: "")
        return post_message(record)

    async def BatchCreatePosts(
        self, request: scheduler_pb2.BatchCreatePostsRequest, context: Context
    ) -> scheduler_pb2.BatchCreatePostsResponse:
        validation.batch_size(len(request.requests))
        records = await self._create(request.requests, prefix=lambda i: f"requests[{i}].")
        return scheduler_pb2.BatchCreatePostsResponse(posts=[post_message(r) for r in records])

    async def _create(
        self, requests: Sequence[scheduler_pb2.CreatePostRequest], prefix: Callable[[int], str]
    ) -> list[PostRecord]:
        tenant = current_tenant()
        now = self._clock.now()
        violations: list[FieldViolation] = []
        new_posts: list[NewPost] = []
        for i, request in enumerate(requests):
            post, problems = validation.post_shape(request, now, prefix(i))
            violations.extend(problems)
            if post is not None:
                new_posts.append(post)
        if violations:
            raise InvalidArgument(violations)
        platforms = await self._accounts.platforms(tenant, (p.account_id for p in new_posts))
        for i, post in enumerate(new_posts):
            if post.account_id not in platforms:
                raise NotFound(f"{prefix(i)}account_id: account {post.account_id} not found")
            violations.extend(validation.platform_rules(post, platforms[post.account_id], prefix(i)))
        if violations:
            raise InvalidArgument(violations)
        limit = self._limits.of(tenant).live_posts
        live = await self._live_posts(tenant)
        if live + len(new_posts) > limit:
            raise QuotaExceeded("live_posts", tenant, f"{live} posts are scheduled or in flight; {len(new_posts)} more "
                                f"would pass the {limit} allowed", value=limit)
        # The call's trace, or one of its own where nothing traces: every post has a trace id to follow.
        traceparent = current_traceparent() or new_traceparent()
        created = await self._posts.create(tenant, new_posts, trace_context=traceparent)
        log.info("posts created", tenant_id=tenant, count=len(created), trace_id=trace_id_of(traceparent),
                 post_ids=[str(p.id) for p in created], account_ids=sorted({str(p.account_id) for p in created}))
        self._count_created(tenant, len(new_posts))
        return created

    def _count_created(self, tenant: str, n: int) -> None:
        count, read_at = self._live.get(tenant, (0, 0.0))  # as it is now: other calls may have added
        self._live[tenant] = (count + n, read_at)

    async def _live_posts(self, tenant: str) -> int:
        """The tenant's live posts, read at most once a LIVE_COUNT_TTL (the count sums the tenant's
        per-account counters: thousands of rows for a big tenant), plus what this process created since."""
        count, read_at = self._live.get(tenant, (0, -LIVE_COUNT_TTL))
        if time.monotonic() - read_at >= LIVE_COUNT_TTL:
            count = await self._posts.live_count(tenant)
            self._live[tenant] = (count, time.monotonic())
        return count

    async def GetPost(self, request: scheduler_pb2.GetPostRequest, context: Context) -> resources_pb2.Post:
        if request.post_id and request.idempotency_key:
            raise InvalidArgument([FieldViolation("idempotency_key", "give post_id or idempotency_key, not both")])
        if request.idempotency_key:
            if len(request.idempotency_key) > validation.MAX_KEY_LENGTH:
                raise InvalidArgument([FieldViolation("idempotency_key", f"at most {validation.MAX_KEY_LENGTH} characters")])
            return post_message(await self._posts.get_by_key(current_tenant(), request.idempotency_key))
        post_id = parse_id(request.post_id, "post_id")
        return post_message(await self._posts.get(current_tenant(), post_id))

    async def UpdatePost(self, request: scheduler_pb2.UpdatePostRequest, context: Context) -> resources_pb2.Post:
        post_id = parse_id(request.post_id, "post_id")
        tenant = current_tenant()
        current = await self._posts.get(tenant, post_id)
        as_created = validation.as_created(str(current.account_id), request)
        new, violations = validation.post_shape(as_created, self._clock.now())
        if new is not None:
            platform = (await self._accounts.platforms(tenant, [current.account_id])).get(current.account_id, "")
            violations = validation.platform_rules(new, platform, "")
        if violations:
            raise InvalidArgument(violations)
        assert new is not None
        return post_message(await self._posts.update_content(tenant, post_id, new))

    async def DisableAccount(self, request: scheduler_pb2.DisableAccountRequest, context: Context) -> resources_pb2.Account:
        account_id = parse_id(request.account_id, "account_id")
        return account_message(await self._accounts.set_disabled(current_tenant(), account_id, True))

    async def DeleteAccount(
        self, request: scheduler_pb2.DeleteAccountRequest, context: Context
    ) -> scheduler_pb2.DeleteAccountResponse:
        account_id = parse_id(request.account_id, "account_id")
        return scheduler_pb2.DeleteAccountResponse(cancelled_posts=await self._accounts.delete(current_tenant(), account_id))

    async def EnableAccount(self, request: scheduler_pb2.EnableAccountRequest, context: Context) -> resources_pb2.Account:
        account_id = parse_id(request.account_id, "account_id")
        return account_message(await self._accounts.set_disabled(current_tenant(), account_id, False))

    async def ListPosts(self, request: scheduler_pb2.ListPostsRequest, context: Context) -> scheduler_pb2.ListPostsResponse:
        limit = page_size(request.page_size)
        status = None
        if request.status:
            if request.status not in resources_pb2.PostStatus.values():
                raise InvalidArgument([FieldViolation("status", "unknown status")])
            status = resources_pb2.PostStatus.Name(request.status)
        account_id = parse_id(request.account_id, "account_id") if request.account_id else None
        tenant = current_tenant()
        if account_id is not None:
            await self._accounts.get(tenant, account_id)  # NOT_FOUND for an account that is not the caller's
        # Timestamps were range-checked by the gate (request_checks) before the handler ran.
        since = request.scheduled_from.ToDatetime(tzinfo=timezone.utc) if request.HasField("scheduled_from") else None
        until = request.scheduled_until.ToDatetime(tzinfo=timezone.utc) if request.HasField("scheduled_until") else None
        recurring = parse_id(request.recurring_post_id, "recurring_post_id") if request.recurring_post_id else None
        if recurring is not None:
            await self._recurring.get(tenant, recurring)  # NOT_FOUND for one that is not the caller's
        bound_to = binding(tenant, "ListPosts", status, account_id, since, until, *([recurring] if recurring else []))
        after = self._tokens.cursor(request.page_token, bound_to)
        records: Sequence[PostRecord] = await self._posts.list(tenant, status=status, account_id=account_id, limit=limit + 1, after=after,
                                         scheduled_from=since, scheduled_until=until, recurring_post_id=recurring)
        records, token = self._tokens.cut_page(records, limit, lambda r: PageCursor(at=r.scheduled_at, id=r.id), bound_to)
        return scheduler_pb2.ListPostsResponse(posts=[post_message(r) for r in records], next_page_token=token)

    async def ReschedulePost(self, request: scheduler_pb2.ReschedulePostRequest, context: Context) -> resources_pb2.Post:
        post_id = parse_id(request.post_id, "post_id")
        violations: list[FieldViolation] = []
        at = validation.schedule_time(validation.set_time(request, "scheduled_at"), self._clock.now(), "scheduled_at",
                                      violations)
        if violations:
            raise InvalidArgument(violations)
        return post_message(await self._posts.reschedule(current_tenant(), post_id, at))

    async def CancelPost(self, request: scheduler_pb2.CancelPostRequest, context: Context) -> resources_pb2.Post:
        post_id = parse_id(request.post_id, "post_id")
        return post_message(await self._posts.cancel(current_tenant(), post_id))

    async def WatchEvents(
        self, request: scheduler_pb2.WatchEventsRequest, context: Context
    ) -> AsyncIterator[scheduler_pb2.Event]:
        violations: list[FieldViolation] = []
        if request.after_sequence < 0:
            violations.append(FieldViolation("after_sequence", "must be 0 (from the oldest) or a sequence you received"))
        for i, name in enumerate(request.types):
            if name not in EVENT_TYPES:
                # The list once: repeated under many bad names it would pass gRPC's 8 KiB of trailers.
                known = "" if violations else f"; one of {', '.join(EVENT_TYPES)}"
                violations.append(FieldViolation(f"types[{i}]", f"unknown event type{known}"))
        if violations:
            raise InvalidArgument(violations)
        tenant = current_tenant()
        account_id = parse_id(request.account_id, "account_id") if request.account_id else None
        if account_id is not None:
            await self._accounts.get(tenant, account_id)  # NOT_FOUND for an account that is not the caller's
        self._streams.open(tenant)
        try:
            async for record in self._feed.watch(tenant, request.after_sequence, types=list(dict.fromkeys(request.types)),
                                                 account_id=account_id):
                yield event_message(record)
        finally:
            self._streams.close(tenant)

    async def SetEventWebhook(self, request: scheduler_pb2.SetEventWebhookRequest, context: Context) -> scheduler_pb2.EventWebhook:
        tenant = current_tenant()
        if request.url:
            violations: list[FieldViolation] = []
            problem = validation.endpoint_problem(request.url, self._outbound)
            if problem:
                violations.append(FieldViolation("url", problem))
            if not validation.MIN_WEBHOOK_SECRET <= len(request.secret) <= validation.MAX_SECRET_LENGTH:
                violations.append(FieldViolation(
                    "secret", f"must be {validation.MIN_WEBHOOK_SECRET} to {validation.MAX_SECRET_LENGTH} characters"))
            if violations:
                raise InvalidArgument(violations)
        elif request.secret:
            raise InvalidArgument([FieldViolation("secret", "an empty url removes the webhook; send no secret with it")])
        record = await self._webhooks.set(tenant, request.url, self._box.seal({"secret": request.secret}), self._clock.now())
        return _webhook_message(record)

    async def GetEventWebhook(self, request: scheduler_pb2.GetEventWebhookRequest, context: Context) -> scheduler_pb2.EventWebhook:
        return _webhook_message(await self._webhooks.get(current_tenant()))

    async def ListEventDeliveries(
        self, request: scheduler_pb2.ListEventDeliveriesRequest, context: Context
    ) -> scheduler_pb2.ListEventDeliveriesResponse:
        limit = page_size(request.page_size)
        tenant = current_tenant()
        bound_to = binding(tenant, "ListEventDeliveries")
        before = self._tokens.last_id(request.page_token, bound_to)
        rows = await self._webhooks.deliveries(tenant, limit=limit + 1, before_id=before)
        token = self._tokens.id_token(rows[limit - 1].id, bound_to) if len(rows) > limit else ""
        return scheduler_pb2.ListEventDeliveriesResponse(
            deliveries=[
                scheduler_pb2.EventDelivery(
                    event_id=str(d.event_id), sequence=d.sequence, type=d.type, attempt=d.attempt, outcome=d.outcome,
                    status_code=d.status_code or 0, error=d.error or "", duration_ms=d.duration_ms, at=timestamp(d.at),
                )
                for d in rows[:limit]
            ],
            next_page_token=token,
        )


    # --- Recurring posts ---------------------------------------------------------------------------

    async def CreateRecurringPost(
        self, request: scheduler_pb2.CreateRecurringPostRequest, context: Context
    ) -> resources_pb2.RecurringPost:
        violations: list[FieldViolation] = []
        content = validation.recurring_content(validation.as_created(request.account_id, request), violations)
        if len(request.idempotency_key) > validation.MAX_KEY_LENGTH or "\x00" in request.idempotency_key:
            violations.append(FieldViolation("idempotency_key", f"at most {validation.MAX_KEY_LENGTH} characters, no NUL"))
        if violations:
            raise InvalidArgument(violations)
        assert content is not None
        tenant = current_tenant()
        account = await self._accounts.get(tenant, content.account_id)
        rule = validation.recurring_rule(request.start_time, request.time_zone or account.time_zone, request.recurrence,
                                         violations, self._clock.now())
        violations.extend(validation.platform_rules(content, account.platform, ""))
        if violations:
            raise InvalidArgument(violations)
        assert rule is not None
        limit = self._limits.of(tenant).recurring_posts
        if await self._recurring.live_count(tenant) >= limit:
            raise QuotaExceeded("recurring_posts", tenant, f"{limit} recurring posts are active or paused; cancel one "
                                "first", value=limit)
        record = await self._recurring.create(tenant, NewRecurring(
            content=replace(content, account_id=account.id), start_time=rule.start_time, time_zone=rule.time_zone, recurrence=rule.recurrence,
            idempotency_key=request.idempotency_key or None), trace_context=current_traceparent() or new_traceparent())
        return self._recurring_message(record)

    async def GetRecurringPost(
        self, request: scheduler_pb2.GetRecurringPostRequest, context: Context
    ) -> resources_pb2.RecurringPost:
        recurring_id = parse_id(request.recurring_post_id, "recurring_post_id")
        return self._recurring_message(await self._recurring.get(current_tenant(), recurring_id))

    async def ListRecurringPosts(
        self, request: scheduler_pb2.ListRecurringPostsRequest, context: Context
    ) -> scheduler_pb2.ListRecurringPostsResponse:
        limit = page_size(request.page_size)
        status = None
        if request.status:
            status = RECURRING_STATUS_FROM_API.get(request.status)
            if status is None:
                raise InvalidArgument([FieldViolation("status", "unknown status")])
        account_id = parse_id(request.account_id, "account_id") if request.account_id else None
        tenant = current_tenant()
        if account_id is not None:
            await self._accounts.get(tenant, account_id)
        bound_to = binding(tenant, "ListRecurringPosts", status, account_id)
        after = self._tokens.cursor(request.page_token, bound_to)
        records: Sequence[RecurringRecord] = await self._recurring.page(
            tenant, account_id=account_id, status=status, limit=limit + 1, after=after)
        records, token = self._tokens.cut_page(records, limit, lambda r: PageCursor(at=r.created_at, id=r.id), bound_to)
        return scheduler_pb2.ListRecurringPostsResponse(
            recurring_posts=[self._recurring_message(r) for r in records], next_page_token=token)

    async def UpdateRecurringPost(
        self, request: scheduler_pb2.UpdateRecurringPostRequest, context: Context
    ) -> resources_pb2.RecurringPost:
        recurring_id = parse_id(request.recurring_post_id, "recurring_post_id")
        paths = set(request.update_mask.paths) or set(RECURRING_FIELDS)
        unknown = sorted(paths - set(RECURRING_FIELDS))
        if unknown:
            raise InvalidArgument([FieldViolation("update_mask", f"unknown field {unknown[0]!r}; one of "
                                                  f"{', '.join(RECURRING_FIELDS)}")])
        tenant = current_tenant()
        current = await self._recurring.get(tenant, recurring_id)
        account = await self._accounts.get(tenant, current.account_id)
        violations: list[FieldViolation] = []
        content = rule = None
        if paths & set(CONTENT_FIELDS):
            was = current.content
            new = validation.recurring_content(scheduler_pb2.CreatePostRequest(
                account_id=str(current.account_id), text=request.text if "text" in paths else was.text,
                media_urls=request.media_urls if "media_urls" in paths else was.media_urls,
                link=request.link if "link" in paths else was.link,
                kind=request.kind if "kind" in paths else was.kind,
                reel=(request.reel if request.HasField("reel") else None) if "reel" in paths else reel_message(was.reel),
                first_comment=request.first_comment if "first_comment" in paths else was.first_comment), violations)
            if new is not None:
                violations.extend(validation.platform_rules(new, account.platform, ""))
                content = new
        if paths & {"start_time", "time_zone", "recurrence"}:
            rule = validation.recurring_rule(
                request.start_time if "start_time" in paths else current.start_time.isoformat(),
                (request.time_zone or account.time_zone) if "time_zone" in paths else current.time_zone,
                request.recurrence if "recurrence" in paths else current.recurrence, violations, self._clock.now())
        if violations:
            raise InvalidArgument(violations)
        return self._recurring_message(await self._recurring.update(tenant, recurring_id, content=content, rule=rule,
                                                                    read_at=current.updated_at))

    async def PauseRecurringPost(
        self, request: scheduler_pb2.PauseRecurringPostRequest, context: Context
    ) -> resources_pb2.RecurringPost:
        recurring_id = parse_id(request.recurring_post_id, "recurring_post_id")
        return self._recurring_message(await self._recurring.pause(current_tenant(), recurring_id))

    async def ResumeRecurringPost(
        self, request: scheduler_pb2.ResumeRecurringPostRequest, context: Context
    ) -> resources_pb2.RecurringPost:
        recurring_id = parse_id(request.recurring_post_id, "recurring_post_id")
        return self._recurring_message(await self._recurring.resume(current_tenant(), recurring_id))

    async def CancelRecurringPost(
        self, request: scheduler_pb2.CancelRecurringPostRequest, context: Context
    ) -> resources_pb2.RecurringPost:
        recurring_id = parse_id(request.recurring_post_id, "recurring_post_id")
        return self._recurring_message(await self._recurring.cancel(current_tenant(), recurring_id))

    def _recurring_message(self, record: RecurringRecord) -> resources_pb2.RecurringPost:
        upcoming: list[datetime] = []
        if record.status == "ACTIVE":
            rule = recurrence.cached(tuple(record.recurrence), record.start_time, record.time_zone)
            upcoming = [o.instant for o in rule.next(self._clock.now(), NEXT_OCCURRENCES)]
        return recurring_message(record, upcoming)

    # --- Posting schedules ---------------------------------------------------------------------------

    async def SetPostingSchedule(
        self, request: scheduler_pb2.SetPostingScheduleRequest, context: Context
    ) -> resources_pb2.PostingSchedule:
        account_id = parse_id(request.account_id, "account_id")
        tenant = current_tenant()
        account = await self._accounts.get(tenant, account_id)
        time_zone = request.time_zone or account.time_zone
        schedule = validation.schedule_slots(request, time_zone)
        slots = [(s.day_of_week, s.time) for s in request.slots]
        record = await self._schedules.set(tenant, account_id, time_zone, slots, schedule, reshuffle=request.reshuffle)
        return schedule_message(record if slots else None, str(account_id), time_zone)

    async def GetPostingSchedule(
        self, request: scheduler_pb2.GetPostingScheduleRequest, context: Context
    ) -> resources_pb2.PostingSchedule:
        account_id = parse_id(request.account_id, "account_id")
        tenant = current_tenant()
        account = await self._accounts.get(tenant, account_id)
        return schedule_message(await self._schedules.get(tenant, account_id), str(account_id), account.time_zone)

    async def EnqueuePost(self, request: scheduler_pb2.EnqueuePostRequest, context: Context) -> resources_pb2.Post:
        if request.post.HasField("scheduled_at"):
            raise InvalidArgument([FieldViolation("post.scheduled_at", "EnqueuePost picks the time; use not_before")])
        now = self._clock.now()
        new, violations = validation.post_shape(request.post, now, "post.")
        after = max(now, validation.schedule_time(validation.set_time(request, "not_before"), now, "not_before",
                                                  violations) or now)
        if violations:
            raise InvalidArgument(violations)
        assert new is not None
        tenant = current_tenant()
        account = await self._accounts.get(tenant, new.account_id)
        violations = validation.platform_rules(new, account.platform, "post.")
        if violations:
            raise InvalidArgument(violations)
        limit = self._limits.of(tenant).live_posts
        if await self._live_posts(tenant) + 1 > limit:
            raise QuotaExceeded("live_posts", tenant, f"the {limit} live posts allowed are taken", value=limit)
        record = new_record(tenant, new, after, now=now)
        created = await self._schedules.enqueue(tenant, record, after, _weekly, trace_context=current_traceparent() or new_traceparent())
        self._count_created(tenant, 1)
        return post_message(created)

    async def ListUpcomingSlots(
        self, request: scheduler_pb2.ListUpcomingSlotsRequest, context: Context
    ) -> scheduler_pb2.ListUpcomingSlotsResponse:
        account_id = parse_id(request.account_id, "account_id")
        count = request.count or 10
        if not 1 <= count <= validation.MAX_UPCOMING:
            raise InvalidArgument([FieldViolation("count", f"1 to {validation.MAX_UPCOMING} (0 = 10)")])
        tenant = current_tenant()
        record = await self._schedules.get(tenant, account_id)
        if record is None:
            return scheduler_pb2.ListUpcomingSlotsResponse()
        slots = await self._schedules.upcoming(tenant, account_id, _weekly(record), count)
        return scheduler_pb2.ListUpcomingSlotsResponse(slots=[
            scheduler_pb2.UpcomingSlot(at=timestamp(at), post=post_message(post) if post else None) for at, post in slots])


CONTENT_FIELDS = ("text", "media_urls", "link", "kind", "reel", "first_comment")
RECURRING_FIELDS = (*CONTENT_FIELDS, "start_time", "time_zone", "recurrence")
NEXT_OCCURRENCES = 5


def _weekly(record: ScheduleRecord) -> WeeklySchedule:
    return WeeklySchedule.parse(timezones.zone(record.time_zone), record.slots)


def _webhook_message(record: WebhookRecord | None) -> scheduler_pb2.EventWebhook:
    if record is None:
        return scheduler_pb2.EventWebhook()
    return scheduler_pb2.EventWebhook(
        url=record.url, delivered_sequence=record.delivered, pending=record.pending, head_attempts=record.head_attempts,
        next_attempt_at=timestamp(record.next_attempt_at), last_error=record.last_error or "",
        updated_at=timestamp(record.updated_at),
    )
