"""The frames the analytics (app/analytics) need, read from the lake with Athena SQL.

Every query filters on the ``dt`` partition (``YYYY-MM-DD`` text), so Athena prunes by
date and DuckDB reads only the days asked for. Days come back as naive midnight
timestamps in a ``date`` column. Then two reports put data and analytics together for the
CLI and the pages: :func:`campaign_report` and :func:`forecast_report`.

The daily orders and demand (a year of ``OrderPlaced``: most of what these pages read) come
from the ``orders_daily`` rollup (app/lake/rollups.py) for the days the engine has it up to
date (closed, not dirty; on Athena: materialized, app/engines/athena_rollups.py), and from
the raw orders for the others (the day under way, days not rolled up yet or dirty). Each
day is read from exactly one of the two, so the figures are the raw ones
(tests/services/test_rollup_equality.py); revenue is added in another order, so equal to
1e-9. Campaigns and production are left raw: a day holds a few of their rows (1-40 at 30M
events a year), so a rollup file would cost as much to read as the raw one.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd

from app import clock
from app.analytics import campaigns as lift
from app.analytics import capacity as cap
from app.analytics import forecast as fc
from app.analytics.calendar import holiday_regressors
from app.engines.base import QueryEngine
from app.services.rollup_plan import Piece, day_runs, engine_rollup_days, piece_days, pieces_predicate, run_on

DAILY_ORDERS_SQL = """
SELECT dt, region, count(*) AS orders, sum(amount) AS revenue
FROM orders
WHERE dt BETWEEN :first_day AND :last_day AND detail_type = 'OrderPlaced'
GROUP BY dt, region
"""

CAMPAIGNS_SQL = """
SELECT campaign_id, max(name) AS name, max(channel) AS channel, max(region) AS region,
       min(start_date) AS start_date, max(end_date) AS end_date, max(budget) AS budget,
       sum(CASE WHEN detail_type = 'CampaignSpend' THEN spend ELSE 0 END) AS spend
FROM campaigns
WHERE dt BETWEEN :first_day AND :last_day
GROUP BY campaign_id
"""

CAMPAIGN_SPEND_SQL = """
SELECT dt, campaign_id, max(region) AS region, sum(spend) AS spend
FROM campaigns
WHERE dt BETWEEN :first_day AND :last_day AND detail_type = 'CampaignSpend'
GROUP BY dt, campaign_id
"""

DAILY_DEMAND_SQL = """
SELECT dt, product_line, sum(quantity) AS units, count(*) AS orders
FROM orders
WHERE dt BETWEEN :first_day AND :last_day AND detail_type = 'OrderPlaced'
GROUP BY dt, product_line
"""

DAILY_PRODUCTION_SQL = """
SELECT dt, product_line,
       sum(CASE WHEN detail_type = 'CapacityPlanned' THEN capacity_units END) AS capacity_units,
       sum(CASE WHEN detail_type = 'MachineDowntime' THEN downtime_minutes ELSE 0 END) AS downtime_minutes,
       sum(CASE WHEN detail_type = 'BatchCompleted' THEN units ELSE 0 END) AS produced_units
FROM production
WHERE dt BETWEEN :first_day AND :last_day
GROUP BY dt, product_line
"""

# DAILY_ORDERS_SQL and DAILY_DEMAND_SQL where some days are rolled up: the rows of
# orders_daily for those days ({days}: runs of them), the raw orders' rows for the others,
# both per day, region and product line, then summed as each query groups.
ORDER_PARTS_ROLLED = "SELECT dt, region, product_line, orders, revenue, units FROM orders_daily WHERE {days}"
ORDER_PARTS_RAW = """
SELECT dt, region, product_line, count(*) AS orders, sum(amount) AS revenue, sum(quantity) AS units
FROM orders WHERE {days} AND detail_type = 'OrderPlaced'
GROUP BY dt, region, product_line
"""
PLANNED_ORDERS_SQL = "SELECT dt, {key}, {sums}\nFROM ({parts}) AS parts\nGROUP BY dt, {key}"
DAILY_ORDERS_SUMS = ("region", "sum(orders) AS orders, sum(revenue) AS revenue")
DAILY_DEMAND_SUMS = ("product_line", "sum(units) AS units, sum(orders) AS orders")

# Both at once (the Demand forecast needs both): one read of the rollup and the raw rest,
# summed per day and region and per day and product line; ``by_line`` tells them apart.
BOTH_ORDER_SUMS_SQL = """
SELECT dt, grouping(region) AS by_line, region, product_line,
       sum(orders) AS orders, sum(revenue) AS revenue, sum(units) AS units
