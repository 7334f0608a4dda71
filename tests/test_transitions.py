"""Every change of a post's state is built by postsched.store.transitions.move, checked against the lifecycle."""

from __future__ import annotations

import re
import uuid

import pytest

from postsched.lifecycle import PostStatus
from postsched.store import transitions
from postsched.store.publishing import Outcome
from postsched_devtools.processes import ROOT

S, Q, P = PostStatus.SCHEDULED, PostStatus.QUEUED, PostStatus.PUBLISHING


def test_a_transition_the_lifecycle_does_not_list_cannot_be_built() -> None:
    with pytest.raises(ValueError, match="not in postsched.lifecycle"):
        transitions.move(source="x", match="true", sources=(PostStatus.PUBLISHED,), target=S, event="retried")
    with pytest.raises(ValueError, match="not in postsched.lifecycle"):  # a listed pair under another event
        transitions.move(source="x", match="true", sources=(S,), target=Q, event="claimed")
    with pytest.raises(ValueError, match="was"):  # several sources: the log must say which one
        transitions.move(source="x", match="true", sources=(S, Q), target=PostStatus.CANCELLED, event="cancelled")


def test_a_statement_writes_the_state_its_audit_row_and_updated_at() -> None:
    sql = transitions.move(source="t", match="p.id = t.id", sources=(S,), target=Q, event="queued")
    assert "SET status = 'QUEUED', updated_at = %(now)s" in sql
    assert "p.status = 'SCHEDULED'" in sql  # the compare-and-set
    assert "INSERT INTO processing_logs" in sql and "%(trace_id)s" in sql and "%(actor)s" in sql


def test_an_outcome_is_a_transition_out_of_publishing() -> None:
    post = uuid.uuid4()
    assert Outcome(post, 1, "PUBLISHED", "published").status is PostStatus.PUBLISHED  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not in postsched.lifecycle"):
        Outcome(post, 1, PostStatus.PUBLISHED, "failed")
    with pytest.raises(ValueError):
        Outcome(post, 1, "DONE", "published")  # type: ignore[arg-type]


def test_no_store_module_writes_a_post_status_by_hand() -> None:
    for path in (ROOT / "postsched" / "store").glob("*.py"):
        if path.name in ("transitions.py", "schema.py"):
            continue
        text = path.read_text()
        assert not re.search(r"SET\s+status\s*=", text), f"{path.name} sets a post's status by hand"
        # the one hand-written audit row left is a note (handed_over), which moves no post
        for insert in re.findall(r"INSERT INTO processing_logs \(([^)]*)\)", text):
            assert "from_status" not in insert, path.name
