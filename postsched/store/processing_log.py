"""The audit trail: one row per transition and per delivery attempt."""

from __future__ import annotations

from typing import Any, Sequence

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from postsched.store.schema import processing_logs
from postsched.tracecontext import current_trace_id


async def append(conn: AsyncConnection, entries: Sequence[dict[str, Any]]) -> None:
    """Writes entries (post_id, tenant_id, account_id, event, from_status, to_status, attempt, message).

    The active trace id is added to each entry that has none, so the log links to the trace.
    """
    if not entries:
        return
    trace_id = current_trace_id()
    rows = []
    for entry in entries:
        row = {
            "post_id": None,
            "tenant_id": None,
            "account_id": None,
            "from_status": None,
            "to_status": None,
            "attempt": None,
            "message": "",
            "trace_id": trace_id,
            **entry,
        }
        rows.append(row)
    await conn.execute(insert(processing_logs), rows)
