"""The SQL functions and triggers' functions, one file per function per revision that changed it.

A migration runs its own revision's file (`load("0009_notify_due.sql")`) and, on downgrade, the file
of the revision before: each revision pins the text it installed, and none patches another's.
tests/integration/test_migrations.py checks every file is some migration's, and that the newest
file of each function is what the database runs.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent


def load(name: str) -> str:
    return (HERE / name).read_text()
