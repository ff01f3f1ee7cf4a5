"""Event rates: how many events each department sends, by detail type, over time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from app.departments import BY_SOURCE
from app.services.common import (
    BUCKET_LENGTH,
    SQL_UNITS,
    arrived,
    run_sql,
    to_local_time,
    weekly,
    whole_buckets,
    with_unit,
)
from app.services.context import Context
from app.services.rollup_plan import piece_days, pieces_predicate, rollup_days, run_planned, split
from app.services.timerange import CUSTOM, TimeRange

RATES_SQL = """
SELECT date_trunc('{unit}', time) AS bucket, source, detail_type, count(*) AS events
FROM events
WHERE dt BETWEEN :dt_from AND :dt_to AND time >= :t_from AND time < :t_to
GROUP BY 1, 2, 3
"""

MINUTES_SQL = """
SELECT date_trunc('minute', time) AS minute, source, count(*) AS events
FROM events
WHERE dt BETWEEN :dt_from AND :dt_to AND time >= :t_from AND time < :t_to
GROUP BY 1, 2
"""

HOURLY_SQL = """
SELECT date_trunc('hour', time) AS hour, count(*) AS events
FROM events
WHERE dt BETWEEN :dt_from AND :dt_to AND time >= :t_from AND time < :t_to
GROUP BY 1
"""

# Events per UTC hour, source and detail type: whole hours of rolled-up days from the
# rollup (app/lake/rollups.py), the rest from the raw events; one query serves the chart,
# the table and the heatmap. ``GROUP BY 1, 2, 3``: Trino has no ``GROUP BY ALL``.
ROLLED_HOURLY_SQL = (
    "SELECT hour, source, detail_type, sum(events) AS events FROM events_hourly\n"
    "WHERE {hours} GROUP BY 1, 2, 3"
)
RAW_HOURLY_SQL = (
    "SELECT date_trunc('hour', time) AS hour, source, detail_type, count(*) AS events FROM events\n"
    "WHERE {raw} GROUP BY 1, 2, 3"
)

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
WEEK = pd.Timedelta(days=7)  # shorter ranges show detail type x time instead of the weekly pattern


@dataclass(frozen=True)
class EventRates:
    rates: pd.DataFrame  # bucket (local time), source, department, detail_type, events; whole buckets
    bucket: str  # "hour" | "day" | "week"
    heatmap: pd.DataFrame  # weekday (Mon..Sun) x hour (0..23): mean events per hour
    top: pd.DataFrame  # detail_type, department, events, share, per_day; the whole range
    by_type: pd.DataFrame  # detail type x bucket (local time): events
    weekly_pattern: bool  # the range holds a whole week: the weekday x hour heatmap means something

    @property
    def is_empty(self) -> bool:
        return self.top.empty

    @property
    def total(self) -> int:
        return int(self.top["events"].sum())


def department_name(source: str) -> str:
    department = BY_SOURCE.get(source)
    return department.name if department else source


def rates_over_time(ctx: Context, rng: TimeRange) -> pd.DataFrame:
    """bucket (UTC), source, department, detail_type, events over the whole range."""
    return _shaped_rates(run_sql(ctx, with_unit(RATES_SQL, rng), rng), rng)


def hourly_by_type(ctx: Context, rng: TimeRange, clean: frozenset[str]) -> pd.DataFrame:
    """hour (UTC), source, detail_type, events: rollups for the whole hours of ``clean``
    days, raw events for the rest."""
    pieces = split(rng.start, rng.end, clean)
    hours, params = pieces_predicate("u", pieces.rollup, "hour", hull=True)
    raw, more = pieces_predicate("r", pieces.raw, "time")
    # A branch without pieces is left out, not sent as ``WHERE false`` (a table read for nothing).
    branches = [ROLLED_HOURLY_SQL.format(hours=hours)] if pieces.rollup else []
    branches += [RAW_HOURLY_SQL.format(raw=raw)] if pieces.raw or not branches else []
    sql = "\nUNION ALL\n".join(branches)
    frame = run_planned(ctx, sql, rng, {**params, **more}, {"events": piece_days(pieces.raw)})
    frame = frame.assign(hour=pd.to_datetime(frame["hour"], utc=True), events=frame["events"].astype("int64"))
    return frame.groupby(["hour", "source", "detail_type"], as_index=False)["events"].sum()


def rates_from_hourly(hourly: pd.DataFrame, rng: TimeRange) -> pd.DataFrame:
    """What :func:`rates_over_time` returns, from :func:`hourly_by_type`'s rows."""
    unit = {"hour": "h", "day": "D"}[SQL_UNITS[rng.bucket]]
    frame = hourly.assign(bucket=hourly["hour"].dt.floor(unit))
    frame = frame.groupby(["bucket", "source", "detail_type"], as_index=False)["events"].sum()
    return _shaped_rates(frame, rng)


