"""Domain errors. One base class; each maps to one gRPC status code in `grpc_server`.

The docstring of each class is its default message.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class PostschedError(Exception):
    """postsched error."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())

    @property
    def message(self) -> str:
        return str(self.args[0])


class ConfigError(PostschedError):
    """A setting is missing or malformed."""


class InvalidArgument(PostschedError):
    """The request is invalid."""

    def __init__(self, violations: list[FieldViolation], message: str | None = None) -> None:
        self.violations = violations
        summary = "; ".join(f"{v.field}: {v.description}" for v in violations[:5])
        if len(violations) > 5:
            summary += f"; and {len(violations) - 5} more"
        super().__init__(message or f"invalid request: {summary}")


class NotFound(PostschedError):
    """Not found."""


class AlreadyExists(PostschedError):
    """Already exists."""


class FailedPrecondition(PostschedError):
    """The object is not in a state that allows this."""


class Aborted(PostschedError):
    """A concurrent change came first: read the object again and retry."""


class Unauthenticated(PostschedError):
    """Missing or invalid token: send metadata 'authorization: Bearer TOKEN'."""


class PermissionDenied(PostschedError):
    """This token may not do that."""


class ResourceExhausted(PostschedError):
    """Too much at once."""


class QuotaExceeded(ResourceExhausted):
    """A tenant's limit (postsched.limits): RESOURCE_EXHAUSTED with a google.rpc.QuotaFailure naming it."""

    def __init__(self, limit: str, tenant: str, description: str, value: int | None = None) -> None:
        self.limit = limit
        self.tenant = tenant
        self.description = description
        self.value = value
        super().__init__(f"tenant {tenant!r} is over its {limit} limit: {description}")


class Unavailable(PostschedError):
    """A dependency (PostgreSQL or NATS) is unavailable; retry."""
