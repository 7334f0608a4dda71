"""PublisherService handlers."""

from __future__ import annotations

from typing import Any



from postsched.grpc_server import Context
from postsched import broker
from postsched.messages import PLATFORM_TO_API, quota_message, timestamp
from postsched.v1 import publisher_pb2, publisher_pb2_grpc
from services.publisher.fair_share import FairShare
from services.publisher.quotas import INSTAGRAM_POSTS, PublishingQuotas
from services.publisher.stats import PublisherStats



class PublisherServicer(publisher_pb2_grpc.PublisherServiceServicer):
    def __init__(self, stats: PublisherStats, quota: PublishingQuotas, fair: FairShare[Any], nats: broker.Broker, *,
                 instance_id: str, concurrency: int) -> None:
        self._stats = stats
        self._quota = quota
        self._fair = fair
        self._broker = nats
        self._instance_id = instance_id
        self._concurrency = concurrency

    async def GetPublisherStatus(
        self, request: publisher_pb2.GetPublisherStatusRequest, context: Context
    ) -> publisher_pb2.PublisherStatus:
        s = self._stats
        accounts = []
        for key, rate in sorted(s.accounts.items()):
            quotas = [q for (meter, _), q in sorted(self._quota.last.items()) if meter == key]
            instagram = next((q for q in quotas if q.name == INSTAGRAM_POSTS), None)
            accounts.append(publisher_pb2.AccountRateState(
                platform=PLATFORM_TO_API.get(rate.platform), external_id=rate.external_id,
                throttled_until=timestamp(rate.throttled_until), reason=rate.reason,
                app_usage_pct=rate.app_usage_pct or 0.0, business_usage_pct=rate.business_usage_pct or 0.0,
                instagram_quota_used=instagram.used if instagram else 0,
                instagram_quota_total=instagram.total if instagram else 0,
                publishing_quotas=[quota_message(q) for q in quotas],
                in_flight=self._fair.running_of(rate.account_id), waiting=self._fair.queued_of(rate.account_id),
            ))
        return publisher_pb2.PublisherStatus(
            instance_id=self._instance_id, started_at=timestamp(s.started_at), in_flight=s.in_flight,
            concurrency=self._concurrency, published_total=s.published, failed_total=s.failed,
            retried_total=s.retried, rate_limited_total=s.rate_limited, dropped_total=s.dropped,
            reconciled_total=s.reconciled, accounts=accounts, nats_connected=self._broker.connected,
            account_concurrency=self._fair.per_account, deferred_total=s.deferred, forged_total=s.forged,
            queued=self._fair.held - self._fair.running,
        )
