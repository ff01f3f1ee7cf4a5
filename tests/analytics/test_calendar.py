"""The retail calendar's dates (its effects are estimated, never given)."""

from __future__ import annotations

import pandas as pd
import pytest

from app.analytics.calendar import holiday_regressors, retail_days


@pytest.mark.parametrize(
    "name, day",
    [
        pytest.param("Thanksgiving", "2026-11-26", id="thanksgiving-4th-thursday"),
        pytest.param("Black Friday", "2026-11-27", id="black-friday"),
        pytest.param("Cyber Monday", "2026-11-30", id="cyber-monday"),
        pytest.param("Memorial Day", "2026-05-25", id="memorial-last-monday"),
        pytest.param("Presidents' Day", "2026-02-16", id="presidents-3rd-monday"),
        pytest.param("Labor Day", "2026-09-07", id="labor-1st-monday"),
        pytest.param("Independence Day", "2026-07-04", id="not-the-observed-friday"),
    ],
)
def test_retail_days(name, day):
    days = retail_days("2026-01-01", "2026-12-31")
    assert days.loc[days["name"] == name, "date"].tolist() == [pd.Timestamp(day)]


def test_only_days_seen_in_the_history_become_regressors():
    dates = pd.date_range("2026-06-01", "2026-12-31")
    frame = holiday_regressors(dates, seen=pd.date_range("2026-06-01", "2026-09-30"))
    assert list(frame.columns) == ["Independence Day", "Labor Day"]
    assert frame["Labor Day"].sum() == 1 and frame.loc["2026-09-07", "Labor Day"] == 1
