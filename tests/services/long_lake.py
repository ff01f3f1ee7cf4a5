"""A lake long enough for the analytics pages' backtests (200 days, seed 5), built once per
test run and shared by the service and page tests that need it (a file lock guards the build
under xdist). Only the detail types the analytics read are written, so it takes seconds."""

from __future__ import annotations

import fcntl
import os
from datetime import date
from pathlib import Path

from tests.analytics.lakes import seed_analytics_lake

LONG_LAKE = {"days": 200, "events_per_day": 2_000, "seed": 5, "end": date(2026, 11, 20)}
END = LONG_LAKE["end"]


def long_lake(tmp_path_factory) -> Path:
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "verticals-long-lake"
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return seed_analytics_lake(root, **LONG_LAKE)
