"""The API contract guards itself: `buf lint` passes with buf.yaml's listed exceptions, `buf breaking`
finds nothing against the last release (or the previous commit), a deliberately breaking change in a
copy is caught, and the offline client generation docs/api.md shows works."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from postsched_devtools.processes import ROOT

BUF = Path(sys.executable).parent / "buf"


def buf(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BUF), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30).stdout.strip()


def test_buf_lint_passes() -> None:
    result = buf("lint")
    assert result.returncode == 0, result.stdout + result.stderr


def test_nothing_breaks_clients_of_the_last_release_or_the_previous_commit() -> None:
    against = git("describe", "--tags", "--abbrev=0") or "HEAD~1"
    assert git("rev-parse", "--verify", "--quiet", against), f"{against} is not in this clone (a shallow clone?)"
    result = buf("breaking", "--against", f".git#ref={against},subdir=protos")
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_breaking_change_is_caught(tmp_path: Path) -> None:
    copy = tmp_path / "protos"
    shutil.copytree(ROOT / "protos", copy)
    resources = copy / "postsched" / "v1" / "resources.proto"
    text = resources.read_text()
    changed = re.sub(r"(string text = )(\d+);", lambda m: f"{m.group(1)}{int(m.group(2)) + 100};", text, count=1)
    assert changed != text
    resources.write_text(changed)
    result = buf("breaking", str(copy), "--against", str(ROOT / "protos"))
    assert result.returncode != 0 and "resources.proto" in result.stdout, result.stdout + result.stderr


def test_the_offline_python_client_generation_in_the_docs_works(tmp_path: Path) -> None:
    block = re.search(r"^(python -m grpc_tools\.protoc .*)$", (ROOT / "docs" / "api.md").read_text(), re.M)
    assert block
    (tmp_path / "gen").mkdir()
    shutil.copytree(ROOT / "protos", tmp_path / "protos")
    command = block.group(1).replace("python ", f"{sys.executable} ", 1)
    result = subprocess.run(["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    # What a backend gets is what postsched itself runs on (postsched/v1 is generated the same way).
    made = sorted(p.name for p in (tmp_path / "gen" / "postsched" / "v1").iterdir())
    assert made == sorted(p.name for p in (ROOT / "postsched" / "v1").glob("*_pb2*"))
    for name in made:
        assert (tmp_path / "gen" / "postsched" / "v1" / name).read_text() == (ROOT / "postsched" / "v1" / name).read_text()
