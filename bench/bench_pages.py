"""Time of each page's data calls (the service functions a page calls), cold and warm.

Cold: a fresh context (new DuckDB connection, nothing cached by the app); the imports a
server does once at start (statsmodels, in the background) are done and timed first. Warm: the same
call again on the same context — what the app pays after the OS file cache is warm but
before its own st.cache_data hits (a cache hit costs nothing). The baseline, measured in
the same run, is one `SELECT count(*)` over the raw events of the range: every figure is
also printed as a multiple of it. Each figure is the median of ``--rounds`` interleaved
rounds. Then each page is set against its floor (``ROLLUP_FLOORS``, ``raw_floor``): the one
DuckDB statement that answers what it answers, checked row for row against the page first
and timed right after the page in every round. The page's cold call and each floor run
right after the same thing (``_settle``: the baseline on a context of its own, closed),
their context or connection made before it, and each page's engine is closed when done:
a statement timed right after a different scan, on a context left to the garbage
collector, ran up to 1.4x slower than the same statement timed right after its own warm
run (docs/benchmarks.md). A rollup floor's four forms (over a glob or paths, its rows
fetched as a DataFrame or as NumPy arrays) are each timed in every round; the ratios are
against the form with the lowest median, not the fastest in each round (which would bias
them up).

    .venv/bin/python bench/bench_pages.py --lake data/lake [--ranges 7d 30d 365d] [--rounds 3]
        [--pages "Delivery health"]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.analytics.forecast import load_models
from app.engines import duckdb_engine
from app.lake.rollups import LEAD_LOOKBACK_DAYS
from app.lake.tables import TABLES
from app.services import campaigns, delivery, event_rates, explorer, forecast, overview
from app.services.context import Context, build_context
from app.services.rollup_plan import rollup_days
from app.services.saved_queries import QueryRun, bind, load_catalog_entries, run_saved_query
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
# A rollup's glob names its one file a day (the engine's whole-table view reads it so: listing
# each day's folder cost 10% of a year's statement).
ROLLUP_FLOORS: dict[str, str] = {
    "Overview": (
        "SELECT CASE WHEN part = 'capacity' THEN plan_date ELSE CAST(hour AS DATE) END AS day, part,"
        " CASE WHEN part = 'capacity' THEN NULL WHEN hour >= TIMESTAMPTZ '{start}' THEN 'this'"
        " ELSE 'previous' END AS period, sum(value) AS value FROM read_parquet("
        "'{lake}/overview_hourly/dt=*/rollup.parquet', hive_partitioning = true) "
        "WHERE dt BETWEEN '{orders_from}' AND '{last}' AND ((part <> 'capacity'"
        " AND hour >= TIMESTAMPTZ '{previous_start}' AND hour < TIMESTAMPTZ '{end}')"
        " OR (part = 'capacity' AND plan_date BETWEEN DATE '{previous_first}' AND DATE '{last}'))"
        " GROUP BY ALL"
    ),
    "Event rates": (
        "SELECT hour, source, detail_type, sum(events) AS events FROM read_parquet("
        "'{lake}/events_hourly/dt=*/rollup.parquet', hive_partitioning = true) "
        "WHERE dt BETWEEN '{first}' AND '{last}' AND hour >= TIMESTAMPTZ '{start}'"
        " AND hour < TIMESTAMPTZ '{end}' GROUP BY ALL"
    ),
}


# Event rates over a range drawn in weeks: the hours summed into UTC weeks per source and
# detail type and into hours (the page's BUCKETED_SQL), not every hour's rows.
EVENT_RATES_WEEKS_FLOOR = (
    "SELECT date_trunc('week', hour) AS bucket, source, detail_type, hour, grouping(hour) AS by_bucket,"
    " sum(events) AS events"
    " FROM read_parquet('{lake}/events_hourly/dt=*/rollup.parquet', hive_partitioning = true)"
    " WHERE dt BETWEEN '{first}' AND '{last}'"
    " AND hour >= TIMESTAMPTZ '{start}' AND hour < TIMESTAMPTZ '{end}'"
    " GROUP BY GROUPING SETS ((date_trunc('week', hour), source, detail_type), (hour))"
)


def _orders_from(rng: TimeRange) -> str:
    """The first ``dt`` the Overview's floor reads: its capacity from the previous period's lookback."""
    return (rng.previous().start - timedelta(days=LEAD_LOOKBACK_DAYS)).date().isoformat()


def _floor_sql(lake: str, page: str, rng: TimeRange) -> str:
    previous = rng.previous()
    weeks = page == "Event rates" and rng.bucket == "week"
    return (EVENT_RATES_WEEKS_FLOOR if weeks else ROLLUP_FLOORS[page]).format(
        lake=lake,
        start=rng.start.isoformat(),
        end=rng.end.isoformat(),
        first=rng.dt_from,
        last=rng.dt_to,
        previous_start=previous.start.isoformat(),
        previous_first=previous.dt_from,
        orders_from=_orders_from(rng),
    )


Floor = Callable[[duckdb.DuckDBPyConnection], pd.DataFrame]


def on_fresh_connection(floor: Floor, timing: bool = False, before: Callable[[], None] | None = None) -> Any:
    """``floor`` run on a new DuckDB connection (cold: nothing cached), made before the clock
    starts as the page's engine is (a connection costs ~10 ms); its time when ``timing``,
    else its frame. ``before``: what runs between making the connection and the floor."""
    db = duckdb.connect(":memory:")
    try:
        if before is not None:
            before()
        return timed(partial(floor, db)) if timing else floor(db)
    finally:
        db.close()


def _rollup_floor(
    lake: str,
    page: str,
    rng: TimeRange,
    db: duckdb.DuckDBPyConnection,
    by_path: bool = False,
    arrays: bool = False,
) -> Any:
    """The floor's statement over the rollup's glob, or (``by_path``) over the paths of its
    days' files that exist (found by a stat each, inside the floor's time, as the page reads
    up to ROLLUP_PATHS_UP_TO days). Its rows as a DataFrame or (``arrays``) as the pages
    take them, DuckDB's NumPy arrays with their nulls filled (the cheaper fetch)."""
    sql = _floor_sql(lake, page, rng)
    if by_path:
        table = "overview_hourly" if page == "Overview" else "events_hourly"
        first = _orders_from(rng) if page == "Overview" else rng.dt_from  # the statement's first dt
        day_files = [f"{lake}/{table}/dt={day}/rollup.parquet" for day in _day_list(first, rng.dt_to)]
        glob = f"'{lake}/{table}/dt=*/rollup.parquet'"
        sql = sql.replace(glob, repr([f for f in day_files if Path(f).exists()]))
    rows = db.sql(sql)
    if arrays:
        return {name: duckdb_engine.filled(column) for name, column in rows.fetchnumpy().items()}
    return rows.df()


