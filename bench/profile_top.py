"""The top costs in py-spy's collapsed stacks (`--format raw`): where a service spends its samples.

    python bench/profile_top.py PROFILE.txt [--top 25]

Prints, per function, the share of samples in which it is on the stack (inclusive) and on top
(self), idle samples (the event loop waiting in select/epoll) left out.
"""

from __future__ import annotations

import argparse
import collections
import re
from pathlib import Path

IDLE = re.compile(r"\b(select|poll|epoll_wait|_run_once \(asyncio/base_events.py\)$)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = idle = 0
    for line in args.profile.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [re.sub(r":\d+\)", ")", f) for f in stack.split(";")]
        n = int(count)
        if IDLE.search(frames[-1]) or "select (selectors.py)" in frames[-1]:
            idle += n
            continue
        total += n
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
    print(f"{args.profile.name}: {total} busy samples ({idle} idle left out)")
    for frame, n in inclusive.most_common(args.top):
        print(f"  {100 * n / total:5.1f}% incl  {100 * own[frame] / total:5.1f}% self  {frame}")


if __name__ == "__main__":
    main()
