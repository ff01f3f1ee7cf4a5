"""Time of each page's data calls (the service functions a page calls), cold and warm.

Cold: a fresh context (new DuckDB connection, nothing cached by the app); the imports a
server does once at start (statsmodels, in the background) are done and timed first. Warm: the same
call again on the same context — what the app pays after the OS file cache is warm but
before its own st.cache_data hits (a cache hit costs nothing). The baseline, measured in
the same run, is one `SELECT count(*)` over the raw events of the range: every figure is
also printed as a multiple of it.

    .venv/bin/python bench/bench_pages.py --lake data/lake [--ranges 7d 30d 365d] [--pages "Delivery health"]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.analytics.forecast import load_models
from app.lake.rollups import LEAD_LOOKBACK_DAYS
from app.services import campaigns, delivery, event_rates, explorer, forecast, overview
from app.services.context import Context, build_context
from app.services.rollup_plan import rollup_days
from app.services.saved_queries import run_saved_query
from app.services.timerange import TimeRange, preset_range
from app.settings import Settings, load_settings


def _baseline(ctx: Context, rng: TimeRange) -> object:
    sql = "SELECT count(*) AS n FROM events WHERE dt BETWEEN :dt_from AND :dt_to"
    return ctx.engine.run(sql, {"dt_from": rng.dt_from, "dt_to": rng.dt_to})


def _delivery_health(ctx: Context, rng: TimeRange) -> object:
    """What the page loads: the metrics, then the dead letters."""
    return delivery.delivery_metrics(ctx, rng), delivery.dead_letters(ctx)


def _campaigns(ctx: Context, rng: TimeRange, rollups: bool = True) -> object:
    window = campaigns.analysis_window(ctx, rng)
    return campaigns.campaign_analysis(ctx, window.first, window.last, rollups=rollups)


def _forecast(ctx: Context, rng: TimeRange, rollups: bool = True) -> object:
    window = forecast.forecast_window(ctx, rng)
    return forecast.forecast_outlook(ctx, window.first, window.last, 28, rollups=rollups)


PAGE_CALLS: dict[str, Callable[[Context, TimeRange], object]] = {
    "Overview": overview.department_overview,
    "Event rates": event_rates.event_rates,
    "Delivery health": _delivery_health,
    "Campaigns (year of analytics)": _campaigns,
    "Demand forecast (28 days)": _forecast,
    "Saved queries (order_funnel)": lambda ctx, rng: run_saved_query(  # "today": the range's end day
        ctx, "order_funnel", {}, rng.end.astimezone(UTC).date()
    ),
    "Event explorer (search)": lambda ctx, rng: explorer.find_events(ctx, rng, explorer.EventQuery()),
}


# The pages that read rollups -> one hand-written DuckDB statement over the rollup they read,
# answering what the page's data call answers (issue 13's "raw" baseline: results identical
# to the app's): the floor a page on rollups can approach. Run on a fresh connection, cold
# like the page; ``check_floor`` compares its rows with the app's before any figure is shown.
# The Overview's floor covers both periods the page shows ([previous start, end)), capacity
# by the day planned over both periods' days (each period takes its days pro rata in Python,
# as the page does); Event rates' floor, the range's hours.
ROLLUP_FLOORS: dict[str, str] = {
    "Overview": (
        "SELECT CASE WHEN part = 'capacity' THEN plan_date ELSE CAST(hour AS DATE) END AS day, part,"
        " CASE WHEN part = 'capacity' THEN NULL WHEN hour >= TIMESTAMPTZ '{start}' THEN 'this'"
        " ELSE 'previous' END AS period, sum(value) AS value FROM read_parquet("
        "'{lake}/overview_hourly/*/*.parquet', hive_partitioning = true) "
        "WHERE dt BETWEEN '{orders_from}' AND '{last}' AND ((part <> 'capacity'"
        " AND hour >= TIMESTAMPTZ '{previous_start}' AND hour < TIMESTAMPTZ '{end}')"
        " OR (part = 'capacity' AND plan_date BETWEEN DATE '{previous_first}' AND DATE '{last}'))"
        " GROUP BY ALL"
    ),
    "Event rates": (
        "SELECT hour, source, detail_type, sum(events) AS events FROM read_parquet("
        "'{lake}/events_hourly/*/*.parquet', hive_partitioning = true) "
        "WHERE dt BETWEEN '{first}' AND '{last}' AND hour >= TIMESTAMPTZ '{start}'"
        " AND hour < TIMESTAMPTZ '{end}' GROUP BY ALL"
    ),
}


def _floor_sql(lake: str, page: str, rng: TimeRange) -> str:
    previous = rng.previous()
    return ROLLUP_FLOORS[page].format(
        lake=lake,
        start=rng.start.isoformat(),
        end=rng.end.isoformat(),
        first=rng.dt_from,
        last=rng.dt_to,
        previous_start=previous.start.isoformat(),
        previous_first=previous.dt_from,
        orders_from=(previous.start - timedelta(days=LEAD_LOOKBACK_DAYS)).date().isoformat(),
    )


def _rollup_floor(lake: str, page: str, rng: TimeRange) -> pd.DataFrame:
    import duckdb

    db = duckdb.connect(":memory:")
    try:
        return db.sql(_floor_sql(lake, page, rng)).df()
    finally:
        db.close()


def _same_rows(ours: pd.DataFrame, floor: pd.DataFrame, keys: list[str], value: str) -> bool:
    """The same (keys -> value) rows, zeros and nulls left out, values to 1e-9 relative."""

    def rows(frame: pd.DataFrame) -> pd.Series:
        frame = frame[frame[value].fillna(0) != 0]
        return frame.groupby(keys)[value].sum().astype(float).sort_index()

    a, b = rows(ours), rows(floor)
    return a.index.equals(b.index) and bool(np.allclose(a.to_numpy(), b.to_numpy(), rtol=1e-9, atol=0))


def check_floor(settings: Settings, page: str, rng: TimeRange) -> bool:
    """Does the floor's statement answer what the page's data call answers?"""
    floor = _rollup_floor(settings.lake, page, rng)
    ctx = build_context(settings)
    if page == "Event rates":
        ours = event_rates.hourly_by_type(ctx, rng, rollup_days(ctx, rng))
        floor = floor.assign(hour=pd.to_datetime(floor["hour"], utc=True))
        return _same_rows(ours, floor, ["hour", "source", "detail_type"], "events")
    floor = floor.assign(day=pd.to_datetime(floor["day"]))
    periods = overview.period_parts(ctx, rng)
    for name, period, ours in zip(("this", "previous"), (rng, rng.previous()), periods, strict=True):
        capacity = floor[floor["part"] == "capacity"]
        coverage = overview.day_coverage(period)
        capacity = capacity.assign(value=capacity["value"] * capacity["day"].map(coverage))
        theirs = pd.concat([floor[floor["period"] == name], capacity])
        if not _same_rows(ours.assign(day=pd.to_datetime(ours["day"])), theirs, ["day", "part"], "value"):
            return False
    return True


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lake", type=Path, default=None)
    parser.add_argument("--ranges", nargs="+", default=["7d", "30d", "365d"])
    parser.add_argument("--now", type=datetime.fromisoformat, default=None, help="the ranges' end (ISO)")
    parser.add_argument("--pages", nargs="+", choices=list(PAGE_CALLS), default=list(PAGE_CALLS))
    args = parser.parse_args()
    calls = {name: PAGE_CALLS[name] for name in args.pages}
    settings = load_settings()
    if args.lake:
        settings = settings.replace(lake=str(args.lake.resolve()))
    now = args.now or datetime.now(UTC)
    print(f"lake {settings.lake}, ranges ending {now.isoformat()}")
    # What the dashboard does once per server process, in the background, at start
    # (dashboard/streamlit_app.py): not a page's cost, so timed apart.
    print(f"server start: the forecast's statsmodels import {timed(load_models):.2f}s (once per process)")
    print(f"{'page data call':32}" + "".join(f"{r + ' cold':>12}{r + ' warm':>12}" for r in args.ranges))
    baseline_row: list[float] = []
    rows: dict[str, list[float]] = {name: [] for name in calls}
    for key in args.ranges:
        rng = preset_range(key, now)
        ctx = build_context(settings)
        baseline_row += [timed(partial(_baseline, ctx, rng)), timed(partial(_baseline, ctx, rng))]
        for name, call in calls.items():
            ctx = build_context(settings)
            rows[name] += [timed(partial(call, ctx, rng)), timed(partial(call, ctx, rng))]
    print(f"{'baseline: count(*) of events':32}" + "".join(f"{t:>11.2f}s" for t in baseline_row))
    for name, times in rows.items():
        cells = "".join(f"{t:>6.2f}s {t / b:>3.0f}x" for t, b in zip(times, baseline_row, strict=True))
        print(f"{name:32}{cells}")
    print("\npages on rollups against one hand-written DuckDB statement over the rollup they read,")
    print("answering the same (checked row for row first; cold)")
    for page in [p for p in ROLLUP_FLOORS if p in calls]:
        cells = []
        for i, key in enumerate(args.ranges):
            rng = preset_range(key, now)
            if not check_floor(settings, page, rng):  # e.g. a range with raw pieces: not comparable
                cells.append(f"{key}: the floor's rows differ from the page's, no ratio")
                continue
            floor = timed(partial(_rollup_floor, settings.lake, page, rng))
            cold = rows[page][2 * i]
            cells.append(f"{key}: {cold:.2f}s / {floor:.2f}s = {cold / floor:.1f}x")
        print(f"{page:32}" + "   ".join(cells))


if __name__ == "__main__":
    main()