def _same_rows(ours: pd.DataFrame, floor: pd.DataFrame, keys: list[str], value: str) -> bool:
    """The same (keys -> value) rows, zeros and nulls left out, values to 1e-9 relative."""

    def rows(frame: pd.DataFrame) -> pd.Series:
        frame = frame[frame[value].fillna(0) != 0]
        return frame.groupby(keys)[value].sum().astype(float).sort_index()

    a, b = rows(ours), rows(floor)
    return a.index.equals(b.index) and bool(np.allclose(a.to_numpy(), b.to_numpy(), rtol=1e-9, atol=0))


def check_floor(settings: Settings, page: str, rng: TimeRange) -> bool:
    """Does the floor's statement answer what the page's data call answers?"""
    floor = on_fresh_connection(partial(_rollup_floor, settings.lake, page, rng))
    with _context(settings) as ctx:
        if page == "Event rates" and rng.bucket == "week":
            clean = rollup_days(ctx, rng, ("events_hourly",))
            ours = event_rates._hourly_rows(ctx, rng, clean, bucketed=True)
            floor = floor.assign(**{c: pd.to_datetime(floor[c], utc=True) for c in ("bucket", "hour")})
            sets = ((1, ["bucket", "source", "detail_type"]), (0, ["hour"]))
            return all(
                _same_rows(ours[ours["by_bucket"] == n], floor[floor["by_bucket"] == n], keys, "events")
                for n, keys in sets
            )
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


def _same_frame(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """The same rows in any order."""
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return False
    keys = list(a.columns)
    a, b = (f.sort_values(keys, kind="stable").reset_index(drop=True) for f in (a, b))
    return a.equals(b)


def _files(lake: str, table: str, days: list[str]) -> list[str]:
    """The data files of ``table``'s ``dt`` folders for ``days`` (those that exist)."""
    return sorted(str(f) for day in days for f in (Path(lake) / table / f"dt={day}").rglob("*.parquet"))


def _day_list(first: str, last: str) -> list[str]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]


