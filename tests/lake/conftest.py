"""Fixtures for the lake tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def duckdb_extensions(tmp_path_factory):
    """DuckDB must never create ~/.duckdb in tests (STACK-NOTES)."""
    return tmp_path_factory.mktemp("duckdb-extensions")
