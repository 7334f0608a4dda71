"""AdminService handlers."""

from __future__ import annotations

import asyncio
from datetime import timedelta, timezone
from typing import Any, AsyncIterator, Sequence


from opentelemetry import trace

from postsched.grpc_server import Context
from postsched import instruments, telemetry
from postsched.auth import current_operator
from postsched import broker
from postsched.clock import Clock
from postsched.errors import FieldViolation, InvalidArgument
from postsched.identifiers import parse_id
from postsched.messages import account_message, post_message, timestamp
from postsched.paging import PageTokens, binding, page_size
from postsched.store.admin import AdminStore, LogRecord, Scope
from postsched.store.records import PageCursor, PostRecord
from postsched.store.schema import POST_STATUSES
from postsched.v1 import admin_pb2, admin_pb2_grpc, resources_pb2

WATCH_PERIOD = 1.0
OPERATORS = "operators"  # the caller every admin page token is bound to
TRACER = telemetry.tracer("postsched.admin")


def _scope(tenant_id: str, account_id: str) -> Scope:
    return Scope(tenant_id=tenant_id or None, account_id=parse_id(account_id, "account_id") if account_id else None)


def _log_message(entry: LogRecord) -> admin_pb2.ProcessingLogEntry:
    return admin_pb2.ProcessingLogEntry(
        id=entry.id, post_id=str(entry.post_id or ""), tenant_id=entry.tenant_id or "",
        account_id=str(entry.account_id or ""), event=entry.event, from_status=entry.from_status,  # an enum field takes its value's name
        to_status=entry.to_status, attempt=entry.attempt or 0, message=entry.message,
        trace_id=entry.trace_id or "", created_at=timestamp(entry.created_at), actor=entry.actor or "",
    )

