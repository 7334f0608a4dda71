"""The committed generated code matches protos/."""

from __future__ import annotations

from pathlib import Path

from postsched import codegen


def test_generated_code_is_fresh(tmp_path: Path) -> None:
    codegen.generate(tmp_path)
    fresh = sorted((tmp_path / "postsched" / "v1").glob("*_pb2*.py*"))
    committed_dir = codegen.ROOT / "postsched" / "v1"
    assert fresh, "protoc produced nothing"
    assert sorted(p.name for p in committed_dir.glob("*_pb2*.py*")) == [p.name for p in fresh]
    stale = [p.name for p in fresh if p.read_text() != (committed_dir / p.name).read_text()]
    assert not stale, f"regenerate with `python -m postsched.codegen`: stale {stale}"
