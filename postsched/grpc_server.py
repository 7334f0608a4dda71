"""gRPC server plumbing shared by the four services: auth, error mapping, health, reflection, shutdown."""

from __future__ import annotations

import asyncio
import inspect
import signal
import uuid
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterable, TypeAlias

import grpc
import structlog
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from postsched import errors, reflection, request_checks, telemetry
from postsched.auth import Authenticator, Principal, bearer_token, set_principal
from postsched.throttle import FailedSignIns, TooManyFailures, client_address
from postsched.tls import TLSSettings, is_loopback

log = structlog.get_logger("postsched.grpc")
# Every servicer's call context: requests and replies are protobuf messages of the method's own types.
Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"  # generic in the stubs only
Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"

# Reflection and health answer without a token, so `grpcurl list` and probes just work.
OPEN_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")

STATUS_OF: dict[type[errors.PostschedError], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.Aborted: grpc.StatusCode.ABORTED,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
}


def status_code_for(exc: errors.PostschedError) -> grpc.StatusCode:
    for cls in type(exc).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]
    return grpc.StatusCode.INTERNAL


# Default gRPC clients refuse trailing metadata over 16 KiB (8 KiB in some): the details of an
# error stay far below that however many items of a request are wrong.
MAX_VIOLATIONS_SENT = 20
MAX_FIELD_CHARS = 200
MAX_DESCRIPTION_CHARS = 300


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _rich_status(code: grpc.StatusCode, exc: errors.PostschedError) -> bytes | None:
    """google.rpc.Status with BadRequest field violations, for INVALID_ARGUMENT (at most 20 listed),
    or with a QuotaFailure naming the limit, for a tenant over one."""
    if isinstance(exc, errors.QuotaExceeded):
        failure = error_details_pb2.QuotaFailure(violations=[error_details_pb2.QuotaFailure.Violation(
            subject=f"tenant:{exc.tenant}", description=exc.description, quota_id=exc.limit, quota_metric=exc.limit,
            quota_value=exc.value or 0)])
        detail = any_pb2.Any()
        detail.Pack(failure)
        quota: bytes = status_pb2.Status(code=code_pb2.RESOURCE_EXHAUSTED, message=exc.message,
                                         details=[detail]).SerializeToString()
        return quota
    if not isinstance(exc, errors.InvalidArgument):
        return None
    listed = [
        error_details_pb2.BadRequest.FieldViolation(
            field=_short(v.field, MAX_FIELD_CHARS), description=_short(v.description, MAX_DESCRIPTION_CHARS)
        )
        for v in exc.violations[:MAX_VIOLATIONS_SENT]
    ]
    if len(exc.violations) > MAX_VIOLATIONS_SENT:
        more = len(exc.violations) - MAX_VIOLATIONS_SENT
        listed.append(error_details_pb2.BadRequest.FieldViolation(
            field="", description=f"and {more} more violations, not listed"
        ))
    bad_request = error_details_pb2.BadRequest(field_violations=listed)
    detail = any_pb2.Any()
    detail.Pack(bad_request)
    status = status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message=exc.message, details=[detail])
    invalid: bytes = status.SerializeToString()
    return invalid


async def _abort(context: Context, exc: errors.PostschedError) -> None:
    code = status_code_for(exc)
    details = _rich_status(code, exc)
    trailing = (("grpc-status-details-bin", details),) if details else ()
    await context.abort(code, exc.message, trailing_metadata=trailing)


