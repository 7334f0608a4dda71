"""The audit trail: one row per transition and per delivery attempt."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Sequence

from postsched.store.database import Connection
from postsched.tracecontext import current_trace_id


@dataclass(frozen=True)
class LogEntry:
    post_id: uuid.UUID | None
    tenant_id: str | None
    account_id: uuid.UUID | None
    event: str
    from_status: str | None = None
    to_status: str | None = None
    attempt: int | None = None
    message: str = ""
    actor: str | None = None  # the operator who made the change


INSERT = """
INSERT INTO processing_logs (post_id, tenant_id, account_id, event, from_status, to_status, attempt, message, trace_id, actor)
SELECT * FROM unnest(%s::uuid[], %s::text[], %s::uuid[], %s::text[], %s::post_status[], %s::post_status[],
                     %s::int[], %s::text[], %s::text[], %s::text[])
"""


async def append(conn: Connection, entries: Sequence[LogEntry]) -> None:
    """Writes the entries in one statement, each tagged with the active trace id."""
    if not entries:
        return
    trace_id = current_trace_id()
    await conn.execute(
        INSERT,
        (
            [e.post_id for e in entries],
            [e.tenant_id for e in entries],
            [e.account_id for e in entries],
            [e.event for e in entries],
            [e.from_status for e in entries],
            [e.to_status for e in entries],
            [e.attempt for e in entries],
            [e.message for e in entries],
            [trace_id] * len(entries),
            [e.actor for e in entries],
        ),
    )
