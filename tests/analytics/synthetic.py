"""Seeded synthetic series with planted effects, for testing the analytics on known truth."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

WEEKLY = np.array([1.0, 0.95, 0.97, 1.0, 1.1, 1.25, 1.15])  # Monday .. Sunday
REGIONS = {"north": 400.0, "south": 300.0, "east": 250.0, "west": 200.0}


@dataclass(frozen=True)
class Planted:
    campaign_id: str
    region: str
    start: str
    days: int
    lift: float
    lag: int
    spend_per_day: float = 1000.0

    @property
    def start_date(self) -> pd.Timestamp:
        return pd.Timestamp(self.start)

    @property
    def end_date(self) -> pd.Timestamp:
        return self.start_date + pd.Timedelta(days=self.days - 1)


def calendar(days: int, end: str) -> pd.DatetimeIndex:
    return pd.date_range(end=pd.Timestamp(end), periods=days, freq="D")


def common_shape(dates: pd.DatetimeIndex, rng: np.random.Generator) -> np.ndarray:
    """What every region shares: trend, weekly and yearly seasonality, holidays, shocks."""
    t = np.arange(len(dates))
    yearly = 1 + 0.15 * np.sin(2 * np.pi * (dates.day_of_year.to_numpy() - 80) / 365.25)
    holidays = np.where((dates.month == 12) & (dates.day.isin([24, 25, 26])), 1.6, 1.0)
    shocks = np.exp(rng.normal(0, 0.03, len(dates)))
    return (1 + 0.0008 * t) * WEEKLY[dates.day_of_week.to_numpy()] * yearly * holidays * shocks


def effect(dates: pd.DatetimeIndex, plant: Planted) -> np.ndarray:
    shift = pd.Timedelta(days=plant.lag)
    active = (dates >= plant.start_date + shift) & (dates <= plant.end_date + shift)
    return np.where(active, 1 + plant.lift, 1.0)


def regional_orders(
    plants: list[Planted],
    days: int = 365,
    end: str = "2025-12-31",
    seed: int = 0,
    regions: dict[str, float] = REGIONS,
    order_value: float = 50.0,
) -> pd.DataFrame:
    """Daily Poisson orders and revenue per region, with each planted campaign's lift."""
    rng = np.random.default_rng(seed)
    dates = calendar(days, end)
    shape = common_shape(dates, rng)
    frames = []
    for region, base in regions.items():
        rate = base * shape
        for plant in plants:
            if plant.region == region:
                rate = rate * effect(dates, plant)
        orders = rng.poisson(rate)
        revenue = rng.gamma(np.maximum(orders, 1) * 4.0, order_value / 4.0) * (orders > 0)
        frames.append(pd.DataFrame({"date": dates, "region": region, "orders": orders, "revenue": revenue}))
    return pd.concat(frames, ignore_index=True)


def campaign_frame(plants: list[Planted]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "campaign_id": p.campaign_id,
                "name": p.campaign_id,
                "channel": "search",
                "region": p.region,
                "start_date": p.start_date,
                "end_date": p.end_date,
                "spend": p.spend_per_day * p.days,
            }
            for p in plants
        ]
    )


HOLIDAY_FACTORS = {
    "Thanksgiving": 0.65,
    "Black Friday": 2.1,
    "Cyber Monday": 1.8,
    "Christmas Eve": 0.7,
    "Christmas Day": 0.45,
    "Boxing Day": 1.3,
    "New Year's Eve": 0.8,
    "New Year's Day": 0.55,
    "Presidents' Day": 1.35,
    "Memorial Day": 1.45,
    "Independence Day": 0.7,
    "Labor Day": 1.35,
}


def demand_shape(dates: pd.DatetimeIndex) -> np.ndarray:
    """Weekday, a yearly cycle peaking in mid-December, growth, and retail holidays."""
    from app.analytics.calendar import retail_days

    season = 1 + 0.14 * np.cos(2 * np.pi * (dates.day_of_year.to_numpy() - 345) / 365.25)
    trend = 1 + 0.08 * np.arange(len(dates)) / 365
    holidays = pd.Series(1.0, index=dates)
    for day, name in retail_days(dates.min(), dates.max()).itertuples(index=False):
        holidays[day] = HOLIDAY_FACTORS[name]
    return WEEKLY[dates.day_of_week.to_numpy()] / WEEKLY.mean() * season * trend * holidays.to_numpy()


def line_demand(
    lines: dict[str, float],
    days: int = 365,
    end: str = "2026-11-26",
    seed: int = 0,
    mean_quantity: float = 1.6,
) -> pd.DataFrame:
    """Daily units per product line: Poisson orders times a geometric-like basket size."""
    rng = np.random.default_rng(seed)
    dates = calendar(days, end)
    shape = demand_shape(dates)
    frames = []
    for line, base in lines.items():
        orders = rng.poisson(base * shape)
        units = orders + rng.poisson(orders * (mean_quantity - 1))
        frames.append(pd.DataFrame({"date": dates, "product_line": line, "units": units}))
    return pd.concat(frames, ignore_index=True)