class ServiceInterceptor(grpc.aio.ServerInterceptor):
    """Builds every unary-request handler of a server: the one place requests are let in.

    It authenticates every call but health and reflection, refuses what no handler could use
    (undecodable bodies, NUL characters, out-of-range times: `request_checks`), and maps
    exceptions to gRPC statuses. Domain errors get their own code and message. Anything else is
    logged here with its traceback and reaches the client as INTERNAL with a reference id, never
    as a stack trace.
    """

    def __init__(self, authenticator: Authenticator, admission: Admission | None = None) -> None:
        self._authenticator = authenticator
        self._admission = admission
        self._failures = FailedSignIns("grpc")

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(details)
        if handler is None:
            return handler
        method = details.method
        # Health needs no token (probes), but a corrupt health request is still refused cleanly.
        # Reflection (a bidirectional stream) is left to grpcio-reflection.
        open_method = method.startswith(OPEN_PREFIXES)
        deserializer = request_checks.tolerant(handler.request_deserializer)
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(method, handler.unary_unary, open_method),
                request_deserializer=deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(method, handler.unary_stream, open_method),
                request_deserializer=deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    async def _admit(self, method: str, request: Any, context: Context, open_method: bool) -> None:
        """Authenticates the caller, then refuses a request no handler should see."""
        principal = None
        if not open_method:
            token = bearer_token(context.invocation_metadata())
            principal = await self._authenticate(token, client_address(context.peer() or ""), method)
            set_principal(principal)
        # The deserializer already checked the request (request_checks.tolerant).
        if isinstance(request, (request_checks.Undecodable, request_checks.Rejected)):
            raise errors.InvalidArgument(request_checks.violations(request))
        if principal is not None and self._admission is not None:
            self._admission(principal, method, request)

    async def _authenticate(self, token: str, address: str, method: str) -> Principal:
        """A wrong token is counted against the caller's address; one that failed often waits its turn."""
        async def check() -> Principal:
            return self._authenticator.authenticate(token)

        try:
            return await self._failures.attempt(address, check, method=method)
        except TooManyFailures as exc:
            raise errors.ResourceExhausted(str(exc)) from None

    def _wrap_unary(
        self, method: str, behavior: Callable[..., Awaitable[Any]], open_method: bool
    ) -> Callable[..., Awaitable[Any]]:
        async def wrapped(request: Any, context: Context) -> Any:
            try:
                await self._admit(method, request, context, open_method)
                return await behavior(request, context)
            except Exception as exc:
                await self._answer_error(method, context, exc)

        return wrapped

    def _wrap_stream(self, method: str, behavior: Callable[..., Any], open_method: bool) -> Callable[..., Any]:
        if not inspect.isasyncgenfunction(behavior):
            # grpc's own servicers (health's Watch) write with context.write instead of yielding.
            return self._wrap_unary(method, behavior, open_method)

        async def wrapped(request: Any, context: Context) -> Any:
            try:
                await self._admit(method, request, context, open_method)
                async for item in behavior(request, context):
                    yield item
            except Exception as exc:
                await self._answer_error(method, context, exc)

        return wrapped

    async def _answer_error(self, method: str, context: Context, exc: Exception) -> None:
        """The one place an exception becomes a gRPC status (aborts, so it never returns)."""
        if isinstance(exc, grpc.aio.AbortError):
            raise exc  # the handler aborted on purpose
        if isinstance(exc, errors.PostschedError):
            await self._fail(method, context, exc)
        else:
            await self._internal(method, context, exc)

    async def _fail(self, method: str, context: Context, exc: errors.PostschedError) -> None:
        level = "warning" if isinstance(exc, errors.Unavailable) else "info"
        getattr(log, level)("rpc refused", method=method, code=status_code_for(exc).name, reason=exc.message)
        await _abort(context, exc)

    async def _internal(self, method: str, context: Context, exc: Exception) -> None:
        ref = uuid.uuid4().hex[:12]
        log.error("rpc failed", method=method, ref=ref, exc_info=exc)
        await context.abort(grpc.StatusCode.INTERNAL, f"internal error (ref {ref}); the server log has the details")


@dataclass
class RunningServer:
    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer
    service_names: list[str]

    async def set_serving(self, serving: bool) -> None:
        """SERVING or NOT_SERVING for the whole server and each of its services (duties' health)."""
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ["", *self.service_names]:
            await self.health.set(name, status)

    async def stop(self, grace: float) -> None:
        """Reports NOT_SERVING, then lets calls in flight finish for up to `grace` seconds."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)


# The largest request each service accepts. A scheduler batch of 1000 posts with long texts fits in
# 32 MiB; the operators' services take only ids, filters and times.
SCHEDULER_MAX_REQUEST_BYTES = 32 * 1024 * 1024
OPERATIONS_MAX_REQUEST_BYTES = 1024 * 1024

Registrar = Callable[[grpc.aio.Server], None]
# Called for every authenticated, well-formed request before its handler; raises to refuse it
# (the scheduler's per-tenant request rate).
Admission = Callable[[Principal, str, Any], None]


async def start_server(
    addr: str,
    *,
    registrars: Iterable[Registrar],
    service_names: Iterable[str],
    authenticator: Authenticator,
    tls: TLSSettings,
    max_request_bytes: int = OPERATIONS_MAX_REQUEST_BYTES,
    admission: Admission | None = None,
) -> RunningServer:
    """Starts a grpc.aio server on addr ("host:0" picks a free port) with health and reflection,
    over TLS when `tls` has a certificate.

    A request larger than max_request_bytes is refused by gRPC itself with RESOURCE_EXHAUSTED
    before it is read into memory.
    """
    server = grpc.aio.server(
        # OpenTelemetry's server span wraps ours, so it sees the status our error mapping sets.
        interceptors=[*telemetry.grpc_server_interceptors(), ServiceInterceptor(authenticator, admission)],
        options=[
            ("grpc.max_receive_message_length", max_request_bytes),
            # Without this a second process could bind the same port and silently share it.
            ("grpc.so_reuseport", 0),
        ],
    )
    for register in registrars:
        register(server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = list(service_names)
    reflection.enable(server, [*names, health.SERVICE_NAME])
    credentials = tls.server_credentials()
    try:
        port = server.add_insecure_port(addr) if credentials is None else server.add_secure_port(addr, credentials)
    except RuntimeError:
        port = 0
    if port == 0:
        raise errors.ConfigError(f"cannot listen on {addr}: address in use or not available")
    if credentials is None and not is_loopback(addr):
        log.warning("listening without TLS on a non-loopback address: bearer tokens cross the network in "
                    "plain text; set POSTSCHED_TLS_CERT and POSTSCHED_TLS_KEY", addr=addr)
    await server.start()
    for name in ["", *names]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return RunningServer(server=server, port=port, health=health_servicer, service_names=names)


async def wait_for_shutdown_signal() -> None:
    """Returns on the first SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
