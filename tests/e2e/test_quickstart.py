"""The README run as a newcomer would: `postsched up` in one terminal, and in another, at the
repository's root, in a clean environment, every block the README marks as run — the quick start's
first, then the reference sections' — pasted in the order they appear (nothing but what the blocks
themselves set up: `set -u` fails a block that uses what no earlier block made, and every command
that fails is reported). One change only: the four gRPC ports. 50051-50054 lie in Linux's ephemeral
range, where any outgoing connection of another test process may hold one for a while, so `up`
gets free ports and the blocks' `localhost:5005N` follow; fake-meta (8089), the dashboard (8080) and
the metrics ports are below that range and stay as printed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from postsched.embedded import free_port
from postsched_devtools.processes import ROOT

# `postsched up` on default ports (8089 for fake-meta, 8080 for the dashboard): one such test at a time.
pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("default_ports")]
README = (ROOT / "README.md").read_text()
GRPC_PORTS = {"scheduler": 50051, "dispatcher": 50052, "publisher": 50053, "admin": 50054}


MARKED = r"<!-- (?:quick start \d: run by tests/e2e/test_quickstart.py|this block is run by tests/e2e/test_readme.py) -->\n```sh\n(.*?)```"


def quick_start_blocks() -> list[str]:
    blocks = re.findall(r"<!-- quick start (\d): run by tests/e2e/test_quickstart.py -->\n```sh\n(.*?)```", README, re.S)
    assert [int(n) for n, _ in blocks] == list(range(1, len(blocks) + 1)), "the blocks are numbered in order"
    return [text for _, text in blocks]


def test_the_quick_start_and_every_block_after_it_run_as_pasted(tmp_path: Path) -> None:
    assert len(quick_start_blocks()) == 4
    blocks = re.findall(MARKED, README, re.S)
    assert blocks[:4] == quick_start_blocks() and len(blocks) >= 13
    # The repository as a newcomer has it after the first command: its .venv, and `up`'s state in ./.postsched.
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    venv_bin = str(Path(sys.executable).parent)
    clean = {"HOME": str(tmp_path), "LANG": "C.UTF-8",
             "PATH": ":".join(p for p in os.environ["PATH"].split(":") if p != venv_bin)}
    ports = {name: free_port() for name in GRPC_PORTS}
    up = subprocess.Popen([str(tmp_path / ".venv" / "bin" / "postsched"), "up"], cwd=tmp_path,
                          env={**clean, **{f"POSTSCHED_{name.upper()}_ADDR": f"127.0.0.1:{port}" for name, port in ports.items()}},
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert up.stdout is not None
        banner = []
        for line in up.stdout:
            banner.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        assert up.poll() is None, "".join(banner)
        # One shell session, the blocks in order; each failing command is reported on stderr.
        script = "set -u\ntrap 'echo \"FAILED ($?): $BASH_COMMAND\" >&2' ERR\n" + "\n".join(
            f"echo '=== block {i}'\n{text}" for i, text in enumerate(blocks, 1)) + "\necho '=== end'\n"
        for name, default in GRPC_PORTS.items():
            script = script.replace(f"localhost:{default}", f"localhost:{ports[name]}")
        result = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=clean, capture_output=True, text=True,
                                timeout=600)
    finally:
        up.send_signal(signal.SIGINT)
        up.communicate(timeout=60)
    out, err = result.stdout, result.stderr
    failed = [line for line in err.splitlines() if line.startswith("FAILED")]
    # Only the streams end by failing: `timeout` stops each (exit 124), as the README says.
    assert failed and all(re.match(r"FAILED \(124\): timeout \d+ grpcurl ", line) for line in failed), err
    assert len(failed) == sum(block.count("\ntimeout ") + block.startswith("timeout ") for block in blocks), err
    assert result.returncode == 0 and "unbound variable" not in err, err
    sections = dict(re.findall(r"=== block (\d+)\n(.*?)(?==== block |=== end|\Z)", out, re.S))
    assert out.rstrip().endswith("=== end"), out
    assert sections["2"].count('"status": "SCHEDULED"') >= 2  # both posts created, then listed
    assert sections["3"].count('"type": "post.published"') == 2  # both went out within the watch
    assert sections["3"].count('"kind": "webhook"') == 1 and '"kind": "feed"' in sections["3"]  # on fake-meta
    assert "its story: http://localhost:8080/posts/" in sections["3"]
    assert "this one fails first" in sections["4"] and '"status": "SCHEDULED"' in sections["4"]  # retried
    assert "post published" in sections["4"] and "post failed" in sections["4"]  # its log lines, both outcomes
    # The reference sections' blocks, after it: each printed what it shows (grpcurl's answers, or curl's).
    later = [sections[str(i)] for i in range(5, len(blocks) + 1)]
    assert all(text.strip() for text in later), out
    operations = next(text for text in later if '"deleted"' in text)  # the operators' block
    assert '"status": "SCHEDULED"' in operations and '"paused": true' in operations
