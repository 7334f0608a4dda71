"""Resource ids (UUIDs) in requests: parsed once, refused with a field violation."""

from __future__ import annotations

import uuid

from postsched.errors import FieldViolation, InvalidArgument


def id_violation(value: str, field: str) -> FieldViolation | None:
    if not value:
        return FieldViolation(field, "is required")
    try:
        uuid.UUID(value)
    except ValueError:
        return FieldViolation(field, f"{value[:64]!r} is not a valid id")
    return None


def parse_id(value: str, field: str) -> uuid.UUID:
    """A resource id from a request field, or INVALID_ARGUMENT."""
    violation = id_violation(value, field)
    if violation:
        raise InvalidArgument([violation])
    return uuid.UUID(value)
