"""Demand forecast: units ordered per product line, a first seasonal forecast, and the
production capacity planned for the same days.

The forecast here is deliberately simple — each future day is the mean of the last
``SEASONAL_WEEKS`` same weekdays — so that the page has an honest baseline; the forecasting
models with backtests (app/analytics) replace :func:`seasonal_forecast` when they land.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from app.services.common import run_sql, to_day
from app.services.context import Context
from app.services.timerange import TimeRange

HORIZON_DAYS = 28
SEASONAL_WEEKS = 4
HISTORY_MIN_DAYS = 8 * 7  # the forecast needs whole weeks behind it
PLAN_LOOKBACK_DAYS = 60  # a day's capacity may be planned this long before it
METHOD = f"Mean of the last {SEASONAL_WEEKS} same weekdays (seasonal baseline)"

DEMAND_SQL = """
WITH plans AS (
  SELECT plan_date, line_id, arbitrary(product_line) AS product_line,
         max_by(capacity_units, time) AS capacity_units
  FROM production
  WHERE dt BETWEEN :dt_plan_from AND :dt_to AND detail_type = 'CapacityPlanned'
    AND plan_date >= CAST(:dt_from AS DATE)
  GROUP BY plan_date, line_id
)
SELECT CAST(time AS DATE) AS day, product_line, 'demand' AS measure, CAST(sum(quantity) AS DOUBLE) AS value
FROM orders
WHERE dt BETWEEN :dt_from AND :dt_to AND time >= :t_from AND time < :t_to AND detail_type = 'OrderPlaced'
GROUP BY 1, 2
UNION ALL
SELECT CAST(time AS DATE), product_line, 'output', CAST(sum(units) AS DOUBLE)
FROM production
WHERE dt BETWEEN :dt_from AND :dt_to AND time >= :t_from AND time < :t_to AND detail_type = 'BatchCompleted'
GROUP BY 1, 2
UNION ALL
SELECT plan_date, product_line, 'capacity', CAST(sum(capacity_units) AS DOUBLE)
FROM plans
GROUP BY 1, 2
"""


@dataclass(frozen=True)
class DemandOutlook:
    history: pd.DataFrame  # day, product_line, demand, output, capacity
    forecast: pd.DataFrame  # day, product_line, forecast, capacity
    shortfalls: pd.DataFrame  # product_line, day, forecast, capacity, gap
    method: str
    horizon_days: int

    @property
    def is_empty(self) -> bool:
        return self.history.empty or not self.history["demand"].any()

    @property
    def product_lines(self) -> list[str]:
        return sorted(self.history["product_line"].unique())


def history_range(rng: TimeRange) -> TimeRange:
    """The range, or the last ``HISTORY_MIN_DAYS`` days up to its end if it is shorter."""
    return rng.widened(rng.end - pd.Timedelta(days=HISTORY_MIN_DAYS))


def complete_days(rng: TimeRange) -> pd.DatetimeIndex:
    """The UTC days wholly inside the range (a day under way is not history yet)."""
    start = pd.Timestamp(rng.start).tz_convert("UTC").tz_localize(None).ceil("D")
    end = pd.Timestamp(rng.end).tz_convert("UTC").tz_localize(None).floor("D")
    return pd.date_range(start, end - pd.Timedelta(days=1), freq="D")


def demand_measures(ctx: Context, rng: TimeRange) -> pd.DataFrame:
    """day, product_line, measure (demand | output | capacity), value."""
    plan_from = (rng.start - pd.Timedelta(days=PLAN_LOOKBACK_DAYS)).date().isoformat()
    frame = run_sql(ctx, DEMAND_SQL, rng, dt_plan_from=plan_from)
    return frame.assign(day=to_day(frame["day"]), value=frame["value"].astype(float))


def seasonal_forecast(history: pd.Series, horizon: int, weeks: int = SEASONAL_WEEKS) -> pd.Series:
    """Each of the ``horizon`` days after ``history`` (a daily series) as the mean of the
    last ``weeks`` values on the same weekday."""
    last = history.index.max()
    days = pd.date_range(last + pd.Timedelta(days=1), periods=horizon, freq="D")
    recent = history[history.index > last - pd.Timedelta(days=7 * weeks)]
    by_weekday = recent.groupby(recent.index.day_of_week).mean()
    return pd.Series(days.day_of_week.map(by_weekday).to_numpy(dtype=float), index=days)


def capacity_for(planned: pd.Series, days: pd.DatetimeIndex, weeks: int = SEASONAL_WEEKS) -> pd.Series:
    """Capacity on ``days``: what is planned, else the median of the last ``weeks`` same
    weekdays that had a plan (lines plan a few days ahead; beyond that, assume the usual)."""
    planned = planned.dropna()
    if planned.empty:
        return pd.Series(np.nan, index=days)
    recent = planned[planned.index > planned.index.max() - pd.Timedelta(days=7 * weeks)]
    usual = recent.groupby(recent.index.day_of_week).median()
    fallback = pd.Series(days.day_of_week.map(usual).to_numpy(dtype=float), index=days)
    return planned.reindex(days).fillna(fallback)


def shortfalls(forecast: pd.DataFrame) -> pd.DataFrame:
    """Days where forecast demand exceeds capacity, biggest gap first."""
    short = forecast[forecast["forecast"] > forecast["capacity"]].copy()
    short["gap"] = short["forecast"] - short["capacity"]
    return short[["product_line", "day", "forecast", "capacity", "gap"]].sort_values(
        ["gap", "day", "product_line"], ascending=[False, True, True]).reset_index(drop=True)


def _line_frames(measures: pd.DataFrame, line: str, days: pd.DatetimeIndex, horizon: int):
    own = measures[measures["product_line"] == line]
    wide = own.pivot_table(index="day", columns="measure", values="value", aggfunc="sum")
    wide = wide.reindex(columns=["demand", "output", "capacity"])
    history = wide.reindex(days).fillna({"demand": 0.0, "output": 0.0})
    future = seasonal_forecast(history["demand"], horizon)
    capacity = capacity_for(wide["capacity"], future.index)
    return (history.rename_axis("day").reset_index().assign(product_line=line),
            pd.DataFrame({"day": future.index, "product_line": line, "forecast": future.to_numpy(),
                          "capacity": capacity.to_numpy()}))


def outlook(measures: pd.DataFrame, rng: TimeRange, horizon: int = HORIZON_DAYS) -> DemandOutlook:
    """History over ``rng`` (whole days), then ``horizon`` forecast days per product line."""
    days = complete_days(rng)
    lines = sorted(measures.loc[measures["measure"] == "demand", "product_line"].dropna().unique())
    if len(days) < 7:  # no whole week of history: nothing to forecast from
        lines = []
    parts = [_line_frames(measures, line, days, horizon) for line in lines]
    history = pd.concat([h for h, _ in parts], ignore_index=True) if parts else pd.DataFrame(
        columns=["day", "demand", "output", "capacity", "product_line"])
    forecast = pd.concat([f for _, f in parts], ignore_index=True) if parts else pd.DataFrame(
        columns=["day", "product_line", "forecast", "capacity"])
    return DemandOutlook(history, forecast, shortfalls(forecast), METHOD, horizon)


def demand_outlook(ctx: Context, rng: TimeRange, horizon: int = HORIZON_DAYS) -> DemandOutlook:
    wide = history_range(rng)
    return outlook(demand_measures(ctx, wide), wide, horizon)
