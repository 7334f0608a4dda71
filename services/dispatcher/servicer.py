"""DispatcherService handlers."""

from __future__ import annotations



from postsched.grpc_server import Context
from postsched import broker
from postsched.messages import timestamp
from postsched.v1 import dispatcher_pb2, dispatcher_pb2_grpc
from services.dispatcher.dispatcher import Dispatcher
from services.dispatcher.handover import Handover
from services.dispatcher.stats import DispatcherStats



class DispatcherServicer(dispatcher_pb2_grpc.DispatcherServiceServicer):
    def __init__(self, dispatcher: Dispatcher, handover: Handover, stats: DispatcherStats, nats: broker.Broker) -> None:
        self._dispatcher = dispatcher
        self._handover = handover
        self._stats = stats
        self._broker = nats

    async def DispatchNow(
        self, request: dispatcher_pb2.DispatchNowRequest, context: Context
    ) -> dispatcher_pb2.DispatchNowResponse:
        result = await self._dispatcher.tick()
        published = await self._handover.flush_due()
        return dispatcher_pb2.DispatchNowResponse(leased=result.leased, published=published, rescued=result.rescued)

    async def GetDispatcherStatus(
        self, request: dispatcher_pb2.GetDispatcherStatusRequest, context: Context
    ) -> dispatcher_pb2.DispatcherStatus:
        s = self._stats
        return dispatcher_pb2.DispatcherStatus(
            instance_id=self._dispatcher.instance_id,
            started_at=timestamp(s.started_at),
            last_tick_at=timestamp(s.last_tick_at),
            next_tick_at=timestamp(s.next_tick_at),
            lease_horizon=timestamp(self._dispatcher.horizon),
            interval_seconds=self._dispatcher.interval,
            leased_total=s.leased_total,
            published_total=s.published_total,
            rescued_total=s.rescued_total,
            released_total=s.released_total,
            publish_failures_total=s.publish_failures_total,
            holding=self._handover.holding,
            nats_connected=self._broker.connected,
        )
