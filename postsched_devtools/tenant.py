"""A small gRPC client for tests: a stub plus the metadata of one tenant."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2

from postsched.v1 import resources_pb2, scheduler_pb2, scheduler_pb2_grpc


class Tenant:
    def __init__(self, addr: str, token: str | None) -> None:
        self.channel = grpc.insecure_channel(addr)
        self.stub = scheduler_pb2_grpc.SchedulerServiceStub(self.channel)
        self.metadata = (("authorization", f"Bearer {token}"),) if token else ()

    def __getattr__(self, method: str) -> Any:
        call = getattr(self.stub, method)
        return lambda request: call(request, metadata=self.metadata, timeout=30)

    def webhook_account(self, external_id: str = "hook-1", url: str = "https://hooks.example.com/in", *,
                        zone: str = "", spacing: timedelta | None = None) -> resources_pb2.Account:
        """A webhook account; `zone` its time_zone, `spacing` its min_post_interval."""
        request = scheduler_pb2.CreateAccountRequest(
            platform=resources_pb2.WEBHOOK, external_id=external_id, webhook_url=url, webhook_secret="s" * 32,
            time_zone=zone)
        if spacing is not None:
            request.min_post_interval.FromTimedelta(spacing)
        return self.CreateAccount(request)

    def page_account(self, page_id: str = "1234567890", token: str = "EAAB-page-token") -> resources_pb2.Account:
        return self.CreateAccount(
            scheduler_pb2.CreateAccountRequest(
                platform=resources_pb2.FACEBOOK_PAGE, external_id=page_id, display_name="A page", access_token=token
            )
        )

    def instagram_account(self, ig_id: str = "17841400000000001") -> resources_pb2.Account:
        return self.CreateAccount(
            scheduler_pb2.CreateAccountRequest(
                platform=resources_pb2.INSTAGRAM, external_id=ig_id, access_token="IGQ-token"
            )
        )

    def close(self) -> None:
        self.channel.close()


def field_violations(error: grpc.RpcError) -> dict[str, str]:
    """google.rpc.BadRequest field violations of an INVALID_ARGUMENT error, {field: description}."""
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                bad = error_details_pb2.BadRequest()
                if detail.Unpack(bad):
                    return {v.field: v.description for v in bad.field_violations}
    return {}
