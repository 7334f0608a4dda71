"""Alerts: a post that ends FAILED is announced on postsched.alerts.post_failed (kept in the
POSTSCHED_ALERTS stream) and in an error-level log line; the processing log has its entry too."""

from __future__ import annotations

import json

import structlog

from postsched import broker
from postsched.store.posts.publishing import ClaimedPost
from postsched.tracecontext import trace_id_of

log = structlog.get_logger("postsched.publisher")
SUBJECT = "postsched.alerts.post_failed"


async def post_failed(nats: broker.Broker, post: ClaimedPost, reason: str) -> None:
    log.error("post failed", post_id=str(post.id), account_id=str(post.account_id), tenant_id=post.tenant_id,
              platform=post.platform, attempts=post.attempts, reason=reason, trace_id=trace_id_of(post.trace_context))
    body = {"post_id": str(post.id), "account_id": str(post.account_id), "tenant_id": post.tenant_id,
            "platform": post.platform, "attempts": post.attempts, "reason": reason}
    try:
        await nats.notify(SUBJECT, json.dumps(body).encode())
    except broker.BrokerError as exc:
        log.warning("could not publish the alert", post_id=str(post.id), error=str(exc))
