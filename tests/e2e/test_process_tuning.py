"""What every service sets for its own process at start: open-files limit, garbage collector."""

from __future__ import annotations

import gc
import subprocess
import sys

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


def test_the_open_files_limit_is_raised_to_what_the_system_allows() -> None:
    # In a child process: lower the soft limit as a stingy system would, then let the service raise it.
    code = (
        "import resource\n"
        "from postsched.cli import raise_open_files_limit\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))\n"
        "raise_open_files_limit()\n"
        "now = resource.getrlimit(resource.RLIMIT_NOFILE)[0]\n"
        "wanted = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)\n"
        "assert now == wanted and now > 256, (now, hard)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
