"""A seeded generator of bad requests for every method of every postsched service.

It learns the services from the running servers by gRPC reflection (not from our generated
code), builds one valid request per method, then derives bad ones from it: per field, the
families a hostile or careless client sends (NUL and other odd characters, huge strings, invalid
UTF-8 on the wire, ids of the wrong kind or of another tenant, forged and tampered page tokens,
out-of-range numbers, enums and Timestamps, empty and enormous repeated fields), plus raw garbage
bodies and bad credentials. Each case is judged by `judge`.
"""

from __future__ import annotations

import base64
import json
import random
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import grpc
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.rpc import error_details_pb2, status_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

# What a client may see for bad input: anything canonical that is the caller's fault.
ACCEPTABLE = {
    grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.OUT_OF_RANGE,
    grpc.StatusCode.ABORTED,  # a concurrent change came first (UpdateRecurringPost): retry
}
# Text that must never reach a client: stack traces, Python class names, driver messages.
LEAKS = ("Traceback", "<class", "psycopg", "sqlalchemy", "Exception", "Error:", 'File "', "site-packages", "asyncpg")
MAX_DETAILS_BYTES = 8 * 1024  # half the 16 KiB a default client accepts

MARKER = "zzMARKERzz"  # replaced on the wire with bytes that are not UTF-8, same length
BAD_UTF8 = b"\xff\xfe\xc3(" + b"x" * (len(MARKER) - 4)
TIMESTAMP = "google.protobuf.Timestamp"
DURATION = "google.protobuf.Duration"
FIELD_MASK = "google.protobuf.FieldMask"
MIN_SECONDS, MAX_SECONDS = -62_135_596_800, 253_402_300_799


@dataclass
class Method:
    service: str
    name: str
    path: str
    input: Descriptor
    output: Descriptor
    streaming: bool

    @property
    def label(self) -> str:
        return f"{self.service.rpartition('.')[2]}.{self.name}"


@dataclass
class Case:
    method: Method
    family: str
    body: bytes
    metadata: tuple[tuple[str, str], ...] | None = None  # None = the method's right token
    must_fail: bool = False  # another tenant's id: anything but OK


@dataclass
class Answer:
    code: grpc.StatusCode
    details: str
    trailers: tuple = ()


@dataclass
class Verdict:
    problems: list[str] = field(default_factory=list)


def discover(channel: grpc.Channel, services: list[str]) -> tuple[list[Method], descriptor_pool.DescriptorPool]:
    """Every method of the named services, as the server's reflection describes them."""
    pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
    methods = []
    for name in services:
        service = pool.FindServiceByName(name)
        for m in service.methods:
            methods.append(_method(service.full_name, m))
    return methods, pool


def _method(service: str, m: MethodDescriptor) -> Method:
    return Method(service, m.name, f"/{service}/{m.name}", m.input_type, m.output_type, bool(m.server_streaming))


def message_class(descriptor: Descriptor) -> type:
    return message_factory.GetMessageClass(descriptor)


def _repeated(fd: FieldDescriptor) -> bool:
    if hasattr(fd, "is_repeated"):
        return bool(fd.is_repeated)
    return fd.label == FieldDescriptor.LABEL_REPEATED


@dataclass
class Mutation:
    family: str
    apply: Callable[[Any], None]  # changes the message in place
    must_fail: bool = False
    wire: Callable[[bytes], bytes] | None = None  # changes the serialized bytes