def _shaped_rates(frame: pd.DataFrame, rng: TimeRange) -> pd.DataFrame:
    frame = frame.assign(
        bucket=pd.to_datetime(frame["bucket"], utc=True), events=frame["events"].astype("int64")
    )
    if rng.bucket == "week":
        frame = weekly(frame, "bucket", ["source", "detail_type"], {"events": "sum"})
    frame["department"] = frame["source"].map(department_name)
    return frame.sort_values(["bucket", "source", "detail_type"]).reset_index(drop=True)


def chart_rates(rates: pd.DataFrame, rng: TimeRange, timezone: str) -> pd.DataFrame:
    """The whole buckets only, in the time zone pages show."""
    shown = whole_buckets(rates, "bucket", BUCKET_LENGTH[rng.bucket], rng)
    return shown.assign(bucket=to_local_time(shown["bucket"], timezone)).reset_index(drop=True)


def weekday_hour_heatmap(hourly: pd.DataFrame, timezone: str) -> pd.DataFrame:
    """Mean events per hour for each weekday and hour of the day, in ``timezone``.

    ``hourly`` has ``hour`` (UTC instants) and ``events``; hours without events count as 0
    only between the first and last hour seen, so a short range is not diluted.
    """
    if hourly.empty:
        return pd.DataFrame(0.0, index=list(WEEKDAYS), columns=range(24))
    counts = hourly.assign(hour=pd.to_datetime(hourly["hour"], utc=True)).set_index("hour")["events"]
    full = pd.date_range(counts.index.min(), counts.index.max(), freq="h")
    counts = counts.groupby(level=0).sum().reindex(full, fill_value=0)
    local = counts.index.tz_convert(timezone)
    table = counts.groupby([local.day_of_week, local.hour]).mean().unstack(fill_value=0.0)
    table = table.reindex(index=range(7), columns=range(24), fill_value=0.0)
    table.index = list(WEEKDAYS)
    return table


def top_detail_types(rates: pd.DataFrame, rng: TimeRange) -> pd.DataFrame:
    days = max(rng.duration.total_seconds() / 86_400, 1 / 24)
    top = rates.groupby(["detail_type", "department"], as_index=False)["events"].sum()
    total = top["events"].sum()
    top["share"] = top["events"] / total if total else 0.0
    top["per_day"] = top["events"] / days
    return top.sort_values("events", ascending=False).reset_index(drop=True)


def event_rates(ctx: Context, rng: TimeRange, *, rollups: bool = True) -> EventRates:
    """``rollups``: one query over the rollups and the raw rest (the same figures); False:
    two queries over every raw event of the range."""
    clean = rollup_days(ctx, rng) if rollups else frozenset()
    if clean:
        by_type = hourly_by_type(ctx, rng, clean)
        rates = rates_from_hourly(by_type, rng)
        hourly = by_type.groupby("hour", as_index=False)["events"].sum()
    else:
        rates = rates_over_time(ctx, rng)
        hourly = run_sql(ctx, HOURLY_SQL, rng)
    shown = chart_rates(rates, arrived(ctx, rng), ctx.settings.timezone)
    return EventRates(
        shown,
        rng.bucket,
        weekday_hour_heatmap(hourly, ctx.settings.timezone),
        top_detail_types(rates, rng),
        detail_type_heatmap(shown),
        rng.duration >= WEEK,
    )


def detail_type_heatmap(rates: pd.DataFrame) -> pd.DataFrame:
    """Events per detail type (rows, busiest first) and bucket (columns)."""
    table = rates.pivot_table(
        index="detail_type", columns="bucket", values="events", aggfunc="sum", fill_value=0
    )
    return table.loc[table.sum(axis=1).sort_values(ascending=False).index]


def recent_rates(ctx: Context, now: datetime, minutes: int = 60) -> pd.DataFrame:
    """Events per whole minute and department over the last ``minutes`` (the live view):
    minute (local time), department, events; the minute under way is left out, and on AWS
    the minutes still in Firehose's buffer (:func:`arrived`)."""
    end = pd.Timestamp(now - ctx.lake_delay).floor("min").to_pydatetime()
    rng = TimeRange(end - timedelta(minutes=minutes), end, CUSTOM, f"last {minutes} minutes")
    frame = run_sql(ctx, MINUTES_SQL, rng)
    frame = frame.assign(
        department=frame["source"].map(department_name), events=frame["events"].astype("int64")
    )
    per_minute = frame.groupby(["minute", "department"], as_index=False)["events"].sum()
    per_minute["minute"] = to_local_time(per_minute["minute"], ctx.settings.timezone)
    return per_minute.sort_values(["minute", "department"]).reset_index(drop=True)
