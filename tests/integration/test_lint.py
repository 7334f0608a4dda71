"""The linter and the type checker, as part of the test command (so CI runs them): ruff and mypy with
the settings in pyproject.toml."""

from __future__ import annotations

import subprocess
import sys

from postsched_devtools.processes import ROOT


def test_ruff_finds_nothing() -> None:
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "postsched", "services", "postsched_devtools", "tests", "bench"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_finds_nothing() -> None:
    # packages, strictness and exclusions come from [tool.mypy] in pyproject.toml
    result = subprocess.run([sys.executable, "-m", "mypy", "--no-error-summary"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
