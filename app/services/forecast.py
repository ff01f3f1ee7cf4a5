"""Demand forecast: units ordered per product line, the next days with 80% and 95% ranges,
against the capacity the production lines plan, and how well the models did in a backtest.

The forecasts come from app/analytics/forecast.py (through
``analytics_data.forecast_report``): models chosen per line by a rolling-origin backtest.
They need a long history, so they run over the year of whole UTC days up to the end of the
page's range (:func:`forecast_window`), and forecast from the day after it. The page caches
:func:`forecast_outlook` by those days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from app.analytics import narrative
from app.services.analytics_data import ForecastReport, LineOutlook, forecast_report
from app.services.campaigns import ANALYSIS_DAYS, AnalysisWindow, analysis_window
from app.services.context import Context
from app.services.timerange import TimeRange

HORIZONS = (7, 14, 28)
HORIZON_DAYS = 28
WEEK = 7

MODEL_NAMES = {
    "seasonal_naive": "Repeat last week",
    "ets": "Holt-Winters (ETS)",
    "sarimax": "Regression + ARIMA",
    "ets+sarimax": "Mean of ETS and ARIMA",
}


def forecast_window(ctx: Context, rng: TimeRange) -> AnalysisWindow:
    """The year of whole days up to the range's end: the forecast's history, whatever the
    range's start."""
    return analysis_window(ctx, rng, ANALYSIS_DAYS, lead_days=None)


def forecast_outlook(
    ctx: Context, first_day: date, last_day: date, horizon: int = HORIZON_DAYS, *, rollups: bool = True
) -> ForecastReport:
    """Every product line's forecast from the day after ``last_day``, backtested on the days
    from ``first_day``. ``rollups`` False: the daily demand and orders from the raw orders
    only (the same figures)."""
    return forecast_report(ctx.engine, first_day, last_day, horizon, rollups=rollups)


def product_lines(report: ForecastReport) -> list[str]:
    return sorted(report.lines)


def default_line(report: ForecastReport) -> str:
    """The line the page opens on: the one that sold the most units in its history (a name
    first in the alphabet, such as a stray event's, would otherwise open the page); by
    name among equals."""
    return min(
        report.lines, key=lambda name: (-float(report.lines[name].forecast.history["units"].sum()), name)
    )


def is_empty(report: ForecastReport) -> bool:
    return not report.lines


def history_days(report: ForecastReport) -> int:
    """Days of history of the line with the longest one."""
    return max((len(outlook.forecast.history) for outlook in report.lines.values()), default=0)


# --- backtest, in figures and in words ------------------------------------------------------


def missing_days(outlook: LineOutlook) -> int:
    """How many more days of history the line needs for a backtest (0: it had one)."""
    result = outlook.forecast
    return 0 if not result.backtest.empty else max(result.design.required_days - len(result.history), 1)


model_words = narrative.model_words


def sentences(line: str, outlook: LineOutlook, horizon: int) -> list[str]:
    """What a manager reads about one line: the model and how it did, then the capacity."""
    result, metrics = outlook.forecast, outlook.forecast.metrics
    short, at_risk = int(outlook.daily["short"].sum()), int(outlook.daily["at_risk"].sum())
    planned = bool(outlook.daily["planned"].any())
    capacity = narrative.shortfall_sentence(line, short, at_risk, horizon, planned)
    missing = missing_days(outlook)
    if missing:
        return [
            f"Needs {missing} more days of history for a backtest ({result.design.required_days} days for a "
            f"{horizon}-day horizon; there are {len(result.history)}): until then the forecast repeats last "
            "week, with ranges that assume normal errors instead of measured ones.",
            capacity,
        ]
    steps = min(result.design.headline_steps, horizon)
    return [
        f"Chosen model: {model_words(result.model)}, the most accurate on the backtest.",
        f"{narrative.mase_sentence(metrics['mase'])} Measured on the forecasts 1–{steps} days ahead made on "
        f"each of the last {result.design.test_origins} days whose outcome is known.",
        narrative.wape_sentence(metrics["wape"]),
        narrative.coverage_sentence(metrics["coverage_80"], 0.8),
        capacity,
    ]


