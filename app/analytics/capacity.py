"""Production capacity per line and day, and the days and weeks demand outruns it.

A line plans ``capacity_units`` each morning (CapacityPlanned) for three 8-hour shifts;
a machine stop (MachineDowntime) costs the share of the day it lasts, so the capacity a
day really had is ``capacity_units · (1 − downtime minutes / 1440)``. Days ahead have no
plan yet: they get the line's latest planned capacity, less the mean downtime share of the
last ``lookback`` days.

Frames:
    production  date, product_line, capacity_units, downtime_minutes   (one row per line-day)
    forecast    date, forecast, low_80, high_80, low_95, high_95         (one line)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MINUTES_PER_DAY = 24 * 60


def effective_capacity(production: pd.DataFrame, minutes_per_day: int = MINUTES_PER_DAY) -> pd.DataFrame:
    """Each line-day's planned capacity less what its downtime cost."""
    frame = production.copy()
    frame["date"] = pd.to_datetime(frame["date"]).dt.normalize().dt.tz_localize(None)
    downtime = frame["downtime_minutes"].fillna(0.0)
    frame["downtime_share"] = (downtime / minutes_per_day).clip(0.0, 1.0)
    frame["capacity"] = frame["capacity_units"].astype(float) * (1.0 - frame["downtime_share"])
    return frame.sort_values(["product_line", "date"], ignore_index=True)


def capacity_ahead(history: pd.DataFrame, dates: pd.DatetimeIndex, lookback: int = 28) -> pd.DataFrame:
    """Expected capacity of one line on ``dates``: its last plan less its usual downtime.

    ``history`` is one line's rows of :func:`effective_capacity` (days with a plan)."""
    planned = history.dropna(subset=["capacity_units"]).sort_values("date")
    if planned.empty:
        return pd.DataFrame({"date": dates, "capacity": np.nan})
    recent = planned[planned["date"] > planned["date"].max() - pd.Timedelta(days=lookback)]
    expected = float(planned["capacity_units"].iloc[-1]) * (1.0 - float(recent["downtime_share"].mean()))
    return pd.DataFrame({"date": dates, "capacity": expected})


def shortfalls(forecast: pd.DataFrame, capacity: pd.DataFrame, bound: str = "high_80") -> pd.DataFrame:
    """Per day: the forecast and its upper bound against capacity, and whether each exceeds it.
    A line with no plan at all (a product line the plans do not name) has no capacity:
    ``planned`` False and capacity 0, so its demand is short, not covered."""
    frame = forecast.merge(capacity[["date", "capacity"]], on="date", how="left")
    frame["planned"] = frame["capacity"].notna()
    frame["capacity"] = frame["capacity"].fillna(0.0)
    frame["short"] = frame["forecast"] > frame["capacity"]
    frame["at_risk"] = frame[bound] > frame["capacity"]
    frame["gap_units"] = (frame["forecast"] - frame["capacity"]).clip(lower=0.0)
    return frame


def weekly_shortfalls(weekly: pd.DataFrame, daily: pd.DataFrame, bound: str = "high_80") -> pd.DataFrame:
    """Per 7-day block (``weekly``: week_start, forecast and bounds of the block's total):
    the block's capacity, whether the total or its upper bound exceeds it, and how many of
    its days are short. ``daily`` is :func:`shortfalls`' frame of the same forecast."""
    if weekly.empty:
        return weekly
    block = np.arange(len(daily)) // 7
    per_block = (
        daily.assign(block=block)
        .groupby("block")
        .agg(capacity=("capacity", "sum"), short_days=("short", "sum"), at_risk_days=("at_risk", "sum"))
    )
    frame = weekly.reset_index(drop=True).join(per_block.reset_index(drop=True))
    frame["short"] = frame["forecast"] > frame["capacity"]
    frame["at_risk"] = frame[bound] > frame["capacity"]
    return frame
