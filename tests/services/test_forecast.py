from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest

from app.services import forecast
from app.services.timerange import TimeRange, custom_range


def daily(values, start="2026-11-02") -> pd.Series:  # 2026-11-02 is a Monday
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq="D"), dtype=float)


def test_seasonal_forecast_repeats_the_weekday_means():
    history = daily([10, 20, 30, 40, 50, 60, 70] * 3 + [17, 27, 37, 47, 57, 67, 77])
    ahead = forecast.seasonal_forecast(history, 9, weeks=2)
    assert ahead.index[0] == pd.Timestamp("2026-11-30")
    assert ahead.tolist() == [13.5, 23.5, 33.5, 43.5, 53.5, 63.5, 73.5, 13.5, 23.5]


def test_capacity_uses_the_plan_then_the_usual_weekday():
    planned = daily([100, 100, 100, 100, 100, 50, 0] * 4)
    days = pd.date_range("2026-11-29", periods=4, freq="D")  # Sunday .. Wednesday
    planned.loc[pd.Timestamp("2026-11-29")] = 80  # the last day has its own plan
    assert forecast.capacity_for(planned, days).tolist() == [80, 100, 100, 100]


def test_capacity_without_any_plan_is_unknown():
    days = pd.date_range("2026-11-29", periods=2, freq="D")
    assert forecast.capacity_for(pd.Series(dtype=float), days).isna().all()


def test_shortfalls_biggest_gap_first():
    ahead = pd.DataFrame({"product_line": ["desks", "desks", "sofas"],
                          "day": pd.to_datetime(["2026-12-01", "2026-12-02", "2026-12-01"]),
                          "forecast": [90.0, 135.0, 40.0], "capacity": [100.0, 100.0, 10.0]})
    short = forecast.shortfalls(ahead)
    assert short[["product_line", "gap"]].values.tolist() == [["desks", 35.0], ["sofas", 30.0]]
    assert short["day"].dt.strftime("%m-%d").tolist() == ["12-02", "12-01"]


def test_complete_days_leave_out_a_day_under_way():
    rng = TimeRange(datetime(2026, 11, 2, 9, tzinfo=UTC), datetime(2026, 11, 9, 9, tzinfo=UTC), "7d", "x")
    days = forecast.complete_days(rng)
    assert (days[0], days[-1], len(days)) == (pd.Timestamp("2026-11-03"), pd.Timestamp("2026-11-08"), 6)


def measures(days: int) -> pd.DataFrame:
    day = pd.date_range("2026-10-05", periods=days, freq="D")
    demand = pd.DataFrame({"day": day, "product_line": "lamps", "measure": "demand",
                           "value": np.where(day.day_of_week >= 5, 150.0, 100.0)})
    capacity = pd.DataFrame({"day": day, "product_line": "lamps", "measure": "capacity", "value": 120.0})
    return pd.concat([demand, capacity], ignore_index=True)


def test_outlook_flags_the_weekends_the_line_cannot_meet():
    rng = custom_range(date(2026, 10, 5), date(2026, 11, 29))  # 8 whole weeks
    result = forecast.outlook(measures(56), rng, horizon=14)
    assert result.product_lines == ["lamps"] and not result.is_empty
    assert len(result.forecast) == 14 and result.forecast["capacity"].eq(120.0).all()
    assert result.shortfalls["day"].dt.day_of_week.isin([5, 6]).all()
    assert len(result.shortfalls) == 4 and result.shortfalls["gap"].eq(30.0).all()


def test_outlook_needs_a_week_of_history():
    rng = custom_range(date(2026, 10, 5), date(2026, 10, 9))
    assert forecast.outlook(measures(5), rng).is_empty


@pytest.mark.parametrize(("range_days", "history_days"), [
    pytest.param(7, 56, id="short-range-widened"),
    pytest.param(90, 90, id="long-range-kept"),
])
def test_history_range(range_days, history_days):
    end = datetime(2026, 11, 30, tzinfo=UTC)
    rng = TimeRange(end - pd.Timedelta(days=range_days), end, "x", "x")
    assert forecast.history_range(rng).duration.days == history_days
