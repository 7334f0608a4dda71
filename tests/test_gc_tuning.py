"""The services' garbage-collector settings (postsched.cli.tune_gc)."""

from __future__ import annotations

import gc

import pytest

from postsched import cli
from postsched.errors import ConfigError


@pytest.fixture
def restore_gc():  # type: ignore[no-untyped-def]
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)
    gc.unfreeze()


def test_objects_loaded_at_start_are_frozen_and_collections_are_rarer(restore_gc, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("POSTSCHED_GC_THRESHOLD", raising=False)
    gc.unfreeze()
    cli.tune_gc()
    assert gc.get_threshold() == (50_000, 20, 10)
    assert gc.get_freeze_count() > 1000  # everything imported so far is out of the collector's way


def test_the_thresholds_can_be_set_and_bad_ones_are_refused(restore_gc, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("POSTSCHED_GC_THRESHOLD", "700,10,10")
    cli.tune_gc()
    assert gc.get_threshold() == (700, 10, 10)
    for bad in ("700", "0,10,10", "a,b,c", "700,10,10,1"):
        monkeypatch.setenv("POSTSCHED_GC_THRESHOLD", bad)
        with pytest.raises(ConfigError, match="POSTSCHED_GC_THRESHOLD"):
            cli.tune_gc()
