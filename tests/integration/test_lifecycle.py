"""The post lifecycle's one home (postsched/lifecycle.py) against everything that repeats it: the
API's PostStatus, the database enum and the events trigger's type names (in a real PostgreSQL), and
the README's table. The fault suite checks the processing log against it (postsched_devtools/faults.py)."""

from __future__ import annotations

import psycopg

from postsched import lifecycle
from postsched.store.events import EVENT_TYPES
from postsched.lifecycle import TRANSITIONS, PostStatus
from postsched.v1 import resources_pb2
from postsched_devtools.processes import ROOT


def test_the_api_names_the_same_states() -> None:
    names = [n for n in resources_pb2.PostStatus.keys() if n != "POST_STATUS_UNSPECIFIED"]
    assert names == [s.value for s in PostStatus]


def test_the_database_and_the_events_trigger_agree_with_the_table(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        (states,) = conn.execute("SELECT enum_range(NULL::post_status)::text[]").fetchone()  # type: ignore[misc]
        assert states == [s.value for s in PostStatus]
        for t in TRANSITIONS:
            (public,) = conn.execute("SELECT postsched_event_type(%s, %s::post_status)",
                                     (t.event, t.target.value)).fetchone()  # type: ignore[misc]
            assert public == t.public, t
        for note in lifecycle.NOTES:
            assert conn.execute("SELECT postsched_event_type(%s, NULL)", (note,)).fetchone() == (None,)
        for note, public in lifecycle.PUBLIC_NOTES.items():
            assert conn.execute("SELECT postsched_event_type(%s, NULL)", (note,)).fetchone() == (public,)
        # Every event type a tenant can be told of is one of these.
        named = {t.public for t in TRANSITIONS if t.public} | set(lifecycle.PUBLIC_NOTES.values())
        assert named == set(EVENT_TYPES)


def test_the_readme_shows_the_table() -> None:
    assert lifecycle.markdown_table() in (ROOT / "README.md").read_text()


def test_every_state_is_reached_and_only_the_final_ones_have_no_way_out() -> None:
    targets = {t.target for t in TRANSITIONS}
    sources = {t.source for t in TRANSITIONS if t.source}
    assert targets == set(PostStatus)
    assert set(PostStatus) - sources == lifecycle.FINAL
    assert lifecycle.find("QUEUED", "PUBLISHING", "claimed") is not None
    assert lifecycle.find("PUBLISHED", "SCHEDULED", "retried") is None
    assert lifecycle.find(None, "SCHEDULED", "created") is not None