class AdminServicer(admin_pb2_grpc.AdminServiceServicer):
    def __init__(self, store: AdminStore, nats: broker.Broker, clock: Clock, tokens: PageTokens, *, retention_days: float) -> None:
        self._store = store
        self._tokens = tokens
        self._broker = nats
        self._clock = clock
        self._retention = timedelta(days=retention_days)

    async def _stats(self, scope: Scope) -> admin_pb2.QueueStats:
        now = self._clock.now()
        stats = await self._store.stats(scope, now)
        counts = stats.by_status
        oldest = (now - stats.oldest_overdue).total_seconds() if stats.oldest_overdue else 0.0
        consumer = await self._consumer()
        if scope == Scope():
            for status in POST_STATUSES:
                instruments.queue_depth.set(counts.get(status, 0), {"status": status})
            instruments.oldest_overdue.set(oldest)
            instruments.consumer_pending.set(consumer.pending)
            instruments.consumer_ack_pending.set(consumer.ack_pending)
        return admin_pb2.QueueStats(
            scheduled=counts.get("SCHEDULED", 0), queued=counts.get("QUEUED", 0),
            publishing=counts.get("PUBLISHING", 0), published=counts.get("PUBLISHED", 0),
            failed=counts.get("FAILED", 0), cancelled=counts.get("CANCELLED", 0),
            consumer=consumer, oldest_overdue_seconds=round(oldest, 3),
            published_last_minute=stats.published_last_minute, failed_last_minute=stats.failed_last_minute,
            published_last_hour=stats.published_last_hour, failed_last_hour=stats.failed_last_hour,
            at=timestamp(now),
        )

    async def _consumer(self) -> admin_pb2.ConsumerStats:
        try:
            state = await self._broker.consumer_state(timeout=2)
        except broker.BrokerError:
            return admin_pb2.ConsumerStats()  # no consumer yet, or NATS unreachable: report zeros
        return admin_pb2.ConsumerStats(pending=state.pending, ack_pending=state.ack_pending,
                                       redelivered=state.redelivered, waiting=state.waiting)

    async def queue_stats(self) -> admin_pb2.QueueStats:
        """All tenants' stats, as WatchQueue streams them; also refreshes the queue gauges Prometheus
        scrapes (posts per status, oldest overdue, the consumer)."""
        return await self._stats(Scope())

    async def GetQueueStats(self, request: admin_pb2.GetQueueStatsRequest, context: Context) -> admin_pb2.QueueStats:
        return await self._stats(_scope(request.tenant_id, request.account_id))

    async def WatchQueue(self, request: admin_pb2.WatchQueueRequest, context: Context) -> AsyncIterator[admin_pb2.QueueStats]:
        scope = _scope(request.tenant_id, request.account_id)
        last: admin_pb2.QueueStats | None = None
        while True:
            stats = await self._stats(scope)
            comparable = admin_pb2.QueueStats()
            comparable.CopyFrom(stats)
            comparable.ClearField("at")
            # Neither the age of the oldest overdue post (it grows by itself) nor the publishers'
            # waiting pull requests (they come and go every second) count as a change.
            comparable.oldest_overdue_seconds = round(comparable.oldest_overdue_seconds)
            comparable.consumer.waiting = 0
            if comparable != last:
                last = comparable
                yield stats
            await asyncio.sleep(WATCH_PERIOD)

    async def ListProcessingLogs(
        self, request: admin_pb2.ListProcessingLogsRequest, context: Context
    ) -> admin_pb2.ListProcessingLogsResponse:
        limit = page_size(request.page_size)
        bound_to = binding(
            OPERATORS, "ListProcessingLogs", request.post_id, request.account_id, request.event,
            request.since.ToJsonString() if request.HasField("since") else "",
            request.until.ToJsonString() if request.HasField("until") else "",
        )
        before = self._tokens.last_id(request.page_token, bound_to)
        entries = await self._store.list_logs(
            post_id=parse_id(request.post_id, "post_id") if request.post_id else None,
            account_id=parse_id(request.account_id, "account_id") if request.account_id else None,
            event=request.event or None,
            since=request.since.ToDatetime(tzinfo=timezone.utc) if request.HasField("since") else None,
            until=request.until.ToDatetime(tzinfo=timezone.utc) if request.HasField("until") else None,
            limit=limit + 1, before_id=before,
        )
        token = ""
        if len(entries) > limit:
            entries = entries[:limit]
            token = self._tokens.id_token(entries[-1].id, bound_to)
        return admin_pb2.ListProcessingLogsResponse(entries=[_log_message(e) for e in entries], next_page_token=token)

    async def ListFailedPosts(
        self, request: admin_pb2.ListFailedPostsRequest, context: Context
    ) -> admin_pb2.ListFailedPostsResponse:
        limit = page_size(request.page_size)
        scope = _scope(request.tenant_id, request.account_id)
        bound_to = binding(OPERATORS, "ListFailedPosts", request.tenant_id, request.account_id)
        posts: Sequence[PostRecord] = await self._store.failed_posts(scope, limit=limit + 1, after=self._tokens.cursor(request.page_token, bound_to))
        posts, token = self._tokens.cut_page(posts, limit, lambda p: PageCursor(at=p.updated_at, id=p.id), bound_to)
        return admin_pb2.ListFailedPostsResponse(posts=[post_message(p) for p in posts], next_page_token=token)

    async def RetryFailed(self, request: admin_pb2.RetryFailedRequest, context: Context) -> admin_pb2.RetryFailedResponse:
        retried, waiting = await self._store.retry_failed(_scope(request.tenant_id, request.account_id), self._clock.now(), current_operator())
        return admin_pb2.RetryFailedResponse(retried=retried, waiting_for_credentials=waiting)

    async def RetryPost(self, request: admin_pb2.RetryPostRequest, context: Context) -> resources_pb2.Post:
        post_id = parse_id(request.post_id, "post_id")
        call = trace.get_current_span().get_span_context()
        record, trace_context = await self._store.retry_post(post_id, self._clock.now(), current_operator())
        # Recorded in the post's own trace, linked to this call, so the retry is part of its story.
        attributes: dict[str, Any] = {"postsched.post_id": str(post_id)}
        with telemetry.post_span(TRACER, "admin.retry_post", trace_context, **attributes) as span:
            if call.is_valid:
                span.add_link(call)
        return post_message(record)

    async def ClearCompleted(
        self, request: admin_pb2.ClearCompletedRequest, context: Context
    ) -> admin_pb2.ClearCompletedResponse:
        now = self._clock.now()
        if request.HasField("older_than"):
            try:
                cutoff = request.older_than.ToDatetime(tzinfo=timezone.utc)
            except (ValueError, OverflowError):
                raise InvalidArgument([FieldViolation("older_than", "is not a valid timestamp")]) from None
            if cutoff > now:
                raise InvalidArgument([FieldViolation("older_than", "must not be in the future")])
        else:
            cutoff = now - self._retention
        return admin_pb2.ClearCompletedResponse(deleted=await self._store.clear_published(cutoff, current_operator()))

    async def PauseAccount(self, request: admin_pb2.PauseAccountRequest, context: Context) -> resources_pb2.Account:
        return account_message(await self._store.set_paused(parse_id(request.account_id, "account_id"), True, self._clock.now(), current_operator()))

    async def ResumeAccount(self, request: admin_pb2.ResumeAccountRequest, context: Context) -> resources_pb2.Account:
        return account_message(await self._store.set_paused(parse_id(request.account_id, "account_id"), False, self._clock.now(), current_operator()))
