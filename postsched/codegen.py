"""Generates the Python protobuf/gRPC modules from protos/ into the `postsched.v1` package.

The generated files are committed (so installing needs no build step) and a test checks that
they match what this produces from protos/. Run `python -m postsched.codegen` after editing a .proto.
"""

from __future__ import annotations

import sys
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "protos"


def proto_files() -> list[Path]:
    return sorted(PROTO_DIR.glob("postsched/v1/*.proto"))


def generate(out_dir: Path) -> None:
    """Writes `postsched/v1/*_pb2*.py` under out_dir."""
    include = Path(protoc.__file__).parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_DIR}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *[str(p.relative_to(PROTO_DIR)) for p in proto_files()],
    ]
    if protoc.main(args) != 0:
        raise RuntimeError("protoc failed: " + " ".join(args))


if __name__ == "__main__":
    generate(ROOT)
    print("generated postsched/v1 from", PROTO_DIR, file=sys.stderr)
