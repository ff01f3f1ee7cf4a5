from __future__ import annotations

import pytest

from app.metrics.base import empty_frame
from app.services.context import Context
from app.settings import load_settings


class NoEngine:
    name = "none"

    def run(self, sql, params=None):
        raise AssertionError("this test must not query the lake")

    def tables(self):
        return []


class NoMetrics:
    def get(self, metrics, start, end, period_s, bus=None):
        return empty_frame()


@pytest.fixture
def settings_ctx():
    """A context around the given dead-letter source (no engine, no metrics)."""

    def build(dead_letters) -> Context:
        return Context(load_settings({}), NoEngine(), NoMetrics(), dead_letters, "local", "test", ())

    return build
