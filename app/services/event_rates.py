"""Event rates: how many events each department sends, by detail type, over time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from app.departments import BY_SOURCE
from app.services.common import (
    BUCKET_LENGTH,
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
# the table and the heatmap. ``GROUP BY 1, 2, 3``: Trino has no ``GROUP BY ALL``. The cast:
# DuckDB sums BIGINT into HUGEINT, which reaches pandas as float to be checked and converted
# back row by row (Athena's sum of a bigint is a bigint already).
ROLLED_HOURLY_SQL = (
    "SELECT hour, source, detail_type, CAST(sum(events) AS BIGINT) AS events FROM events_hourly\n"
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
    frame = _hourly_rows(ctx, rng, clean)
    frame = frame.assign(hour=pd.to_datetime(frame["hour"], utc=True), events=frame["events"].astype("int64"))
    return frame.groupby(["hour", "source", "detail_type"], as_index=False)["events"].sum()


def _hourly_rows(ctx: Context, rng: TimeRange, clean: frozenset[str]) -> pd.DataFrame:
    """:func:`hourly_by_type`'s query: an hour can come twice (rollup and raw branches)."""
    pieces = split(rng.start, rng.end, clean)
    hours, params = pieces_predicate("u", pieces.rollup, "hour", hull=True)
    raw, more = pieces_predicate("r", pieces.raw, "time")
    # A branch without pieces is left out, not sent as ``WHERE false`` (a table read for nothing).
    branches = [ROLLED_HOURLY_SQL.format(hours=hours)] if pieces.rollup else []
    branches += [RAW_HOURLY_SQL.format(raw=raw)] if pieces.raw or not branches else []
    sql = "\nUNION ALL\n".join(branches)
    days = {"events": piece_days(pieces.raw), "events_hourly": piece_days(pieces.rollup)}
    return run_planned(ctx, sql, rng, {**params, **more}, days)


