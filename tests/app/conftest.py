"""AppTest fixtures: the app pointed at a lake through VERTICALS_LAKE."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Each test starts without cached results, so it sees its own lake's data."""
    st.cache_data.clear()
    yield
    st.cache_data.clear()


@pytest.fixture
def on_seeded_lake(seeded_lake: Path, monkeypatch) -> Path:
    monkeypatch.setenv("VERTICALS_LAKE", str(seeded_lake))
    return seeded_lake


@pytest.fixture
def on_empty_lake(tmp_path: Path, monkeypatch) -> Path:
    lake = tmp_path / "lake"
    lake.mkdir()
    monkeypatch.setenv("VERTICALS_LAKE", str(lake))
    return lake
