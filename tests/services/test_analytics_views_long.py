"""The campaigns and forecast services on a lake long enough for every analysis (200 days):
what the pages draw agrees with the estimates they rank."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from app.analytics import campaigns as lift
from app.services import campaigns, forecast
from app.services.analytics_data import campaign_report
from app.services.context import build_local_context
from app.services.timerange import custom_range
from app.settings import load_settings
from tests.services.long_lake import END, long_lake

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("long-lake")]

RANGE = custom_range(date(2026, 5, 1), END)  # the lake starts on 5 May: every campaign


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    return build_local_context(load_settings({"VERTICALS_LAKE": str(long_lake(tmp_path_factory))}))


@pytest.fixture(scope="module")
def window(ctx):
    return campaigns.analysis_window(ctx, RANGE)


@pytest.fixture(scope="module")
def analysis(ctx, window):
    return campaigns.campaign_analysis(ctx, window.first, window.last)


def test_the_window_ends_on_the_lakes_last_day(window):
    assert (window.last, window.shown_first, window.days) == (END, date(2026, 5, 1), 365)


def test_the_reports_single_fit_draws_what_a_fresh_fit_draws(ctx, window):
    report = campaign_report(ctx.engine, window.first, window.last)
    assert report.fitted is not None
    estimated = report.effects.loc[report.effects["lift"].notna(), "campaign_id"]
    for campaign_id in estimated.iloc[:3]:
        refitted = lift.counterfactual(report.orders, report.campaigns, campaign_id, report.settings)
        pd.testing.assert_frame_equal(report.counterfactual(campaign_id), refitted)
    assert report.counterfactual("no-such-campaign").empty


def test_each_counterfactual_agrees_with_the_lift_in_the_table(analysis, window):
    table = campaigns.ranked(analysis, window)
    estimated = table[table["lift"].notna()]
    assert len(estimated) >= 8 and set(estimated["campaign_id"]) == set(analysis.counterfactuals)
    for row in estimated.itertuples():
        frame = analysis.counterfactuals[row.campaign_id]
        acting = frame[frame["in_effect"]]
        # On the effect days, log(actual / counterfactual) averages to the fitted effect
        # (the residuals are orthogonal to the campaign's dummy): the chart shows the table's lift.
        ratio = np.exp(np.log(acting["actual"] / acting["counterfactual"]).mean()) - 1
        assert ratio * 100 == pytest.approx(row.lift, abs=1e-6), row.campaign_id
        assert (frame["low"] < frame["counterfactual"]).all() and (
            frame["counterfactual"] < frame["high"]
        ).all()
        orders = analysis.daily[analysis.daily["region"] == row.name.rsplit(", ", 1)[-1]].set_index("date")[
            "orders"
        ]
        assert frame.set_index("date")["actual"].round().eq(orders.reindex(frame["date"]).to_numpy()).all()


def test_the_flags_a_long_history_shows(analysis, window):
    notes = {badge for badges in campaigns.ranked(analysis, window)["notes"] for badge in badges}
    assert {"overlap", "no significant effect", "too early"} <= notes


@pytest.fixture(scope="module")
def report(ctx):
    window = forecast.forecast_window(ctx, RANGE)
    return forecast.forecast_outlook(ctx, window.first, window.last, 28)


def test_every_line_is_backtested_and_said_in_words(report):
    assert forecast.product_lines(report) == ["chairs", "desks", "lamps", "shelves", "sofas"]
    assert forecast.history_days(report) == 200
    for line, outlook in report.lines.items():
        said = forecast.sentences(line, outlook, 28)
        mase = outlook.forecast.metrics["mase"]
        assert said[1].startswith(f"MASE {mase:.2f}: ") and "repeating last week" in said[1]
        table = forecast.backtest_table(outlook, 28)
        assert len(table) == 4 and table["chosen"].sum() == 1
        assert table.loc[table["chosen"], "mase"].iloc[0] == pytest.approx(mase)


def test_the_weekly_view_lines_up_with_the_daily_forecast(report):
    outlook = report.lines["lamps"]
    weekly = forecast.line_view(outlook, 28, weekly=True)
    daily = forecast.line_view(outlook, 28)
    assert len(weekly.forecast) == 4 and weekly.forecast["date"].iloc[0] == daily.forecast["date"].iloc[0]
    assert weekly.forecast["forecast"].sum() == pytest.approx(daily.forecast["forecast"].sum())
    assert (weekly.forecast["date"].iloc[0] - weekly.history["date"].iloc[-1]).days == 7
