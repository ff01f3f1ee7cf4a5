"""Campaigns and Demand forecast on a lake long enough for every analysis (200 days, seed 5):
the backtest, its words, the weekly view, and the campaign notes a short lake cannot show."""

from __future__ import annotations

import pytest

from tests.app.apptest import open_page
from tests.app.page_content import assert_clean, charts, table_with, values
from tests.services.long_lake import END, long_lake

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("long-lake")]

RANGE = {"from": "2026-05-01", "to": END.isoformat()}


@pytest.fixture(autouse=True)
def on_long_lake(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("VERTICALS_LAKE", str(long_lake(tmp_path_factory)))


def bullets(at) -> list[str]:
    return [m.value[2:] for m in at.markdown if m.value.startswith("- ")]


def test_the_forecast_shows_its_backtest_in_figures_and_words():
    at = open_page("demand_forecast", RANGE)
    assert_clean(at)
    summary = table_with(at, "product_line", "short_days")
    shortfalls = table_with(at, "status", "short_by")
    backtest = table_with(at, "chosen", "wape")
    assert "no backtest" not in " ".join(summary["model"])
    assert summary["mase"].notna().all() and summary["coverage_80"].between(0, 100).all()
    assert len(backtest) == 4 and backtest["chosen"].tolist() == [True, False, False, False]
    said = bullets(at)
    assert said[0].startswith("Chosen model: ") and said[0].endswith("the most accurate on the backtest.")
    assert (
        said[1].startswith(f"MASE {backtest['mase'].iloc[0]:.2f}: ") and "than repeating last week" in said[1]
    )
    assert said[2].startswith("Typical miss: ") and said[3].startswith(
        "The 80% range held the actual demand on "
    )
    assert (shortfalls["status"].isin(["short", "at risk"])).all()


def test_the_weekly_view_has_ranges_and_capacity():
    at = open_page("demand_forecast", RANGE)
    at.toggle(key="forecast_weekly").set_value(True).run()
    assert_clean(at)
    figure = charts(at)["forecast_chart"]
    assert figure["layout"]["title"]["text"] == "chairs: units per week"
    traces = {t["name"]: t for t in figure["data"]}
    assert len(values(traces["forecast"])) == 4 + 1 and len(values(traces["80% range"])) == 4
    assert len(values(traces["units ordered"])) == 13  # 13 whole weeks of history
    assert values(traces["planned capacity"]).min() > 0


def test_campaign_notes_are_shown_and_explained():
    at = open_page("campaigns", RANGE)
    assert_clean(at)
    table = table_with(at, "campaign_id", "lift")
    assert len(table) == 12
    notes = {badge for badges in table["notes"] for badge in badges}
    assert {"overlap", "no significant effect", "too early"} <= notes
    legend = next(c.value for c in at.main.caption if c.value.startswith("**"))
    assert all(f"**{badge}**" in legend for badge in notes)
    not_significant = table[table["notes"].map(lambda n: "no significant effect" in n)]
    assert not_significant["lag_days"].isna().all()  # no lag without an effect