FROM ({parts}) AS parts
GROUP BY GROUPING SETS ((dt, region), (dt, product_line))
"""

LAST_DAY_SQL = """
SELECT max(dt) AS last_day FROM orders WHERE dt >= :since
"""


def _run(engine: QueryEngine, sql: str, first_day: date, last_day: date) -> pd.DataFrame:
    params = {"first_day": first_day.isoformat(), "last_day": last_day.isoformat()}
    return engine.run(sql, params).frame


def _as_days(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """``dt`` renamed ``date``; it and ``columns`` as naive midnight timestamps."""
    frame = frame.rename(columns={"dt": "date"})
    for column in columns or ("date",):
        days = pd.to_datetime(frame[column])
        frame[column] = (days.dt.tz_localize(None) if days.dt.tz is not None else days).dt.normalize()
    return frame


def last_day(engine: QueryEngine, today: date | None = None, lookback_days: int = 730) -> date | None:
    """The last day with orders, looking back at most ``lookback_days`` from ``today``."""
    since = (today or clock.today()) - timedelta(days=lookback_days)
    from_folders = getattr(engine, "last_day", None)  # the local lake answers from its folders
    if callable(from_folders):
        found = from_folders("orders", since.isoformat())
        return None if found is None else date.fromisoformat(found)
    value = engine.run(LAST_DAY_SQL, {"since": since.isoformat()}).frame["last_day"].iloc[0]
    return None if value is None or pd.isna(value) else date.fromisoformat(str(value)[:10])


def rolled_up_days(engine: QueryEngine, first_day: date, last_day: date) -> frozenset[str]:
    """The days the engine has an up-to-date ``orders_daily`` for (the one rollup these
    pages read); an engine that builds rollups on demand
    (Athena) first builds the missing closed days of ``first_day``..``last_day`` (a few)."""
    start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC)
    end = datetime(last_day.year, last_day.month, last_day.day, tzinfo=UTC) + timedelta(days=1)
    return engine_rollup_days(engine, start, end, ("orders_daily",)) if start < end else frozenset()


def _order_parts(
    engine: QueryEngine,
    raw_sql: str,
    sums: tuple[str, str],
    first_day: date,
    last_day: date,
    clean: frozenset[str] | None,
) -> pd.DataFrame:
    """``raw_sql``'s rows (DAILY_ORDERS_SQL or DAILY_DEMAND_SQL), the days of ``clean``
    (None: the engine's rolled-up days) from orders_daily, the others raw."""
    if clean is None:
        clean = rolled_up_days(engine, first_day, last_day)
    rolled, raw = day_runs(first_day, last_day, clean)
    if not rolled:
        return _run(engine, raw_sql, first_day, last_day)
    parts, params = _parts_sql(rolled, raw)
    key, aggregates = sums
    sql = PLANNED_ORDERS_SQL.format(key=key, sums=aggregates, parts=parts)
    return run_on(engine, sql, params, {"orders": piece_days(raw), "orders_daily": piece_days(rolled)})


def _parts_sql(rolled: list[Piece], raw: list[Piece]) -> tuple[str, dict[str, Any]]:
    """The rows of orders_daily on the ``rolled`` runs of days and the raw orders' on the
    ``raw`` ones, per day, region and product line (ORDER_PARTS_*), and their bindings."""
    parts: list[str] = []
    params: dict[str, Any] = {}
    if rolled:
        where, params = pieces_predicate("u", rolled, None, hull=True)
        parts.append(ORDER_PARTS_ROLLED.format(days=where))
    if raw:
        where, more = pieces_predicate("r", raw, None)
        parts.append(ORDER_PARTS_RAW.format(days=where))
        params.update(more)
    return "\nUNION ALL\n".join(parts), params


def daily_orders_and_demand(
    engine: QueryEngine, first_day: date, last_day: date, clean: frozenset[str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`daily_orders` and :func:`daily_demand` from one read of the orders (the same
    frames: tested)."""
    if clean is None:
        clean = rolled_up_days(engine, first_day, last_day)
    rolled, raw = day_runs(first_day, last_day, clean)
    parts, params = _parts_sql(rolled, raw)
    sql = BOTH_ORDER_SUMS_SQL.format(parts=parts)
    both = _as_days(
        run_on(engine, sql, params, {"orders": piece_days(raw), "orders_daily": piece_days(rolled)})
    )
    by_line = both["by_line"].astype(bool)
    orders = both.loc[~by_line, ["date", "region", "orders", "revenue"]]
    demand = both.loc[by_line, ["date", "product_line", "units", "orders"]]
    return _orders_frame(orders), _demand_frame(demand)


def _orders_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """:func:`daily_orders`' types and order."""
    return frame.astype({"orders": "int64", "revenue": "float64"}).sort_values(
        ["date", "region"], ignore_index=True
    )


def _demand_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """:func:`daily_demand`'s types and order."""
    return frame.astype({"units": "float64", "orders": "int64"}).sort_values(
        ["product_line", "date"], ignore_index=True
    )


def daily_orders(
    engine: QueryEngine, first_day: date, last_day: date, clean: frozenset[str] | None = None
) -> pd.DataFrame:
    """date, region, orders (OrderPlaced count), revenue (their amount).

    ``clean``: the days to read from the rollup (None: every day the engine has; an empty
    set: raw only)."""
    return _orders_frame(
        _as_days(_order_parts(engine, DAILY_ORDERS_SQL, DAILY_ORDERS_SUMS, first_day, last_day, clean))
    )


def campaigns(engine: QueryEngine, first_day: date, last_day: date) -> pd.DataFrame:
    """campaign_id, name, channel, region, start_date, end_date, budget, spend (total so far)."""
    frame = _run(engine, CAMPAIGNS_SQL, first_day, last_day).dropna(
        subset=["start_date", "end_date", "region"]
    )
    frame = _as_days(frame, "start_date", "end_date").astype({"spend": "float64", "budget": "float64"})
    return frame.sort_values(["start_date", "campaign_id"], ignore_index=True)


def campaign_spend(engine: QueryEngine, first_day: date, last_day: date) -> pd.DataFrame:
    """date, campaign_id, region, spend: each campaign's spend per day."""
    frame = _as_days(_run(engine, CAMPAIGN_SPEND_SQL, first_day, last_day))
    return frame.astype({"spend": "float64"}).sort_values(["date", "campaign_id"], ignore_index=True)


def daily_demand(
    engine: QueryEngine, first_day: date, last_day: date, clean: frozenset[str] | None = None
) -> pd.DataFrame:
    """date, product_line, units (ordered), orders. ``clean``: as in :func:`daily_orders`."""
    return _demand_frame(
        _as_days(_order_parts(engine, DAILY_DEMAND_SQL, DAILY_DEMAND_SUMS, first_day, last_day, clean))
    )


def daily_production(engine: QueryEngine, first_day: date, last_day: date) -> pd.DataFrame:
    """date, product_line, capacity_units (planned), downtime_minutes, produced_units."""
    frame = _as_days(_run(engine, DAILY_PRODUCTION_SQL, first_day, last_day))
    return frame.astype(
        {"capacity_units": "float64", "downtime_minutes": "float64", "produced_units": "float64"}
    ).sort_values(["product_line", "date"], ignore_index=True)


def default_range(
    engine: QueryEngine, days: int = 365, today: date | None = None
) -> tuple[date, date] | None:
    """The last ``days`` days of the lake up to ``today`` (default: yesterday, the last
    whole day: a day under way would look like a collapse in demand); None when the lake
    has no orders."""
    today = today or clock.today() - timedelta(days=1)
    end = last_day(engine, today)
    if end is None:
        return None
    end = min(end, today)
    return (end - timedelta(days=days - 1), end)


# --- campaigns ---------------------------------------------------------------------------------


@dataclass
class CampaignReport:
    effects: pd.DataFrame  # campaigns.estimate_campaign_effects, best ROI first
    orders: pd.DataFrame
    campaigns: pd.DataFrame
    spend: pd.DataFrame
    first_day: date
    last_day: date
    settings: lift.LiftSettings = field(default_factory=lift.LiftSettings)
    fitted: tuple[lift.Context, dict[str, lift.Estimate | None]] | None = None  # the fit behind effects

    def counterfactual(self, campaign_id: str) -> pd.DataFrame:
        if self.fitted is None:
            return lift.counterfactual(self.orders, self.campaigns, campaign_id, self.settings)
        context, estimates = self.fitted
        estimate = estimates.get(campaign_id)
        return (
            lift.counterfactual_frame(context, estimate, self.settings.level)
            if estimate is not None
            else pd.DataFrame(columns=lift.COUNTERFACTUAL_COLUMNS)
        )


def campaign_report(
    engine: QueryEngine,
    first_day: date,
    last_day: date,
    settings: lift.LiftSettings | None = None,
    *,
    rollups: bool = True,
) -> CampaignReport:
    """``rollups`` False: every frame from the raw tables (the same figures)."""
    settings = settings or lift.LiftSettings()
    clean = rolled_up_days(engine, first_day, last_day) if rollups else frozenset()
    with _queries() as pool:  # the spend's query runs while the campaigns are fitted
        orders_query = pool.submit(daily_orders, engine, first_day, last_day, clean)
        found_query = pool.submit(campaigns, engine, first_day, last_day)
        spend_query = pool.submit(campaign_spend, engine, first_day, last_day)
        orders, found = orders_query.result(), found_query.result()
        # One fit of every campaign serves the table and every counterfactual the page draws.
        fitted = None if found.empty or orders.empty else lift.fit_all(orders, found, settings)
        spend = spend_query.result()
    effects = lift.effects_table(*fitted) if fitted else pd.DataFrame(columns=lift.RESULT_COLUMNS)
    effects = effects.sort_values("lift", ascending=False, na_position="last", ignore_index=True)
    return CampaignReport(effects, orders, found, spend, first_day, last_day, settings, fitted)


def _queries() -> ThreadPoolExecutor:
    """Threads for a page's independent queries, run at the same time (DuckDB cursors, or
    Athena executions: docs/aws.md lists the concurrency this assumes) and beside the
    analytics, which hold the GIL while the engines wait or compute without it."""
    return ThreadPoolExecutor(max_workers=3, thread_name_prefix="analytics-data")


# --- demand forecast and capacity --------------------------------------------------------------


@dataclass
class LineOutlook:
    forecast: fc.LineForecast
    capacity: pd.DataFrame  # history: date, capacity_units, downtime_minutes, capacity, ...
    daily: pd.DataFrame  # the forecast against capacity, per day (capacity.shortfalls)
    weekly: pd.DataFrame  # per 7-day block (capacity.weekly_shortfalls)


@dataclass
class ForecastReport:
    lines: dict[str, LineOutlook]
    summary: pd.DataFrame  # one row per line: model, backtest metrics, shortfall and at-risk days
    horizon: int


def forecast_regressors(
    demand: pd.DataFrame, orders: pd.DataFrame, found: pd.DataFrame, horizon: int, train_days: int
) -> pd.DataFrame:
    """Retail holidays and planned campaigns on every day of history and horizon."""
    start, end = demand["date"].min(), demand["date"].max() + pd.Timedelta(days=horizon)
    every_day = pd.date_range(start, end, freq="D")
    seen = pd.date_range(start, periods=max(train_days, 1), freq="D")
    shares = (orders.groupby("region")["orders"].sum() / max(orders["orders"].sum(), 1)).to_dict()
    frame = holiday_regressors(every_day, seen)
    frame["campaigns"] = fc.campaign_regressor(every_day, found, shares)
    return frame


def line_outlook(result: fc.LineForecast, production: pd.DataFrame) -> LineOutlook:
    history = cap.effective_capacity(production[production["product_line"] == result.product_line])
    ahead = cap.capacity_ahead(history, pd.DatetimeIndex(result.forecast["date"]))
    daily = cap.shortfalls(result.forecast, ahead)
    return LineOutlook(result, history, daily, cap.weekly_shortfalls(result.weekly, daily))


def forecast_report(
    engine: QueryEngine,
    first_day: date,
    last_day: date,
    horizon: int = 28,
    design: fc.BacktestDesign | None = None,
    *,
    rollups: bool = True,
) -> ForecastReport:
    """``rollups`` False: every frame from the raw tables (the same figures)."""
    clean = rolled_up_days(engine, first_day, last_day) if rollups else frozenset()
    with _queries() as pool:  # production's query runs while the models are fitted
        orders_query = pool.submit(daily_orders_and_demand, engine, first_day, last_day, clean)
        campaigns_query = pool.submit(campaigns, engine, first_day, last_day)
        production_query = pool.submit(daily_production, engine, first_day, last_day)
        orders, demand = orders_query.result()
        design = design or fc.BacktestDesign(horizon=horizon)
        days = (demand["date"].max() - demand["date"].min()).days + 1 if len(demand) else 0
        train_days = fc.shrink_to(days, design).origins(days)[0][0] if days else 0
        regressors = (
            forecast_regressors(demand, orders, campaigns_query.result(), horizon, train_days)
            if days
            else None
        )
        results = fc.forecast_demand(
            demand, horizon, dict.fromkeys(demand["product_line"].unique(), regressors), design
        )
        production = production_query.result()
    lines = {line: line_outlook(result, production) for line, result in results.items()}
    return ForecastReport(lines, outlook_summary(lines), horizon)


def outlook_summary(lines: dict[str, LineOutlook]) -> pd.DataFrame:
    summary = fc.summary_table({line: outlook.forecast for line, outlook in lines.items()})
    summary["shortfall_days"] = [_days(o.daily, "short") for o in lines.values()]
    summary["at_risk_days"] = [_days(o.daily, "at_risk") for o in lines.values()]
    return summary


def _days(daily: pd.DataFrame, column: str) -> list[str]:
    return [d.date().isoformat() for d in daily.loc[daily[column].fillna(False).astype(bool), "date"]]
