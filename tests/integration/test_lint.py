"""The linter and the type checker, as part of the test command (so CI runs them): ruff and mypy with
the settings in pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
import tomllib

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


def test_mypy_is_strict_on_the_product_and_grpc_is_typed() -> None:
    # Relaxing the type checker must be a visible change here, not a quiet edit of pyproject.toml.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert config["strict"] is True and set(config["packages"]) == {"postsched", "services"}
    assert not {k for k, v in config.items() if k.startswith(("allow_", "disable_")) or v is False}
    result = subprocess.run([sys.executable, "-c", "import grpc, google.protobuf; print('ok')"],
                            capture_output=True, text=True)
    stubs = subprocess.run([sys.executable, "-m", "pip", "show", "types-grpcio", "types-protobuf"],
                           capture_output=True, text=True)
    assert result.returncode == 0 and stubs.returncode == 0, stubs.stderr