def backtest_table(outlook: LineOutlook, horizon: int) -> pd.DataFrame:
    """One row per model tried, the chosen one first, then by MASE: the headline figures
    (days 1-7 ahead, in percent where they are shares) and, for a longer horizon, the MASE
    over all of it."""
    backtest = outlook.forecast.backtest
    columns = ["model", "chosen", "mase", "wape", "smape", "coverage_80", "coverage_95"]
    columns += ["mase_all"] if horizon > outlook.forecast.design.headline_steps else []
    if backtest.empty:
        return pd.DataFrame(columns=columns)
    frame = backtest.sort_values(["chosen", "mase"], ascending=[False, True])
    return pd.DataFrame(
        {
            "model": frame["model"].map(lambda m: MODEL_NAMES.get(m, m)),
            "chosen": frame["chosen"],
            "mase": frame["mase"],
            "wape": frame["wape"] * 100,
            "smape": frame["smape"] * 100,
            "coverage_80": frame["coverage_80"] * 100,
            "coverage_95": frame["coverage_95"] * 100,
            "mase_all": frame["mase_all"],
        }
    )[columns].reset_index(drop=True)


def summary(report: ForecastReport) -> pd.DataFrame:
    """One row per line: the chosen model, its MASE and 80% coverage, short and at-risk days."""
    frame = report.summary
    return pd.DataFrame(
        {
            "product_line": frame["product_line"],
            "model": [
                MODEL_NAMES.get(m, m)
                if not missing_days(report.lines[line])
                else "Repeat last week (no backtest)"
                for line, m in zip(frame["product_line"], frame["model"], strict=True)
            ],
            "mase": frame["mase"],
            "coverage_80": frame["coverage_80"] * 100,
            "short_days": frame["shortfall_days"].map(len),
            "at_risk_days": frame["at_risk_days"].map(len),
        }
    )


# --- the chart and the shortfall table, daily or weekly --------------------------------------


@dataclass(frozen=True)
class LineView:
    """What the chart and the table draw for one line, per day or per 7-day block."""

    history: pd.DataFrame  # date, units, capacity
    forecast: pd.DataFrame  # date, forecast, low_80, high_80, low_95, high_95, capacity, short, at_risk
    shortfalls: (
        pd.DataFrame
    )  # date, status (short | at risk), forecast, high_80, capacity, short_by, short_by_at_80
    unit: str  # "day" | "week"


def shown_history_days(horizon: int) -> int:
    """History drawn before a forecast: about three times its horizon, 6 to 13 weeks."""
    return min(13 * WEEK, max(6 * WEEK, 3 * horizon + WEEK))


def line_view(outlook: LineOutlook, horizon: int, weekly: bool = False) -> LineView | None:
    """The line per day, or per 7-day block (None when weekly ranges need a backtest the
    line has not had)."""
    history = daily_history(outlook).tail(shown_history_days(horizon))
    if not weekly:
        return LineView(history.reset_index(drop=True), outlook.daily, shortfall_rows(outlook.daily), "day")
    if outlook.weekly.empty:
        return None
    forecast = outlook.weekly.rename(columns={"week_start": "date"})
    return LineView(weekly_totals(history), forecast, shortfall_rows(forecast), "week")


def daily_history(outlook: LineOutlook) -> pd.DataFrame:
    """date, units, capacity: every day of the line's history (capacity NaN without a plan)."""
    capacity = outlook.capacity[["date", "capacity"]]
    return outlook.forecast.history.merge(capacity, on="date", how="left")


def weekly_totals(history: pd.DataFrame) -> pd.DataFrame:
    """Whole 7-day blocks ending on the last day (so they line up with the forecast's blocks,
    which start the day after), labelled by their first day."""
    whole = history.tail(len(history) // WEEK * WEEK).reset_index(drop=True)
    block = np.arange(len(whole)) // WEEK
    return (
        whole.groupby(block)
        .agg(
            date=("date", "first"),
            units=("units", "sum"),
            capacity=("capacity", lambda c: c.sum(min_count=WEEK)),
        )
        .reset_index(drop=True)
    )


def shortfall_rows(forecast: pd.DataFrame) -> pd.DataFrame:
    """The days (or weeks) the forecast, or the top of its 80% range, exceeds capacity."""
    flagged = forecast[forecast["at_risk"].fillna(False).astype(bool)]
    status = np.where(flagged["short"].fillna(False).astype(bool), "short", "at risk")
    return pd.DataFrame(
        {
            "date": flagged["date"],
            "status": status,
            "forecast": flagged["forecast"],
            "high_80": flagged["high_80"],
            "capacity": flagged["capacity"],
            "short_by": (flagged["forecast"] - flagged["capacity"]).clip(lower=0.0),
            "short_by_at_80": flagged["high_80"] - flagged["capacity"],
        }
    ).reset_index(drop=True)
