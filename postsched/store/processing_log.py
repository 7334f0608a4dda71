"""The audit trail's entries that move no post: account changes, operators' clear-ups, notes.

A post's transitions write their own entries, in the statement that moves the post
(postsched.store.posts.transitions); an entry here has no from/to state.
"""

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
    message: str = ""
    actor: str | None = None  # the operator who made the change


INSERT = """
INSERT INTO processing_logs (post_id, tenant_id, account_id, event, message, trace_id, actor)
SELECT * FROM unnest(%s::uuid[], %s::text[], %s::uuid[], %s::text[], %s::text[], %s::text[], %s::text[])
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
            [e.message for e in entries],
            [trace_id] * len(entries),
            [e.actor for e in entries],
        ),
    )
