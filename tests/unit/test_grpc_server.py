"""The shared gRPC plumbing in-process: health, which needs no token, through the same gate."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from postsched.auth import TokenBook, operator_tokens
from postsched.grpc_server import start_server
from postsched.tls import TLSSettings


async def test_health_watch_and_check_pass_the_gate_and_garbage_is_invalid_argument() -> None:
    server = await start_server("127.0.0.1:0", registrars=[], service_names=[], authenticator=TokenBook(operator_tokens({"POSTSCHED_ADMIN_TOKEN": "t" * 32})), tls=TLSSettings())
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            check = await health.Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert check.status == health_pb2.HealthCheckResponse.SERVING
            # Watch is written with context.write, not as a generator: it must still stream.
            watch = health.Watch(health_pb2.HealthCheckRequest(), timeout=5)
            first = await watch.read()
            assert first.status == health_pb2.HealthCheckResponse.SERVING
            watch.cancel()
            for path in ("/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"):
                call = (channel.unary_stream if path.endswith("Watch") else channel.unary_unary)(path)
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    answer = call(b"\x0a\xff\xff", timeout=5)
                    if path.endswith("Watch"):
                        await answer.read()
                    else:
                        await answer
                assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
                assert "grpc.health.v1.HealthCheckRequest" in (caught.value.details() or "")
    finally:
        await server.stop(0)


async def test_reflection_is_served_as_v1_and_v1alpha() -> None:
    from grpc_reflection.v1alpha import reflection_pb2

    server = await start_server("127.0.0.1:0", registrars=[], service_names=[], authenticator=TokenBook(operator_tokens({"POSTSCHED_ADMIN_TOKEN": "t" * 32})), tls=TLSSettings())
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            for package in ("v1", "v1alpha"):
                call = channel.stream_stream(
                    f"/grpc.reflection.{package}.ServerReflection/ServerReflectionInfo",
                    request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
                    response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
                )
                stream = call()
                await stream.write(reflection_pb2.ServerReflectionRequest(list_services=""))
                listed = await stream.read()
                names = {s.name for s in listed.list_services_response.service}
                assert {"grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection",
                        "grpc.reflection.v1alpha.ServerReflection"} <= names, package
                await stream.write(reflection_pb2.ServerReflectionRequest(file_containing_symbol="grpc.reflection.v1.ServerReflection"))
                found = await stream.read()
                assert found.file_descriptor_response.file_descriptor_proto, package
                await stream.done_writing()
    finally:
        await server.stop(0)
