"""The forecast service: what the page shows of a line's forecast, in figures and in words."""

import numpy as np
import pandas as pd
import pytest

from app.analytics import forecast as fc
from app.services import forecast
from app.services.analytics_data import ForecastReport, line_outlook, outlook_summary

CAPACITY = 120.0


def production(days: pd.DatetimeIndex) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "date": days,
            "product_line": "lamps",
            "capacity_units": CAPACITY,
            "downtime_minutes": 0.0,
            "produced_units": 100.0,
        }
    )


def outlook_of(days: int, horizon: int) -> forecast.LineOutlook:
    """A line selling about 100 units on weekdays and 130 at weekends, against 120 of capacity."""
    rng = np.random.default_rng(1)
    dates = pd.date_range("2026-01-05", periods=days, freq="D")
    units = pd.Series(rng.poisson(100 * (1 + 0.3 * (dates.day_of_week >= 5))), index=dates, dtype=float)
    return line_outlook(fc.forecast_line("lamps", units, horizon=horizon), production(dates))


@pytest.fixture(scope="module")
def backtested() -> forecast.LineOutlook:
    return outlook_of(200, 7)  # a backtest needs 56 + 14 + 28 + 2·7 − 1 = 111 days at least


@pytest.fixture(scope="module")
def too_short() -> forecast.LineOutlook:
    return outlook_of(60, 28)


def test_a_backtested_line_in_words(backtested):
    chosen = backtested.forecast.metrics
    said = forecast.sentences("lamps", backtested, 7)
    assert forecast.missing_days(backtested) == 0
    words = forecast.model_words(backtested.forecast.model)
    assert said[0] == f"Chosen model: {words}, the most accurate on the backtest."
    assert said[1].startswith(f"MASE {chosen['mase']:.2f}: ") and "1–7 days ahead" in said[1]
    assert said[2].startswith("Typical miss:") and said[3].startswith("The 80% range held")
    assert said[4].startswith("lamps: ") and "of the next 7 days" in said[4]


def test_a_short_history_says_how_many_more_days_it_needs(too_short):
    said = forecast.sentences("lamps", too_short, 28)
    assert forecast.missing_days(too_short) == 153 - 60
    assert said[0].startswith(
        "Needs 93 more days of history for a backtest (153 days for a 28-day horizon; there are 60)"
    )
    assert said[1].startswith("lamps: ")
    assert forecast.backtest_table(too_short, 28).empty


@pytest.mark.parametrize(
    ("model", "words"),
    [
        pytest.param("ets", "exponential smoothing (Holt-Winters)", id="one"),
        pytest.param(
            "ets+sarimax",
            "the mean of exponential smoothing (Holt-Winters) and a regression on weekdays, "
            "holidays and campaigns with ARIMA errors",
            id="combined",
        ),
        pytest.param("prophet", "prophet", id="unknown"),
    ],
)
def test_model_words(model, words):
    assert forecast.model_words(model) == words


@pytest.mark.parametrize(
    ("horizon", "columns"),
    [
        pytest.param(
            7, ["model", "chosen", "mase", "wape", "smape", "coverage_80", "coverage_95"], id="a-week"
        ),
        pytest.param(
            28,
            ["model", "chosen", "mase", "wape", "smape", "coverage_80", "coverage_95", "mase_all"],
            id="four-weeks",
        ),
    ],
)
def test_backtest_table_puts_the_chosen_model_first(backtested, horizon, columns):
    table = forecast.backtest_table(backtested, horizon)
    assert list(table.columns) == columns
    assert len(table) == 4 and table["chosen"].tolist() == [True, False, False, False]
    assert table["model"].iloc[0] == forecast.MODEL_NAMES[backtested.forecast.model]
    assert table["mase"].iloc[1:].is_monotonic_increasing
    assert table["wape"].between(0, 100).all() and table["coverage_80"].between(0, 100).all()


def test_summary_names_each_lines_model_and_counts_its_flagged_days(backtested, too_short):
    lines = {"chairs": too_short, "lamps": backtested}
    report = ForecastReport(lines, outlook_summary(lines), 7)
    summary = forecast.summary(report).set_index("product_line")
    assert summary.loc["chairs", "model"] == "Repeat last week (no backtest)"
    assert summary.loc["lamps", "model"] == forecast.MODEL_NAMES[backtested.forecast.model]
    assert summary.loc["lamps", "short_days"] == backtested.daily["short"].sum()
    assert summary.loc["lamps", "at_risk_days"] == backtested.daily["at_risk"].sum()
    assert np.isnan(summary.loc["chairs", "mase"])
    assert forecast.product_lines(report) == ["chairs", "lamps"] and forecast.history_days(report) == 200


def test_line_view_per_day(backtested):
    shown = forecast.line_view(backtested, 7)
    assert shown.unit == "day" and len(shown.history) == 42 and len(shown.forecast) == 7
    assert shown.history["date"].iloc[-1] + pd.Timedelta(days=1) == shown.forecast["date"].iloc[0]
    assert shown.history["capacity"].eq(CAPACITY).all()
    assert {"low_80", "high_80", "low_95", "high_95", "capacity"} <= set(shown.forecast.columns)


def test_line_view_per_week_lines_up_with_the_forecast(backtested):
    shown = forecast.line_view(backtested, 7, weekly=True)
    assert shown.unit == "week" and len(shown.forecast) == 1
    assert (shown.forecast["date"].iloc[0] - shown.history["date"].iloc[-1]).days == 7
    assert shown.history["units"].iloc[-1] == backtested.forecast.history["units"].tail(7).sum()
    assert shown.history["capacity"].eq(7 * CAPACITY).all()


def test_weekly_ranges_need_a_backtest(too_short):
    assert forecast.line_view(too_short, 28, weekly=True) is None


@pytest.mark.parametrize(
    ("horizon", "days"),
    [
        pytest.param(7, 42, id="a-week-six-weeks-back"),
        pytest.param(14, 49, id="two-weeks"),
        pytest.param(28, 91, id="four-weeks-thirteen-back"),
    ],
)
def test_shown_history_days(horizon, days):
    assert forecast.shown_history_days(horizon) == days


def test_weekly_totals_keep_whole_blocks_ending_on_the_last_day():
    history = pd.DataFrame({"date": pd.date_range("2026-01-01", periods=16), "units": 1.0, "capacity": 2.0})
    history.loc[15, "capacity"] = np.nan
    weeks = forecast.weekly_totals(history)
    assert weeks["date"].dt.strftime("%m-%d").tolist() == ["01-03", "01-10"]
    assert weeks["units"].tolist() == [7.0, 7.0]
    assert weeks["capacity"].iloc[0] == 14.0 and np.isnan(weeks["capacity"].iloc[1])  # a day without a plan


def test_shortfall_rows_say_short_or_at_risk():
    ahead = pd.DataFrame(
        {
            "date": pd.date_range("2026-12-01", periods=3),
            "forecast": [90.0, 130.0, 110.0],
            "high_80": [100.0, 150.0, 125.0],
            "capacity": 120.0,
            "short": [False, True, False],
            "at_risk": [False, True, True],
        }
    )
    rows = forecast.shortfall_rows(ahead)
    assert rows["status"].tolist() == ["short", "at risk"]
    assert rows["short_by"].tolist() == [10.0, 0.0] and rows["short_by_at_80"].tolist() == [30.0, 5.0]
