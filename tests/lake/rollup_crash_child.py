"""The child process of tests/lake/test_rollup_crash.py: runs a rollup maintenance and
SIGKILLs itself at a chosen point of it, deterministically (a count of files, not a time).

    python -m tests.lake.rollup_crash_child LAKE refresh_rollups|rebuild_rollups HOOK N

HOOK ``write``: killed as the (N+1)-th rollup file is about to be written (N files done).
HOOK ``replace``: killed between the (N+1)-th file's hidden ``.tmp`` write and its rename.
HOOK ``built``: killed once every file is written, before any marker is dropped.

Only app.lake.rollups is imported, so the child starts in well under a second.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from app.lake import rollups


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def arm(hook: str, n: int) -> None:
    if hook == "write":
        write, written = rollups._write_atomic, [0]

        def counted_write(table, path):
            if written[0] == n:
                die()
            write(table, path)
            written[0] += 1

        rollups._write_atomic = counted_write
    elif hook == "replace":
        replace, renamed = os.replace, [0]

        def counted_replace(src, dst):
            if Path(src).name.endswith(".tmp") and Path(dst).name == rollups.FILE_NAME:
                if renamed[0] == n:
                    die()
                renamed[0] += 1
            replace(src, dst)

        os.replace = counted_replace  # this process only; marker claims pass through
    elif hook == "built":
        rollups._remove = lambda lake, days: die()  # both runs call it after the last write
    else:
        raise SystemExit(f"unknown hook {hook!r}")


if __name__ == "__main__":
    lake, action, hook, n = sys.argv[1:]
    arm(hook, int(n))
    getattr(rollups, action)(Path(lake))
    sys.exit(3)  # never killed: the test asks for a point the run does not reach
