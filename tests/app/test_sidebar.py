"""The shared sidebar: the time range lives in the URL, settings errors are one sentence."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from app.services.timerange import NOW_STEP, ceil_to
from tests.app.apptest import open_app
from tests.instant import NOW, TODAY

pytestmark = pytest.mark.usefixtures("on_empty_lake")


def range_box(at):
    return at.sidebar.selectbox(key="range_preset")


@pytest.mark.parametrize(
    ("query", "preset"),
    [
        pytest.param({}, "30d", id="no-range-default"),
        pytest.param({"range": "24h"}, "24h", id="24h"),
        pytest.param({"range": "365d"}, "365d", id="365d"),
        pytest.param({"from": "2026-10-01", "to": "2026-10-31"}, "custom", id="custom-days"),
    ],
)
def test_the_url_sets_the_range(query, preset):
    at = open_app(query)
    assert range_box(at).value == preset
    assert {k: at.query_params[k] for k in ("range", "from", "to") if k in at.query_params} == (
        query or {"range": "30d"}
    )


def test_custom_days_show_in_the_picker():
    at = open_app({"from": "2026-10-01", "to": "2026-10-31"})
    days = at.sidebar.date_input(key="range_days").value
    assert [d.isoformat() for d in days] == ["2026-10-01", "2026-10-31"]
    assert "01 Oct 2026 00:00 → 01 Nov 2026 00:00" in at.sidebar.caption[0].value


def test_choosing_a_preset_writes_the_url():
    at = open_app({"range": "7d"})
    range_box(at).set_value("90d").run()
    assert at.query_params.get("range") == "90d"
    assert "from" not in at.query_params


def test_choosing_custom_dates_writes_from_and_to():
    at = open_app({"range": "7d"})
    range_box(at).set_value("custom").run()
    assert set(at.query_params) >= {"from", "to"} and "range" not in at.query_params
    at.sidebar.date_input(key="range_days").set_value((date(2026, 9, 1), date(2026, 9, 15))).run()
    assert (at.query_params["from"], at.query_params["to"]) == ("2026-09-01", "2026-09-15")


@pytest.mark.parametrize(
    "query",
    [
        pytest.param({"range": "fortnight"}, id="unknown-preset"),
        pytest.param({"from": "yesterday", "to": "2026-10-31"}, id="bad-date"),
    ],
)
def test_a_bad_link_falls_back_with_a_warning(query):
    at = open_app(query)
    assert range_box(at).value == "30d"
    assert at.sidebar.warning and "showing last 30 days" in at.sidebar.warning[0].value
    assert not at.exception


def test_backend_badge_names_the_lake(on_empty_lake):
    at = open_app()
    assert any(str(on_empty_lake) in caption.value for caption in at.sidebar.caption)


def test_an_invalid_setting_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("VERTICALS_CACHE_TTL", "soon")
    at = open_app()
    assert not at.exception
    assert len(at.error) == 1 and "VERTICALS_CACHE_TTL" in at.error[0].value
    assert not at.metric


def test_the_aws_backend_without_a_stack_says_what_to_do(monkeypatch):
    monkeypatch.setenv("VERTICALS_BACKEND", "aws")
    at = open_app()
    assert not at.exception
    assert len(at.error) == 1 and "VERTICALS_STACK" in at.error[0].value
    assert not at.metric


@pytest.mark.dated
def test_days_picked_up_to_today_end_at_now():
    at = open_app({"from": (TODAY - timedelta(days=6)).isoformat(), "to": TODAY.isoformat()})
    caption = at.sidebar.caption[0].value
    end = ceil_to(NOW, NOW_STEP)
    assert caption.endswith(f"→ {end:%d %b %Y %H:%M} (UTC)"), caption
    assert (at.query_params["from"], at.query_params["to"]) == (
        (TODAY - timedelta(days=6)).isoformat(),
        TODAY.isoformat(),
    )
    days = at.sidebar.date_input(key="range_days").value
    assert [d.isoformat() for d in days] == [(TODAY - timedelta(days=6)).isoformat(), TODAY.isoformat()]