@dataclass(frozen=True)
class _Counts:
    """Rows of events per UTC hour, source and detail type as integers, to be summed by
    array index rather than grouped as frames (the page's pandas cost was most of its time):
    ``hour`` in ticks of ``unit`` since the epoch, ``source``/``detail_type`` positions in
    the sorted ``sources``/``types``. Rows with a missing key are left out, as groupby does."""

    hour: np.ndarray
    source: np.ndarray
    detail_type: np.ndarray
    events: np.ndarray
    sources: pd.Index
    types: pd.Index
    unit: str

    @classmethod
    def of(cls, frame: pd.DataFrame) -> _Counts:
        hour, unit = _ticks(frame["hour"])
        source, sources = pd.factorize(frame["source"], sort=True)
        detail_type, types = pd.factorize(frame["detail_type"], sort=True)
        keep = (source >= 0) & (detail_type >= 0) & (hour != NAT)
        events = frame["events"].to_numpy(dtype="int64")
        return cls(hour[keep], source[keep], detail_type[keep], events[keep], sources, types, unit)

    def tick(self, length: pd.Timedelta) -> int:
        return int(length // pd.Timedelta(1, self.unit))

    def rates(self, rng: TimeRange) -> pd.DataFrame:
        """What :func:`rates_over_time` returns: buckets of UTC hours, days or weeks from Monday."""
        length = self.tick(BUCKET_LENGTH[rng.bucket])
        if rng.bucket == "week":
            day = self.tick(pd.Timedelta(days=1))
            days = self.hour // day
            bucket = (days - (days + 3) % 7) * day  # the epoch's first day was a Thursday
        else:
            bucket = self.hour // length * length
        first = int(bucket.min()) if len(bucket) else 0
        width = len(self.sources) * len(self.types)
        pair = self.source * len(self.types) + self.detail_type
        keys, events = _sums((bucket - first) // length * width + pair, self.events)
        source = keys % width // len(self.types)
        departments = pd.Series(self.sources).map(department_name).array
        return pd.DataFrame(
            {
                "bucket": _moments(first + keys // width * length, self.unit),
                "source": self.sources.take(source),
                "detail_type": self.types.take(keys % len(self.types)),
                "events": events,
                "department": departments.take(source),
            }
        )

    def heatmap(self, timezone: str) -> pd.DataFrame:
        """:func:`weekday_hour_heatmap` of these rows."""
        return _weekday_hour_means(self.hour, self.events, self.unit, timezone)


NAT = np.iinfo(np.int64).min  # NaT's integer


def _ticks(series: pd.Series) -> tuple[np.ndarray, str]:
    """Instants as integers since the epoch (UTC) and their unit."""
    moments = pd.to_datetime(series, utc=True)
    unit = str(moments.dt.unit)
    return moments.dt.tz_localize(None).to_numpy().view("int64"), unit


def _moments(ticks: np.ndarray, unit: str) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(ticks.astype(f"datetime64[{unit}]")).tz_localize("UTC")


def _sums(key: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct non-negative ``key`` values, ascending, and the sum of ``values`` for each."""
    if not len(key):
        return key, values
    if int(key.max()) < 4 * len(key) + 4096:  # a dense key space: count into it directly
        present = np.flatnonzero(np.bincount(key))
        sums = np.bincount(key, weights=values)[present]
    else:
        present, inverse = np.unique(key, return_inverse=True)
        sums = np.bincount(inverse, weights=values)
    # Float sums of integers are exact below 2**53 (a year of 100M events is 2**27).
    return present, sums.astype("int64")


def _grouped(frame: pd.DataFrame, columns: list[str]) -> tuple[list[pd.Index], np.ndarray, np.ndarray]:
    """``groupby(columns)["events"].sum()`` of whole counts, as arrays: each column's sorted
    distinct values, then the groups present (their position in the product of those, in
    order) and their sums; rows with a missing key are left out."""
    codes, values = zip(*(pd.factorize(frame[column], sort=True) for column in columns), strict=True)
    key = np.zeros(len(frame), dtype="int64")
    for code, distinct in zip(codes, values, strict=True):
        key = key * len(distinct) + code
    present = np.logical_and.reduce([code >= 0 for code in codes])
    keys, sums = _sums(key[present], frame["events"].to_numpy(dtype="int64")[present])
    return list(values), keys, sums


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

    ``hourly`` has ``hour`` (UTC instants, whole hours) and ``events``; hours without
    events count as 0 only between the first and last hour seen, so a short range is not
    diluted.
    """
    ticks, unit = _ticks(hourly["hour"])
    seen = ticks != NAT
    return _weekday_hour_means(ticks[seen], hourly["events"].to_numpy(dtype="int64")[seen], unit, timezone)


def _weekday_hour_means(ticks: np.ndarray, events: np.ndarray, unit: str, timezone: str) -> pd.DataFrame:
    """:func:`weekday_hour_heatmap` of whole UTC hours in ticks of ``unit`` since the epoch."""
    if not len(ticks):
        return pd.DataFrame(0.0, index=list(WEEKDAYS), columns=range(24))
    hour = int(pd.Timedelta(hours=1) // pd.Timedelta(1, unit))
    first = int(ticks.min())
    per_hour = np.bincount((ticks - first) // hour, weights=events)  # every hour first..last
    local = _moments(first + np.arange(len(per_hour)) * hour, unit).tz_convert(timezone)
    cell = local.day_of_week.to_numpy() * 24 + local.hour.to_numpy()
    total = np.bincount(cell, weights=per_hour, minlength=7 * 24)
    hours = np.bincount(cell, minlength=7 * 24)
    means = np.divide(total, hours, out=np.zeros(7 * 24), where=hours > 0)
    return pd.DataFrame(means.reshape(7, 24), index=list(WEEKDAYS), columns=range(24))


def top_detail_types(rates: pd.DataFrame, rng: TimeRange) -> pd.DataFrame:
    days = max(rng.duration.total_seconds() / 86_400, 1 / 24)
    (types, departments), keys, events = _grouped(rates, ["detail_type", "department"])
    total = events.sum()
    top = pd.DataFrame(
        {
            "detail_type": types.take(keys // len(departments)),
            "department": departments.take(keys % len(departments)),
            "events": events,
            "share": events / total if total else np.zeros(len(events)),
            "per_day": events / days,
        }
    )
    return top.sort_values("events", ascending=False, ignore_index=True)


def event_rates(ctx: Context, rng: TimeRange, *, rollups: bool = True) -> EventRates:
    """``rollups``: one query over the rollups (the days the engine has) and the raw rest
    (the same figures; a range without a rolled-up day, e.g. today's hours, is all raw but
    reads only its days' folders); False: two queries over every raw event of the range."""
    if rollups:
        counts = _Counts.of(_hourly_rows(ctx, rng, rollup_days(ctx, rng, ("events_hourly",))))
        rates, heatmap = counts.rates(rng), counts.heatmap(ctx.settings.timezone)
    else:
        rates = rates_over_time(ctx, rng)
        heatmap = weekday_hour_heatmap(run_sql(ctx, HOURLY_SQL, rng), ctx.settings.timezone)
    shown = chart_rates(rates, arrived(ctx, rng), ctx.settings.timezone)
    return EventRates(
        shown,
        rng.bucket,
        heatmap,
        top_detail_types(rates, rng),
        detail_type_heatmap(shown),
        rng.duration >= WEEK,
    )


def detail_type_heatmap(rates: pd.DataFrame) -> pd.DataFrame:
    """Events per detail type (rows, busiest first) and bucket (columns)."""
    (types, buckets), keys, events = _grouped(rates, ["detail_type", "bucket"])
    cells = np.zeros(len(types) * len(buckets), dtype="int64")
    cells[keys] = events
    table = pd.DataFrame(
        cells.reshape(len(types), len(buckets)),
        index=types.rename("detail_type"),
        columns=buckets.rename("bucket"),
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
