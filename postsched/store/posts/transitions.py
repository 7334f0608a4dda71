"""Every change of a post's state is one statement built by `move`: it writes the state, the
processing-log row of each post it moved and `updated_at`, in one statement; nothing else writes a
post's status by hand.

A statement is checked against postsched.lifecycle's table when it is built (at import), so a
transition the table does not list cannot be written. Where the target state and event vary per
row (the publisher's outcomes), the caller checks each row against the table instead
(publishing.Outcome).

Every statement takes %(now)s, %(actor)s and %(trace_id)s: `params` adds the last two.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from postsched import lifecycle
from postsched.lifecycle import PostStatus
from postsched.tracecontext import current_trace_id


@dataclass(frozen=True)
class PerRow:
    """A value that differs per post: an SQL expression over the source's columns."""

    sql: str


def move(
    *,
    source: str,
    match: str,
    sources: tuple[PostStatus, ...],
    target: PostStatus | PerRow,
    event: str | PerRow,
    set: str = "",
    was: str | None = None,
    message: str = "''",
    attempt: bool = False,
    returning: str = "",
    before: str = "",
    select: str = "SELECT log_post_id AS post_id FROM moved",
) -> str:
    """One transition as SQL.

    source    the FROM item naming the posts: a CTE from `before`, or `unnest(...) AS alias`
    match     how a row of `source` names its post (`p` is the post), e.g. "p.id = m.id"
    sources   the states a post may be in: the compare-and-set
    target    the state it moves to; event: the processing-log entry's event
    set       the other columns the transition writes
    was       with several `sources`: the expression that says which state each post was in
    message   the log entry's message, an SQL expression over `p` (as written) and `source`
    attempt   log the post's attempt number (as written)
    returning more columns of `moved` for `select` (the post's are p.*)
    before    CTEs that come first (the rows to pick, locked)
    select    the statement's result, read from `moved`
    """
    if not sources:
        raise ValueError("a transition moves a post out of at least one state")
    if isinstance(target, PostStatus) and isinstance(event, str):
        for state in sources:
            if lifecycle.find(state.value, target.value, event) is None:
                raise ValueError(f"{state.value} -> {target.value} ({event}) is not in postsched.lifecycle.TRANSITIONS")
    if was is None:
        if len(sources) > 1:
            raise ValueError("with several source states, `was` must say which one each post was in")
        was = f"'{sources[0].value}'::post_status"
    guard = (f"p.status = '{sources[0].value}'" if len(sources) == 1
             else f"p.status IN ({', '.join(repr(s.value) for s in sources)})")
    target_sql = f"'{target.value}'" if isinstance(target, PostStatus) else target.sql
    event_sql = event.sql if isinstance(event, PerRow) else f"'{event}'"
    assignments = ", ".join(part for part in (f"status = {target_sql}", set.strip(), "updated_at = %(now)s") if part)
    extra = f", {returning}" if returning else ""
    return f"""
WITH {before + ", " if before else ""}moved AS (
    UPDATE posts p
    SET {assignments}
    FROM {source}
    WHERE {match} AND {guard}
    RETURNING p.id AS log_post_id, p.tenant_id AS log_tenant_id, p.account_id AS log_account_id,
              {was} AS log_from, p.status AS log_to, {event_sql} AS log_event, {message} AS log_message,
              {"p.attempts" if attempt else "NULL::int"} AS log_attempt,
              {OWN_TRACE_ID} AS log_trace_id{extra}
), logged AS (
    INSERT INTO processing_logs (post_id, tenant_id, account_id, event, from_status, to_status, attempt, message,
                                 actor, trace_id, created_at)
    SELECT log_post_id, log_tenant_id, log_account_id, log_event, log_from, log_to, log_attempt, log_message,
           %(actor)s, coalesce(log_trace_id, %(trace_id)s), %(now)s
    FROM moved
)
{select}
"""


# A post's own trace id, from the W3C traceparent stored with it (tracecontext.trace_id_of in SQL):
# what its audit rows carry, whichever service writes them.
OWN_TRACE_ID = "nullif(split_part(p.trace_context, '-', 2), '')"


def params(**values: Any) -> dict[str, Any]:
    """A transition's parameters: the caller's, plus the actor (None unless given) and the active trace
    (the audit row takes the post's own trace id, from its trace_context, and this one only if it has none)."""
    return {"actor": None, "trace_id": current_trace_id(), **values}