class Generator:
    """Valid requests from `valid` (field name -> value), and bad ones derived from them."""

    def __init__(
        self, valid: dict[str, Any], foreign_ids: dict[str, str], tokens: dict[str, str], seed: int,
        per_method: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.valid = valid
        self.per_method = per_method or {}  # method name -> field values that differ for it
        self.foreign_ids = foreign_ids  # field name -> another tenant's id of that kind
        self.tokens = tokens  # "own page token" etc.
        self.rng = random.Random(seed)

    def base(self, descriptor: Descriptor, method: str = "") -> Any:
        message = message_class(descriptor)()
        self._fill(message, {**self.valid, **self.per_method.get(method, {})})
        return message

    def _fill(self, message: Any, valid: dict[str, Any]) -> None:
        for fd in message.DESCRIPTOR.fields:
            if fd.name not in valid:
                raise KeyError(f"no valid value for field {message.DESCRIPTOR.full_name}.{fd.name}: add it to the test")
            value = valid[fd.name]
            if value is None:
                continue
            if fd.message_type is not None and fd.message_type.full_name in (TIMESTAMP, DURATION):
                getattr(message, fd.name).seconds = int(value)
            elif fd.message_type is not None and fd.message_type.full_name == FIELD_MASK:
                getattr(message, fd.name).paths.extend(value)
            elif fd.message_type is not None and _repeated(fd):
                item = getattr(message, fd.name).add()
                self._fill(item, valid)
            elif fd.message_type is not None:  # a request inside a request (EnqueuePost's post)
                self._fill(getattr(message, fd.name), valid)
            elif _repeated(fd):
                getattr(message, fd.name).extend(value)
            else:
                setattr(message, fd.name, value)

    # --- per-field families ---------------------------------------------------------------

    def _string_family(self, name: str, method: str) -> Iterator[Mutation]:
        def put(value: str) -> Callable[[Any], None]:
            return lambda m: setattr(m, name, value)

        yield Mutation("nul", put("a\x00b"))
        yield Mutation("only-nul", put("\x00"))
        yield Mutation("control-chars", put("\x01\x07\x1b[31m\x7f"))
        yield Mutation("huge", put("a" * 200_000))
        yield Mutation("unicode", put("🙂\u202e\u0301\ufeff\U0010ffff"))
        yield Mutation("sql", put("' OR 1=1; DROP TABLE posts; --"))
        yield Mutation("wildcards", put("%_\\"))
        yield Mutation("blank", put("   "))
        yield Mutation("empty", put(""))
        yield Mutation("not-an-id", put("not-a-uuid"))
        yield Mutation("number", put("12345678901234567890"))
        yield Mutation("random-id", put(str(uuid.UUID(int=self.rng.getrandbits(128), version=4))))
        yield Mutation("braced-id", put("{" + str(uuid.uuid4()) + "}"))
        yield Mutation("bad-utf8", put(MARKER), wire=lambda b: b.replace(MARKER.encode(), BAD_UTF8))
        if name in self.foreign_ids:
            yield Mutation("other-tenant-id", put(self.foreign_ids[name]), must_fail=True)
        for kind, value in self.valid.items():
            if kind.endswith("_id") and kind != name and isinstance(value, str) and value:
                yield Mutation(f"id-of-{kind}", put(value))
        if name == "page_token":
            yield from self._token_family(put, method)

    def _token_family(self, put: Callable[[str], Callable[[Any], None]], method: str) -> Iterator[Mutation]:
        def b64(raw: bytes) -> str:
            return base64.urlsafe_b64encode(raw).decode().rstrip("=")

        forged = b64(json.dumps(["2026-01-01T00:00:00+00:00", str(uuid.uuid4())]).encode())
        yield Mutation("forged-token", put(forged), must_fail=True)
        yield Mutation("forged-signed-token", put(forged + "." + b64(b"\x00" * 16)), must_fail=True)
        yield Mutation("nested-token", put(b64(b"[" * 50_000 + b"]" * 50_000)))
        yield Mutation("oversized-token", put("A" * 100_000))
        yield Mutation("integer-token", put("9" * 40))
        yield Mutation("negative-token", put("-1"))
        for label, token in self.tokens.items():
            # A token is bound to its method and filters: only the one this method issued, with
            # the base request's filters, may work.
            yield Mutation(f"{label}-token", put(token), must_fail=label != method)
            yield Mutation(f"truncated-{label}-token", put(token[: len(token) // 2]), must_fail=True)
            middle = len(token) // 3
            flipped = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1:]
            yield Mutation(f"tampered-{label}-token", put(flipped), must_fail=True)

    def _int_family(self, name: str, fd: FieldDescriptor) -> Iterator[Mutation]:
        big = 2**31 - 1 if fd.type in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_ENUM) else 2**63 - 1
        for label, value in (("minus-one", -1), ("max", big), ("min", -big - 1), ("just-over-1000", 1001)):
            yield Mutation(f"int-{label}", lambda m, v=value: setattr(m, name, v))
        if fd.type == FieldDescriptor.TYPE_ENUM:
            yield Mutation("enum-unknown", lambda m: setattr(m, name, 99))

    def _timestamp_family(self, name: str) -> Iterator[Mutation]:
        def put(seconds: int, nanos: int = 0) -> Callable[[Any], None]:
            def apply(m: Any) -> None:
                ts = getattr(m, name)
                ts.seconds, ts.nanos = seconds, nanos
            return apply

        yield Mutation("ts-before-year-1", put(MIN_SECONDS - 1))
        yield Mutation("ts-after-9999", put(MAX_SECONDS + 1))
        yield Mutation("ts-huge", put(2**62))
        yield Mutation("ts-negative-huge", put(-(2**62)))
        yield Mutation("ts-negative-nanos", put(0, -1))
        yield Mutation("ts-nanos-overflow", put(0, 1_000_000_000))
        yield Mutation("ts-year-1", put(MIN_SECONDS))
        yield Mutation("ts-year-9999", put(MAX_SECONDS, 999_999_999))
        yield Mutation("ts-epoch", put(0))
        yield Mutation("ts-cleared", lambda m: m.ClearField(name))

    def _duration_family(self, name: str) -> Iterator[Mutation]:
        def put(seconds: int, nanos: int = 0) -> Callable[[Any], None]:
            def apply(m: Any) -> None:
                getattr(m, name).seconds, getattr(m, name).nanos = seconds, nanos
            return apply

        yield Mutation("duration-negative", put(-1), must_fail=True)
        yield Mutation("duration-negative-nanos", put(0, -1))
        yield Mutation("duration-nanos-overflow", put(0, 1_000_000_000))
        yield Mutation("duration-huge", put(2**62), must_fail=True)
        yield Mutation("duration-zero", put(0))
        yield Mutation("duration-cleared", lambda m: m.ClearField(name))

    def _mask_family(self, name: str) -> Iterator[Mutation]:
        def put(paths: list[str]) -> Callable[[Any], None]:
            def apply(m: Any) -> None:
                m.ClearField(name)
                getattr(m, name).paths.extend(paths)
            return apply

        yield Mutation("mask-unknown-path", put(["scheduled_at"]), must_fail=True)
        yield Mutation("mask-nul", put(["te\x00xt"]), must_fail=True)
        yield Mutation("mask-10000-paths", put(["text"] * 10_000))
        yield Mutation("mask-empty", lambda m: m.ClearField(name))

    def _repeated_family(self, name: str, fd: FieldDescriptor) -> Iterator[Mutation]:
        yield Mutation("repeated-empty", lambda m: m.ClearField(name))
        if fd.message_type is None:
            yield Mutation("repeated-10000-bad", lambda m: getattr(m, name).extend(["not a url"] * 10_000))
            yield Mutation("repeated-11-good", lambda m: getattr(m, name).extend([f"https://e.com/{i}.jpg" for i in range(11)]))
            yield Mutation("repeated-duplicates", lambda m: getattr(m, name).extend(list(getattr(m, name)) * 3))
            yield Mutation("repeated-nul-item", lambda m: getattr(m, name).append("https://e.com/\x00.jpg"))
        else:
            def many_empty(m: Any, n: int) -> None:
                for _ in range(n):
                    getattr(m, name).add()
            yield Mutation("repeated-1000-empty", lambda m: (m.ClearField(name), many_empty(m, 1000)))
            yield Mutation("repeated-1001", lambda m: many_empty(m, 1000))

    def field_mutations(self, descriptor: Descriptor, method: str) -> Iterator[tuple[str, Mutation]]:
        """(field path, mutation) for every field, one level into repeated messages."""
        for fd in descriptor.fields:
            name = fd.name
            if _repeated(fd):
                for mutation in self._repeated_family(name, fd):
                    yield name, mutation
                if fd.message_type is not None:
                    for inner, mutation in self.field_mutations(fd.message_type, method):
                        yield f"{name}[0].{inner}", _first_item(name, mutation)
            elif fd.message_type is not None and fd.message_type.full_name == TIMESTAMP:
                for mutation in self._timestamp_family(name):
                    yield name, mutation
            elif fd.message_type is not None and fd.message_type.full_name == DURATION:
                for mutation in self._duration_family(name):
                    yield name, mutation
            elif fd.message_type is not None and fd.message_type.full_name == FIELD_MASK:
                for mutation in self._mask_family(name):
                    yield name, mutation
            elif fd.message_type is not None:
                for inner, mutation in self.field_mutations(fd.message_type, method):
                    yield f"{name}.{inner}", _inside(name, mutation)
            elif fd.type == FieldDescriptor.TYPE_STRING:
                for mutation in self._string_family(name, method):
                    yield name, mutation
            elif fd.type in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_ENUM):
                for mutation in self._int_family(name, fd):
                    yield name, mutation

    # --- whole-request families -------------------------------------------------------------

    def garbage(self, base: bytes, count: int) -> Iterator[tuple[str, bytes]]:
        yield "empty-body", b""
        if len(base) > 1:
            yield "truncated", base[: len(base) // 2]
            yield "truncated-by-one", base[:-1]
        yield "wrong-wire-type", b"\x08\x01\x0a\x05hello" + b"\x0d\x01\x02\x03\x04"
        yield "length-past-end", b"\x0a\xff\xff\xff\x0f" + b"x" * 10
        yield "bad-tag-zero", b"\x00\x01"
        yield "end-group", b"\x0c"
        yield "deep-unknown-group", b"\x0b" * 200 + b"\x0c" * 200
        yield "deep-unknown-message", _nested_unknown(120)
        for i in range(count):
            yield f"random-{i}", self.rng.randbytes(self.rng.randint(1, 300))

    def cases(self, method: Method, wrong_tokens: list[tuple[str, tuple]], garbage: int) -> Iterator[Case]:
        base = self.base(method.input, method.name)
        base_bytes = base.SerializeToString()
        yield Case(method, "valid", base_bytes)
        for path, mutation in self.field_mutations(method.input, method.name):
            message = message_class(method.input)()
            message.CopyFrom(base)
            mutation.apply(message)
            body = message.SerializeToString()
            if mutation.wire:
                body = mutation.wire(body)
            yield Case(method, f"{path}:{mutation.family}", body, must_fail=mutation.must_fail)
        for family, body in self.garbage(base_bytes, garbage):
            yield Case(method, f"body:{family}", body)
        for label, metadata in wrong_tokens:
            yield Case(method, f"auth:{label}", base_bytes, metadata=metadata, must_fail=True)
            yield Case(method, f"auth:{label}+garbage", b"\xff\xff", metadata=metadata, must_fail=True)


def _inside(name: str, mutation: Mutation) -> Mutation:
    def apply(m: Any) -> None:
        mutation.apply(getattr(m, name))
    return Mutation(mutation.family, apply, mutation.must_fail, mutation.wire)


def _first_item(name: str, mutation: Mutation) -> Mutation:
    def apply(m: Any) -> None:
        mutation.apply(getattr(m, name)[0])
    return Mutation(mutation.family, apply, mutation.must_fail, mutation.wire)


def _nested_unknown(depth: int) -> bytes:
    """Field 15 holding field 15 holding ... `depth` levels of length-delimited unknown fields."""
    body = b""
    for _ in range(depth):
        body = b"\x7a" + _varint(len(body)) + body
    return body


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


STREAM_WAIT = 1.5


def call(channel: grpc.Channel, case: Case, metadata: tuple) -> Answer:
    """Sends the raw bytes of a case; a stream counts as OK once its first message arrives, or
    when it is still open after STREAM_WAIT seconds."""
    md = case.metadata if case.metadata is not None else metadata
    try:
        if case.method.streaming:
            stream = channel.unary_stream(case.method.path)(case.body, metadata=md, timeout=STREAM_WAIT)
            try:
                next(stream)
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                    raise
                # Accepted, with nothing to send yet (events after a cursor beyond the last one):
                # a refusal would have come at once.
            finally:
                stream.cancel()
            return Answer(grpc.StatusCode.OK, "")
        channel.unary_unary(case.method.path)(case.body, metadata=md, timeout=30)
        return Answer(grpc.StatusCode.OK, "")
    except grpc.RpcError as error:
        return Answer(error.code(), error.details() or "", tuple(error.trailing_metadata() or ()))


def judge(case: Case, answer: Answer) -> list[str]:
    """What is wrong with an answer to a bad request; [] when it is a proper one."""
    problems = []
    if answer.code not in ACCEPTABLE:
        problems.append(f"answered {answer.code.name}: {answer.details[:300]!r}")
    if "Stream removed" in answer.details:
        # The client gave up on an answer too large to receive (its own RESOURCE_EXHAUSTED, with
        # this prefix): whatever we meant to answer was lost.
        problems.append(f"the answer did not reach the client: {answer.details[:200]!r}")
    if case.must_fail and answer.code == grpc.StatusCode.OK:
        problems.append("accepted a request it must refuse (another tenant's id or a bad token)")
    for leak in LEAKS:
        if leak in answer.details:
            problems.append(f"message leaks {leak!r}: {answer.details[:300]!r}")
    if answer.code == grpc.StatusCode.INVALID_ARGUMENT:
        details = [v for k, v in answer.trailers if k == "grpc-status-details-bin"]
        if not details:
            problems.append("INVALID_ARGUMENT without google.rpc.Status details")
        else:
            size = len(details[0])
            if size > MAX_DETAILS_BYTES:
                problems.append(f"error details of {size} bytes")
            violations = _violations(details[0])
            if not violations:
                problems.append("INVALID_ARGUMENT without a BadRequest field violation")
            for v in violations:
                if any(leak in v.description for leak in LEAKS):
                    problems.append(f"violation leaks: {v.description[:200]!r}")
    return problems


def _violations(details: bytes) -> list[error_details_pb2.BadRequest.FieldViolation]:
    status = status_pb2.Status.FromString(details)
    out = []
    for detail in status.details:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            out.extend(bad.field_violations)
    return out