def _over_files(
    db: duckdb.DuckDBPyConnection, lake: str, tables: dict[str, list[str]], sql: str, params: dict[str, Any]
) -> pd.DataFrame:
    """``sql`` where each table is a view over ``tables``' days' files only (listing them is
    part of the floor's work, as it is of the page's)."""
    for table, days in tables.items():
        files = _files(lake, table, days)
        hive = ", ".join(f"'{p}': 'VARCHAR'" for p in TABLES[table].partitions)
        db.execute(
            f"CREATE VIEW {table} AS SELECT * FROM read_parquet({files!r}, hive_partitioning = true,"
            f" hive_types = {{{hive}}})"
        )
    return db.execute(sql, params).df()


# The pages whose answer is raw events by nature (an analyst's SQL; the explorer's newest
# events) -> the floor they can approach: one DuckDB statement over exactly the files the
# answer needs, found by listing those days' folders only.
def _saved_query_floor(
    lake: str, duck_sql: str, values: dict[str, Any], db: duckdb.DuckDBPyConnection
) -> pd.DataFrame:
    """order_funnel's own statement (the DuckDB text the engine ran) over the days its
    ``dt`` filters admit: the period for orders, up to 14 days after it for the rest."""
    period = _day_list(values["period_start"], values["period_end"])
    followed = _day_list(
        values["period_start"], (date.fromisoformat(values["period_end"]) + timedelta(days=14)).isoformat()
    )
    tables = {"orders": period, "payments": followed, "inventory": followed, "shipments": followed}
    return _over_files(db, lake, tables, duck_sql, values)


# The order id read from the kept rows' detail (inside the top N, from every row's: 30M lake,
# a day's window, 31 -> 26 ms).
EXPLORER_FLOOR = (
    "SELECT time, source, detail_type, id, json_extract_string(detail, '$.order_id') AS order_id, detail"
    " FROM (SELECT time, source, detail_type, id, detail FROM events WHERE time >= $start AND time < $end"
    " ORDER BY time DESC, id, source, detail_type LIMIT $limit) ORDER BY time DESC, id, source, detail_type"
)


def _explorer_floor(
    lake: str, days: list[str], rng: TimeRange, db: duckdb.DuckDBPyConnection
) -> pd.DataFrame:
    """The newest 500 events of the range, detail included, from the days they fall on."""
    params = {"start": rng.start, "end": rng.end, "limit": explorer.MAX_ROWS}
    return _over_files(db, lake, {"events": days}, EXPLORER_FLOOR, params)


def raw_floor(settings: Settings, page: str, rng: TimeRange) -> Floor | None:
    """The floor's call for ``page`` over ``rng``, or None when its rows differ from the page's."""
    with _context(settings) as ctx:
        if page == "Event explorer (search)":
            ours = explorer.find_events(ctx, rng, explorer.EventQuery())
            days, day = list[str](), date.fromisoformat(rng.dt_to)
            while True:  # the newest days, as many as hold the rows shown
                days.insert(0, day.isoformat())
                call = partial(_explorer_floor, settings.lake, list(days), rng)
                floor = on_fresh_connection(call)
                if len(floor) >= explorer.MAX_ROWS or days[0] <= rng.dt_from:
                    break
                day -= timedelta(days=1)
            keys = ["source", "detail_type", "id", "order_id", "detail"]
            same = len(ours) == len(floor) and ours[keys].reset_index(drop=True).equals(floor[keys])
            return call if same else None
        run = PAGE_CALLS[page](ctx, rng)
        assert isinstance(run, QueryRun)
        values = bind(load_catalog_entries()[0][run.name], run.values)[1]  # what the engine was given
        call = partial(_saved_query_floor, settings.lake, run.result.sql, values)
        floor, frame = on_fresh_connection(call), run.result.frame
        try:  # the same rows and values (the engine gives DuckDB's HUGEINT sums as Int64, .df() as floats)
            pd.testing.assert_frame_equal(
                frame.reset_index(drop=True), floor.reset_index(drop=True), check_dtype=False
            )
        except AssertionError:
            return None
        return call


