"""A saved query that ran but gave no result (stopped, cancelled, cut off) shows what it
scanned and cost; one refused before it was sent shows no cost."""

from __future__ import annotations

import pytest

from app.engines.base import QueryError
from app.services import saved_queries
from tests.app.apptest import open_page

pytestmark = pytest.mark.usefixtures("on_seeded_lake")


def run_failing(monkeypatch, error: QueryError):
    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(saved_queries, "run_saved_query", fail)
    at = open_page("saved_queries")
    at.selectbox(key="sq_name").set_value("event_rate_by_source").run()
    return at.button(key="sq_run").click().run()


def test_a_stopped_query_shows_its_cost(monkeypatch):
    stopped = QueryError(
        "The query ran longer than 120 s and was stopped (Athena query q-1)"
        " (scanned 300.0 MB, billed $0.001431).",
        query_id="q-1",
        bytes_scanned=300 * 1024**2,
        cost_usd=300 * 5 / 1024**2,
    )
    at = run_failing(monkeypatch, stopped)
    assert not at.exception
    assert any("was stopped" in e.value and "billed" in e.value and "0.001431" in e.value for e in at.error)
    assert {m.label: m.value for m in at.metric}["Data scanned"] == "300.0 MB"
    assert any(c.value.endswith("0.001431 for this query") for c in at.main.caption)
    assert not at.dataframe


def test_a_query_refused_before_it_ran_shows_no_cost(monkeypatch):
    at = run_failing(monkeypatch, QueryError("unknown table 'x'"))
    assert any("Unknown table" in e.value for e in at.error)
    assert "Data scanned" not in {m.label for m in at.metric}
