"""Fixtures for the engine tests: the hand-written lake and a DuckDB engine over it."""

from __future__ import annotations

import pytest

from app.engines.duckdb_engine import DuckDBEngine
from tests.fixtures_lake import write_fixture_lake


@pytest.fixture(scope="session")
def fixture_lake(tmp_path_factory):
    return write_fixture_lake(tmp_path_factory.mktemp("fixture-lake"))


@pytest.fixture(scope="session")
def duckdb_extensions(tmp_path_factory):
    """DuckDB must never create ~/.duckdb in tests (STACK-NOTES)."""
    return tmp_path_factory.mktemp("duckdb-extensions")


@pytest.fixture(scope="session")
def engine(fixture_lake, duckdb_extensions):
    engine = DuckDBEngine(fixture_lake, extension_directory=duckdb_extensions)
    yield engine
    engine.close()