RAW_FLOOR_PAGES = ("Saved queries (order_funnel)", "Event explorer (search)")


def _settle(settings: Settings, rng: TimeRange) -> None:
    """What runs right before a page's cold call and before its floor, the same for both:
    the baseline statement on a context of its own, closed."""
    with _context(settings) as ctx:
        _baseline(ctx, rng)


@contextmanager
def _context(settings: Settings) -> Iterator[Context]:
    """A fresh context, its engine closed on the way out."""
    ctx = build_context(settings)
    try:
        yield ctx
    finally:
        _close(ctx)


def _close(ctx: Context) -> None:
    """Close the context's engine now (DuckDB's; Athena's has nothing to close)."""
    close = getattr(ctx.engine, "close", None)
    if callable(close):
        close()


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def timed_with_statements(call: Callable[[], object]) -> tuple[float, float]:
    """``call``'s time and, of it, the time its DuckDB statements took (the engine's
    execute-and-fetch of each, its frame included): what a floor is the other statement for.
    The rest is the page's own work around them (rolled-up-day lookup, planning, figures)."""
    spent: list[float] = []
    fetch = duckdb_engine._fetch

    def statement(*args: Any) -> Any:
        started = time.perf_counter()
        try:
            return fetch(*args)
        finally:
            spent.append(time.perf_counter() - started)

    duckdb_engine._fetch = statement
    try:
        took = timed(call)
    finally:
        duckdb_engine._fetch = fetch
    return took, sum(spent)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lake", type=Path, default=None)
    parser.add_argument("--ranges", nargs="+", default=["7d", "30d", "365d"])
    parser.add_argument("--now", type=datetime.fromisoformat, default=None, help="the ranges' end (ISO)")
    parser.add_argument("--pages", nargs="+", choices=list(PAGE_CALLS), default=list(PAGE_CALLS))
    parser.add_argument("--rounds", type=int, default=3, help="rounds; each figure is their median")
    args = parser.parse_args()
    calls = {name: PAGE_CALLS[name] for name in args.pages}
    settings = load_settings()
    if args.lake:
        settings = settings.replace(lake=str(args.lake.resolve()))
    now = args.now or datetime.now(UTC)
    ranges = {key: preset_range(key, now) for key in args.ranges}
    print(f"lake {settings.lake}, ranges ending {now.isoformat()}, median of {args.rounds} rounds")
    # What the dashboard does once per server process, in the background, at start
    # (dashboard/streamlit_app.py): not a page's cost, so timed apart.
    print(f"server start: the forecast's statsmodels import {timed(load_models):.2f}s (once per process)")

    # Each floor is checked against the page's own answer once, then timed in every round.
    floors: dict[tuple[str, str], Floor | None] = {}
    # The rollup floors' other forms: over paths, not a glob; each fetched as arrays too.
    other_floors: dict[tuple[str, str], dict[str, Floor]] = {}
    for key, rng in ranges.items():
        for page in calls:
            if page in ROLLUP_FLOORS:  # a range with raw pieces: not comparable
                ok = check_floor(settings, page, rng)
                by_glob = partial(_rollup_floor, settings.lake, page, rng)
                floors[page, key] = by_glob if ok else None
                by_path = partial(_rollup_floor, settings.lake, page, rng, by_path=True)
                if not ok:
                    continue
                forms = {"glob, arrays": partial(by_glob, arrays=True)}
                if _same_frame(on_fresh_connection(by_path), on_fresh_connection(by_glob)):
                    forms |= {"paths": by_path, "paths, arrays": partial(by_path, arrays=True)}
                other_floors[page, key] = forms
            elif page in RAW_FLOOR_PAGES:
                floors[page, key] = raw_floor(settings, page, rng)

    times: dict[tuple[str, str], list[tuple[float, float]]] = {}
    # (page, range) -> each round's cold call and, of it, its statements' time; and the
    # floor's time in each round, by variant ("glob", and "paths" where there is one).
    page_runs: dict[tuple[str, str], list[tuple[float, float]]] = {}
    floor_runs: dict[tuple[str, str], dict[str, list[float]]] = {}
    for _ in range(args.rounds):
        for key, rng in ranges.items():
            with _context(settings) as ctx:
                times.setdefault(("baseline", key), []).append(
                    (timed(partial(_baseline, ctx, rng)), timed(partial(_baseline, ctx, rng)))
                )
            for name, call in calls.items():
                floor = floors.get((name, key))
                ctx = build_context(settings)
                if floor is None:
                    cold = timed(partial(call, ctx, rng))
                else:
                    _settle(settings, rng)
                    cold, statements = timed_with_statements(partial(call, ctx, rng))
                    page_runs.setdefault((name, key), []).append((cold, statements))
                warm = timed(partial(call, ctx, rng))
                _close(ctx)
                times.setdefault((name, key), []).append((cold, warm))
                if floor is None:
                    continue
                variants = {"glob": floor, **other_floors.get((name, key), {})}
                for variant, statement in variants.items():  # timed right after the page
                    settle = partial(_settle, settings, rng)
                    took = on_fresh_connection(statement, timing=True, before=settle)
                    floor_runs.setdefault((name, key), {}).setdefault(variant, []).append(took)

    def median(values: list[float]) -> float:
        return float(np.median(values))

    print(f"{'page data call':32}" + "".join(f"{r + ' cold':>13}{r + ' warm':>13}" for r in ranges))
    baseline = {key: [median([t[i] for t in times["baseline", key]]) for i in (0, 1)] for key in ranges}
    print(
        f"{'baseline: count(*) of events':32}"
        + "".join(f"{t:>12.3f}s" for key in ranges for t in baseline[key])
    )
    for name in calls:
        cells = ""
        for key in ranges:
            for i in (0, 1):
                t = median([pair[i] for pair in times[name, key]])
                cells += f"{t:>7.3f}s {t / baseline[key][i]:>3.0f}x"
        print(f"{name:32}{cells}")
    print("\npage (cold) against its floor, the median of the rounds' ratios: for a page on rollups one")
    print("hand-written DuckDB statement over the rollup it reads; for a page over raw events one")
    print("statement over the files its answer needs; each checked row for row against the page first.")
    print("A rollup floor has four forms, its statement over the rollup's glob and over the paths of its")
    print("days' files, each fetched as a DataFrame and as NumPy arrays, each timed in every round: the")
    print("ratios are against the one with the lowest median (the others' medians in brackets).")
    with_floor = [p for p in calls if p in ROLLUP_FLOORS or p in RAW_FLOOR_PAGES]
    for page in with_floor:
        shown: list[str] = []
        for key in ranges:
            if floors[page, key] is None:
                shown.append(f"{key}: the floor's rows differ from the page's, no ratio")
                continue
            spread, floor_s, other = _against_floor(page_runs[page, key], floor_runs[page, key], 0)
            low, high = min(spread), max(spread)
            aside = "".join(f" ({variant} {median(t):.3f}s)" for variant, t in other.items())
            shown.append(f"{key}: {median(spread):.2f}x ({low:.2f}-{high:.2f}), floor {floor_s:.3f}s{aside}")
        print(f"{page:32}" + "   ".join(shown))
    print("\nthe same pages' DuckDB statements alone (timed inside the cold call) against the floor, and")
    print("the rest of the page's time (lookups, planning, figures), medians of the rounds:")
    for page in with_floor:
        shown = []
        for key in ranges:
            if floors[page, key] is None:
                shown.append(f"{key}: no floor")
                continue
            runs = page_runs[page, key]
            statement_ratios = _against_floor(runs, floor_runs[page, key], 1)[0]
            rest = median([cold - statements for cold, statements in runs])
            shown.append(f"{key}: {median(statement_ratios):.2f}x, rest {rest * 1000:.1f} ms")
        print(f"{page:32}" + "   ".join(shown))


def _against_floor(
    runs: list[tuple[float, float]], floor: dict[str, list[float]], which: int
) -> tuple[list[float], float, dict[str, list[float]]]:
    """Each round's ``runs[i][which]`` (0: the page's cold call, 1: its statements) over the
    same round's floor, in the floor's form with the lower median (chosen by the medians, not
    round by round: the faster of two samples in each round would bias every ratio up); that
    form's median; the other forms' times."""
    chosen = min(floor, key=lambda variant: float(np.median(floor[variant])))
    ratios = [run[which] / took for run, took in zip(runs, floor[chosen], strict=True)]
    return ratios, float(np.median(floor[chosen])), {v: t for v, t in floor.items() if v != chosen}


if __name__ == "__main__":
    main()
