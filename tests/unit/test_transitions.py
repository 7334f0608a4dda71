"""Every change of a post's state is built by postsched.store.posts.transitions.move, checked against the lifecycle."""

from __future__ import annotations

import re
import uuid

import pytest

from postsched.lifecycle import PostStatus
from postsched.store.posts import transitions
from postsched.store.posts.publishing import Outcome
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
    for path in (ROOT / "postsched" / "store").rglob("*.py"):
        if path.name in ("transitions.py", "schema.py"):  # the helper itself, the schema mirror
            continue
        text = path.read_text()
        assert not re.search(r"SET\s+status\s*=", text), f"{path.name} sets a post's status by hand"
        # the one hand-written audit row left is a note (handed_over), which moves no post
        for insert in re.findall(r"INSERT INTO processing_logs \(([^)]*)\)", text):
            assert "from_status" not in insert, path.name


def test_lease_ends_are_computed_in_one_place() -> None:
    for path in [*(ROOT / "postsched" / "store").rglob("*.py"), *(ROOT / "services").rglob("*.py")]:
        if path.name == "leases.py":
            continue
        text = path.read_text()
        assert not re.search(r"lease_expires_at\s*=\s*[^,\n]*make_interval", text), path.name


def test_every_statement_built_with_a_lease_is_formatted() -> None:
    for path in (ROOT / "postsched" / "store").rglob("*.py"):
        source = path.read_text()
        for match in re.finditer(r"\{leases\.", source):
            opening = max(source.rfind('"""', 0, match.start()), source.rfind('"', 0, match.start()))
            assert source[opening - 1] == "f" or source[opening - 3] == "f", \
                f"{path.name}: a statement with a lease is not an f-string"


def test_a_state_reads_as_its_name_wherever_it_is_written() -> None:
    # metrics labels, log lines and messages take str() or an f-string of the state
    assert str(PostStatus.FAILED) == f"{PostStatus.FAILED}" == "FAILED"
