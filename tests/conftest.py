"""Shared fixtures. The seeded lake is built once per test run and shared by the xdist
workers (a file lock guards the build)."""

from __future__ import annotations

import fcntl
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

SMALL_LAKE = {"days": 60, "events_per_day": 3_000, "seed": 11}


def _build_once(root: Path) -> Path:
    from app.demo.seed import seed_lake

    lake = root / "lake"
    marker = root / "seeded.json"
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not marker.exists():
            seed_lake(lake, end=datetime.now(UTC).date(), **SMALL_LAKE)
            marker.write_text(json.dumps(SMALL_LAKE))
    return lake


@pytest.fixture(scope="session")
def seeded_lake(tmp_path_factory) -> Path:
    """A small lake (60 days × 3,000 events/day, seed 11) ending today, shared read-only."""
    base = tmp_path_factory.getbasetemp()
    # Under xdist each worker has its own basetemp below the run's folder: share that one.
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    return _build_once(shared / "verticals-seeded")


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch):
    """No test may reach AWS: dummy credentials, and no profile or config from $HOME."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")


@pytest.fixture(autouse=True)
def _served_on_loopback():
    """AppTest runs the app as `make run` serves it, on 127.0.0.1: without a sign-in the
    app refuses any other address (docs/security.md)."""
    from streamlit import config

    before = config.get_option("server.address")
    config.set_option("server.address", "127.0.0.1")
    yield
    config.set_option("server.address", before)
