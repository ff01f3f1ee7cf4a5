"""The Demand forecast page on the small seeded lake (60 days, seed 11): too short for a
backtest, so every line repeats last week with normal ranges, and the page says how many more
days a backtest needs; the capacity and its shortfalls are all there."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from app.analytics.forecast import BacktestDesign, shrink_to
from tests.app.apptest import open_page
from tests.app.page_content import assert_clean, charts, optional_table_with, table_with, values

pytestmark = pytest.mark.usefixtures("on_seeded_lake")

WHOLE_LAKE = {"range": "90d"}
LINES = ["chairs", "desks", "lamps", "shelves", "sofas"]
NEEDS = re.compile(
    r"Needs (\d+) more days of history for a backtest \((\d+) days for a (\d+)-day horizon; "
    r"there are (\d+)\)"
)


def bullets(at) -> list[str]:
    return [m.value[2:] for m in at.markdown if m.value.startswith("- ")]


def required_days(horizon: int, days: int) -> int:
    return shrink_to(days, BacktestDesign(horizon=horizon)).required_days


def test_every_line_is_forecast_against_capacity_and_says_what_a_backtest_needs():
    at = open_page("demand_forecast", WHOLE_LAKE)
    assert_clean(at)
    summary = table_with(at, "product_line", "short_days")
    assert summary["product_line"].tolist() == LINES
    assert (summary["model"] == "Repeat last week (no backtest)").all()
    assert (
        summary["short_days"].between(0, 28).all()
        and (summary["at_risk_days"] >= summary["short_days"]).all()
    )
    missing, required, horizon, history = (int(x) for x in NEEDS.match(bullets(at)[0]).groups())
    assert (horizon, required, missing) == (28, required_days(28, history), required - history)
    assert 50 <= history <= 60  # the seeded lake's whole days
    assert any(f"it needs {missing} more days of history" in i.value for i in at.info)


def test_the_chart_shows_history_ranges_and_capacity():
    at = open_page("demand_forecast", WHOLE_LAKE)
    figure = charts(at)["forecast_chart"]
    traces = {t["name"]: t for t in figure["data"]}
    assert {
        "95% range",
        "80% range",
        "units ordered",
        "forecast",
        "planned capacity",
        "short",
        "at risk",
    } <= set(traces)
    filled = {t["name"] for t in figure["data"] if t.get("fill") == "tonexty"}
    assert filled == {"95% range", "80% range"}
    assert len(values(traces["forecast"])) == 28 + 1  # joined to the last day seen
    capacity = values(traces["planned capacity"])
    assert np.isfinite(capacity).sum() >= 28 and (capacity[np.isfinite(capacity)] > 0).all()
    assert figure["layout"]["title"]["text"] == "chairs: units per day"
    assert len(values(traces["units ordered"])) >= 50


def test_the_shortfall_table_matches_the_counts():
    at = open_page("demand_forecast", WHOLE_LAKE)
    summary = table_with(at, "product_line", "short_days").set_index("product_line")
    rows = optional_table_with(at, "status", "short_by")
    rows = pd.DataFrame(columns=["status", "high_80", "capacity"]) if rows is None else rows
    assert (rows["status"] == "short").sum() == summary.loc["chairs", "short_days"]
    assert len(rows) == summary.loc["chairs", "at_risk_days"]
    assert (rows["high_80"] > rows["capacity"]).all()
    sentence = bullets(at)[-1]
    assert sentence.startswith("chairs: ") and "of the next 28 days" in sentence


def test_a_shorter_horizon_and_another_line():
    at = open_page("demand_forecast", WHOLE_LAKE)
    at.segmented_control(key="forecast_horizon").set_value(7).run()
    at.segmented_control(key="forecast_line").set_value("sofas").run()
    assert_clean(at)
    figure = charts(at)["forecast_chart"]
    assert figure["layout"]["title"]["text"] == "sofas: units per day"
    forecast = next(t for t in figure["data"] if t["name"] == "forecast")
    assert len(values(forecast)) == 7 + 1
    _missing, required, horizon, history = (int(x) for x in NEEDS.match(bullets(at)[0]).groups())
    assert (horizon, required) == (7, required_days(7, history))
    assert "of the next 7 days" in bullets(at)[-1]


def test_weekly_totals_need_a_backtest():
    at = open_page("demand_forecast", WHOLE_LAKE)
    at.toggle(key="forecast_weekly").set_value(True).run()
    assert_clean(at)
    assert any("Weekly ranges come from the backtest" in i.value for i in at.info)
    assert charts(at)["forecast_chart"]["layout"]["title"]["text"] == "chairs: units per day"
