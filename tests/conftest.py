"""Shared fixtures. The seeded lake is built once per test run and shared by the xdist
workers (a file lock guards the build). Every test runs with the clock at tests/instant.py's
NOW (VERTICALS_NOW set for the app as well), and the seeded lake ends on NOW's date."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import pytest

from tests.instant import ISO, TODAY

SMALL_LAKE = {"days": 60, "events_per_day": 3_000, "seed": 11}


def _build_once(root: Path) -> Path:
    from app.demo.seed import seed_lake

    lake = root / "lake"
    marker = root / "seeded.json"
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not marker.exists():
            # Session fixtures start before the autouse clock below: seed at NOW explicitly,
            # so the history is cut at NOW and only days closed by then are rolled up.
            with pytest.MonkeyPatch.context() as patch:
                patch.setenv("VERTICALS_NOW", ISO)
                seed_lake(lake, end=TODAY, **SMALL_LAKE)
            marker.write_text(json.dumps({**SMALL_LAKE, "end": TODAY.isoformat()}))
    return lake


def pytest_configure(config):
    """The app's clock for the whole run, session and module fixtures included (they start
    before any function's autouse fixture): the same instant as tests/instant.py's NOW."""
    os.environ["VERTICALS_NOW"] = ISO


def pytest_collection_modifyitems(items):
    """A test on the seeded lake depends on the date: the lake's window ends on NOW's date."""
    for item in items:
        if "seeded_lake" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.dated)


@pytest.fixture(scope="session")
def seeded_lake(tmp_path_factory) -> Path:
    """A small lake (60 days × 3,000 events/day, seed 11) ending on NOW's date, shared read-only."""
    base = tmp_path_factory.getbasetemp()
    # Under xdist each worker has its own basetemp below the run's folder: share that one.
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    return _build_once(shared / "verticals-seeded")


@pytest.fixture(autouse=True)
def _clock(monkeypatch):
    """The app's clock (app/clock.py) reads the tests' NOW."""
    monkeypatch.setenv("VERTICALS_NOW", ISO)


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
