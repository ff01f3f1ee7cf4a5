"""Capacity from production events, and the days and weeks the forecast outruns it."""

from __future__ import annotations

import pandas as pd
import pytest

from app.analytics import capacity as cap
from app.analytics import narrative


def production(rows):
    return pd.DataFrame(rows, columns=["date", "product_line", "capacity_units", "downtime_minutes"])


@pytest.mark.parametrize(
    "planned, downtime, expected",
    [
        pytest.param(900, 0.0, 900.0, id="no-downtime"),
        pytest.param(900, 144.0, 810.0, id="a-tenth-of-the-day-down"),
        pytest.param(900, 2000.0, 0.0, id="more-downtime-than-a-day"),
        pytest.param(900, None, 900.0, id="no-downtime-events"),
    ],
)
def test_effective_capacity_loses_the_share_of_the_day_the_line_stood(planned, downtime, expected):
    frame = cap.effective_capacity(production([("2026-01-05", "chairs", planned, downtime)]))
    assert frame["capacity"].iloc[0] == pytest.approx(expected)


def test_capacity_ahead_is_the_last_plan_less_the_usual_downtime():
    rows = [
        (f"2026-01-{d:02d}", "chairs", 1000 if d < 20 else 1200, 144.0 if d % 2 else 0.0)
        for d in range(1, 29)
    ]
    history = cap.effective_capacity(production(rows))
    ahead = cap.capacity_ahead(history, pd.date_range("2026-01-29", periods=3))
    assert ahead["capacity"].tolist() == pytest.approx([1200 * (1 - 0.05)] * 3)


def test_shortfalls_flag_the_forecast_and_its_upper_bound_separately():
    dates = pd.date_range("2026-02-01", periods=14)
    forecast = pd.DataFrame(
        {"date": dates, "forecast": [90.0] * 7 + [110.0] * 7, "high_80": [105.0] * 7 + [130.0] * 7}
    )
    daily = cap.shortfalls(forecast, pd.DataFrame({"date": dates, "capacity": 100.0}))
    assert daily["short"].tolist() == [False] * 7 + [True] * 7
    assert daily["at_risk"].tolist() == [True] * 14
    assert daily["gap_units"].tolist() == [0.0] * 7 + [10.0] * 7
    weekly = pd.DataFrame({"week_start": dates[::7], "forecast": [630.0, 770.0], "high_80": [660.0, 820.0]})
    weeks = cap.weekly_shortfalls(weekly, daily)
    assert weeks["capacity"].tolist() == [700.0, 700.0]
    assert weeks["short"].tolist() == [False, True] and weeks["at_risk"].tolist() == [False, True]
    assert weeks["short_days"].tolist() == [0, 7] and weeks["at_risk_days"].tolist() == [7, 7]


def test_a_line_without_any_plan_is_short_not_covered():
    """A product line the capacity plans do not name: capacity_ahead has nothing (NaN), and
    ``forecast > NaN`` is False, so every day read as covered."""
    dates = pd.date_range("2026-02-01", periods=7)
    ahead = cap.capacity_ahead(pd.DataFrame(columns=["date", "capacity_units", "downtime_share"]), dates)
    forecast = pd.DataFrame({"date": dates, "forecast": [5.0] * 6 + [0.0], "high_80": [8.0] * 7})
    daily = cap.shortfalls(forecast, ahead)
    assert not daily["planned"].any() and daily["capacity"].tolist() == [0.0] * 7
    assert daily["short"].tolist() == [True] * 6 + [False] and daily["at_risk"].all()
    assert narrative.shortfall_sentence("lamps", 6, 7, 7, planned=False) == (
        "lamps: no production capacity is planned for it, so its demand is short on 6 of the next 7 days."
    )
