"""The fault suite at full volume: see postsched_devtools/faults.py for what it does and checks.

    .venv/bin/python bench/fault_suite.py [--profile full|short] [--seed N] [--json]

Exits non-zero if a post was published twice, lost or left stuck.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from postsched_devtools.faults import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
