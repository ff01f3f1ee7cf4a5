"""The ``bus`` fixture of the EventBridge API tests: ``bus serve`` on a free port, or real
EventBridge when ``VERTICALS_EVENTS_TARGET=aws`` (tests/bus/events_target.py,
docs/testing.md). A test file gets it by naming ``bus``; ``bus.client()`` is its boto3 client."""

from __future__ import annotations

import pytest

from tests.bus.events_target import events_endpoint, events_target


def pytest_configure(config):
    events_target()  # a misspelt VERTICALS_EVENTS_TARGET stops the run before any test


@pytest.fixture(scope="module")
def bus(tmp_path_factory):
    """One endpoint per test module: a ``BusProcess`` (its definition's bus is ``test-bus``)
    or an ``AwsEventBridge`` (a custom bus ``test-bus`` under the run's prefix)."""
    with events_endpoint(tmp_path_factory.mktemp("api")) as endpoint:
        yield endpoint
