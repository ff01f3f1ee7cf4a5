"""Event rates: how many events each department sends, by detail type, over time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

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
from app.services.rollup_plan import (
    Columns,
    piece_days,
    pieces_predicate,
    rollup_days,
    run_planned,
    run_planned_columns,
    split,
    whole_numbers,
)
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
# the table and the heatmap. The rollup's rows as they are (one per hour, source and detail
# type of a day's file; an hour read twice is summed after, as the two branches' are): a
# GROUP BY there cost 10 ms of a year's 0.08 s. ``GROUP BY 1, 2, 3``: Trino has no
# ``GROUP BY ALL``.
ROLLED_HOURLY_SQL = "SELECT hour, source, detail_type, events FROM events_hourly\nWHERE {hours}"
RAW_HOURLY_SQL = (
    "SELECT date_trunc('hour', time) AS hour, source, detail_type, count(*) AS events FROM events\n"
    "WHERE {raw} GROUP BY 1, 2, 3"
)
# Ranges drawn in weeks: the same hours summed in the database into UTC weeks from Monday
# per source and detail type (``by_bucket`` 1) and into hours over every source (0, the
# weekday x hour heatmap), instead of every hour x source x detail type reaching Python
# (a year: 109,000 rows become 3,000 weeks and 8,760 hours; the page 0.11 -> 0.09 s on the
# 30M bench lake). At 30 days (9,000 rows) the grouping cost more than it saved (0.021 ->
# 0.025 s): shorter ranges read hours. date_trunc's week starts on Monday in Trino and
# DuckDB, as :meth:`_Counts.rows` makes weeks of hours.
BUCKETED_SQL = """
SELECT bucket, source, detail_type, hour, grouping(hour) AS by_bucket, CAST(sum(events) AS BIGINT) AS events
FROM (
  SELECT date_trunc('{unit}', hour) AS bucket, hour, source, detail_type, events FROM ({hourly}) AS h
) AS b
GROUP BY GROUPING SETS ((bucket, source, detail_type), (hour))
"""

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


def _department_names(sources: pd.Index) -> pd.api.extensions.ExtensionArray:
    """``pd.Series(sources).map(department_name).array``; sources of a string dtype (the
    engines' strings) mapped in a list and given back their dtype, as map gives it (a
    Series and map cost 0.1 ms for the 8 names)."""
    if isinstance(sources.dtype, pd.StringDtype):
        return pd.array([department_name(source) for source in sources.tolist()], dtype=sources.dtype)
    return pd.Series(sources).map(department_name).array


def rates_over_time(ctx: Context, rng: TimeRange) -> pd.DataFrame:
    """bucket (UTC), source, department, detail_type, events over the whole range."""
    return _shaped_rates(run_sql(ctx, with_unit(RATES_SQL, rng), rng), rng)


def hourly_by_type(ctx: Context, rng: TimeRange, clean: frozenset[str]) -> pd.DataFrame:
    """hour (UTC), source, detail_type, events: rollups for the whole hours of ``clean``
    days, raw events for the rest."""
    frame = _hourly_rows(ctx, rng, clean)
    frame = frame.assign(hour=pd.to_datetime(frame["hour"], utc=True), events=frame["events"].astype("int64"))
    return frame.groupby(["hour", "source", "detail_type"], as_index=False)["events"].sum()


def _hourly_rows(
    ctx: Context, rng: TimeRange, clean: frozenset[str], *, bucketed: bool = False, arrays: bool = False
) -> Any:
    """:func:`hourly_by_type`'s query: an hour can come twice (rollup and raw branches).
    ``bucketed``: BUCKETED_SQL of those rows (a range drawn in weeks). Its rows as a frame
    or (``arrays``) as :func:`run_planned_columns` gives them."""
    pieces = split(rng.start, rng.end, clean)
    hours, params = pieces_predicate("u", pieces.rollup, "hour", hull=True)
    raw, more = pieces_predicate("r", pieces.raw, "time")
    # A branch without pieces is left out, not sent as ``WHERE false`` (a table read for nothing).
    branches = [ROLLED_HOURLY_SQL.format(hours=hours)] if pieces.rollup else []
    branches += [RAW_HOURLY_SQL.format(raw=raw)] if pieces.raw or not branches else []
    sql = "\nUNION ALL\n".join(branches)
    if bucketed:
        sql = BUCKETED_SQL.format(unit=rng.bucket, hourly=sql)  # a unit of TimeRange.bucket
    days = {"events": piece_days(pieces.raw), "events_hourly": piece_days(pieces.rollup)}
    run = run_planned_columns if arrays else run_planned
    return run(ctx, sql, rng, {**params, **more}, days)


@dataclass(frozen=True)
class _Counts:
    """Rows of events per UTC hour, source and detail type as integers, to be summed by
    array index rather than grouped as frames (the page's pandas cost was most of its time):
    ``hour`` in ticks of ``unit`` since the epoch, ``pair`` the source and detail type as
    ``source * len(types) + detail_type``, positions in the sorted ``sources``/``types``.
    Rows with a missing key are left out, as groupby does."""

    hour: np.ndarray
    pair: np.ndarray
    events: np.ndarray
    sources: pd.Index
    types: pd.Index
    unit: str

    @classmethod
    def of(cls, rows: pd.DataFrame | Columns) -> _Counts:
        """The counts of a frame or of a statement's columns (hour, source, detail_type, events)."""
        hour, unit = _ticks(rows["hour"])
        # In order of appearance; the distinct values an Index (a frame's) or an array (a statement's).
        source, sources = pd.factorize(rows["source"])
        detail_type, types = pd.factorize(rows["detail_type"])
        events = whole_numbers(rows["events"])
        keep = (source >= 0) & (detail_type >= 0) & (hour != NAT)
        if not keep.all():
            hour, source, detail_type, events = hour[keep], source[keep], detail_type[keep], events[keep]
        # Sorted as factorize(sort=True) sorts them, every row renumbered by one lookup in a
        # table of the pairs rather than each column's rows by their own.
        by_source, by_type = _order(sources), _order(types)
        pairs = _positions(by_source)[:, None] * len(types) + _positions(by_type)
        pair = pairs.ravel()[source * len(types) + detail_type]
        return cls(hour, pair, events, _in_order(sources, by_source), _in_order(types, by_type), unit)

    def tick(self, length: pd.Timedelta) -> int:
        return int(length // pd.Timedelta(1, self.unit))

    def rows(self, rng: TimeRange) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The rows :func:`rates_over_time` returns, in its order (bucket, source, detail
        type): each one's bucket of UTC hours, days or weeks from Monday (ticks), source x
        detail type pair (``source * len(types) + detail_type``) and events."""
        length, start = self.tick(BUCKET_LENGTH[rng.bucket]), 0
        if rng.bucket == "week":  # weeks from Monday 1969-12-29, the epoch's first day a Thursday
            start = -3 * self.tick(pd.Timedelta(days=1))
        index = (self.hour - start) // length
        first = int(index.min()) if len(index) else 0
        width = len(self.sources) * len(self.types)
        keys, events = _sums((index - first) * width + self.pair, self.events)
        return start + (first + keys // width) * length, keys % width, events

    def shaped(
        self, rng: TimeRange, shown: TimeRange, timezone: str, heatmap: pd.DataFrame | None = None
    ) -> EventRates:
        """What the raw path makes of the same rows (:func:`chart_rates` of ``shown``,
        :func:`top_detail_types`, :func:`detail_type_heatmap`, :func:`weekday_hour_heatmap`),
        the frames built once from the summed arrays: no frame of UTC rates in between, no
        string column factorized again, the local time of each bucket computed once.
        ``heatmap``: the weekday x hour heatmap, when these rows are not hours."""
        bucket, pair, events = self.rows(rng)
        source, detail_type = np.divmod(pair, len(self.types))
        names = _department_names(self.sources)  # once per distinct source
        ordered = sorted(set(names))  # as factorize(sort=True) orders them (code points, UTF-8 bytes)
        position = {name: i for i, name in enumerate(ordered)}
        department = np.array([position[name] for name in names], dtype="int64")
        departments = pd.array(ordered, dtype=names.dtype)
        top = _top_frame(
            self.types, departments, *_sums(detail_type * len(departments) + department[source], events), rng
        )
        # The whole buckets of ``shown``: a slice, the rows being in bucket order.
        inside = slice(*np.searchsorted(bucket, _whole_bucket_ticks(shown, rng.bucket, self.unit), "left"))
        distinct, row_bucket = np.unique(bucket[inside], return_inverse=True)
        wall = _wall_ticks(distinct, self.unit, timezone)
        source, detail_type, events = source[inside], detail_type[inside], events[inside]
        rates = pd.DataFrame(
            {
                "bucket": wall[row_bucket].astype(f"datetime64[{self.unit}]"),
                "source": self.sources.take(source),
                "detail_type": self.types.take(detail_type),
                "events": events,
                "department": names.take(source),
            },
            copy=False,  # arrays made here, for this frame only
        )
        # Detail type x local bucket: the two UTC hours a clock going back reads alike are one column.
        columns, column = np.unique(wall, return_inverse=True)
        seen = np.flatnonzero(np.bincount(detail_type, minlength=len(self.types)))
        row = np.zeros(len(self.types), dtype="int64")
        row[seen] = np.arange(len(seen))
        cells = np.bincount(
            row[detail_type] * len(columns) + column[row_bucket],
            weights=events,
            minlength=len(seen) * len(columns),
        )
        by_type = _busiest_first(
            cells.astype("int64").reshape(len(seen), len(columns)),
            self.types.take(seen),
            pd.DatetimeIndex(columns.astype(f"datetime64[{self.unit}]")),
        )
        if heatmap is None:
            heatmap = _weekday_hour_means(self.hour, self.events, self.unit, timezone)
        return EventRates(rates, rng.bucket, heatmap, top, by_type, rng.duration >= WEEK)


NAT = np.iinfo(np.int64).min  # NaT's integer


def _order(distinct: pd.Index | np.ndarray) -> np.ndarray:
    """The argsort of a few distinct names, in Python: an Index of text sorts them in the
    same order (code points, as UTF-8 bytes compare) at about 0.1 ms."""
    names = distinct.tolist()
    return np.array(sorted(range(len(names)), key=names.__getitem__), dtype=np.intp)


def _in_order(distinct: pd.Index | np.ndarray, order: np.ndarray) -> pd.Index:
    """``distinct`` in ``order`` as an Index: a frame's of its own type, a statement's of
    text as its frame would have (objects when there are no rows, as DuckDB gives an empty
    frame's text columns)."""
    if isinstance(distinct, pd.Index):
        return distinct.take(order)
    return pd.Index(distinct[order], dtype="str" if len(distinct) else object)


def _ticks(series: pd.Series | np.ndarray) -> tuple[np.ndarray, str]:
    """Instants (naive ones in UTC) as integers since the epoch (UTC) and their unit."""
    if isinstance(series, np.ndarray) and series.dtype.kind == "M":  # a statement's column
        return series.view("int64"), np.datetime_data(series.dtype)[0]
    if not isinstance(series.dtype, pd.DatetimeTZDtype):
        series = pd.to_datetime(series, utc=True)
    unit = str(series.dtype.unit)
    return series.to_numpy(dtype=f"datetime64[{unit}]").view("int64"), unit  # UTC, NaT as NAT


def _positions(order: np.ndarray) -> np.ndarray:
    """Where each item goes in the order ``order`` (an argsort) puts them: its inverse."""
    positions = np.empty(len(order), dtype="int64")
    positions[order] = np.arange(len(order))
    return positions


def _moments(ticks: np.ndarray, unit: str) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(ticks.astype(f"datetime64[{unit}]")).tz_localize("UTC")


def _wall_ticks(ticks: np.ndarray, unit: str, timezone: str) -> np.ndarray:
    """UTC instants (ticks of ``unit`` since the epoch) as the clock in ``timezone`` reads
    them, in ticks of the same unit from the clock's 1970-01-01 00:00."""
    if timezone == "UTC":
        return ticks
    wall = _moments(ticks, unit).tz_convert(timezone).tz_localize(None)
    return wall.to_numpy(dtype=f"datetime64[{unit}]").view("int64")


def _whole_bucket_ticks(rng: TimeRange, bucket: str, unit: str) -> np.ndarray:
    """The first and one past the last bucket start (ticks of ``unit``) whose bucket
    ``[t, t + length)`` lies inside ``rng``, ``length`` that of ``bucket`` (as
    :func:`chart_rates` has it): :func:`whole_buckets` on integers."""
    tick = pd.Timedelta(1, unit).value  # nanoseconds
    start, last = pd.Timestamp(rng.start).value, pd.Timestamp(rng.end).value - BUCKET_LENGTH[bucket].value
    return np.array([-(-start // tick), last // tick + 1], dtype="int64")


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


def chart_rates(
    rates: pd.DataFrame, rng: TimeRange, timezone: str, bucket: str | None = None
) -> pd.DataFrame:
    """The whole buckets of ``rng`` only, in the time zone pages show. ``bucket``: the one
    ``rates`` are summed in when ``rng`` is shorter than their range (:func:`arrived`: a
    range of 8 days and 3 minutes is drawn in days, cut by 5 minutes it would be hours)."""
    shown = whole_buckets(rates, "bucket", BUCKET_LENGTH[bucket or rng.bucket], rng)
    return shown.assign(bucket=to_local_time(shown["bucket"], timezone)).reset_index(drop=True)


def weekday_hour_heatmap(hourly: pd.DataFrame | Columns, timezone: str) -> pd.DataFrame:
    """Mean events per hour for each weekday and hour of the day, in ``timezone``.

    ``hourly`` has ``hour`` (UTC instants, whole hours) and ``events``; hours without
    events count as 0 only between the first and last hour seen, so a short range is not
    diluted.
    """
    ticks, unit = _ticks(hourly["hour"])
    seen = ticks != NAT
    events = whole_numbers(hourly["events"])
    return _weekday_hour_means(ticks[seen], events[seen], unit, timezone)


def _weekday_hour_means(ticks: np.ndarray, events: np.ndarray, unit: str, timezone: str) -> pd.DataFrame:
    """:func:`weekday_hour_heatmap` of whole UTC hours in ticks of ``unit`` since the epoch."""
    if not len(ticks):
        return pd.DataFrame(0.0, index=list(WEEKDAYS), columns=range(24))
    hour = int(pd.Timedelta(hours=1) // pd.Timedelta(1, unit))
    first = int(ticks.min())
    per_hour = np.bincount((ticks - first) // hour, weights=events)  # every hour first..last
    wall = _wall_ticks(first + np.arange(len(per_hour)) * hour, unit, timezone)
    day = 24 * hour
    cell = (wall // day + 3) % 7 * 24 + wall // hour % 24  # Monday 0; the epoch's first day was a Thursday
    total = np.bincount(cell, weights=per_hour, minlength=7 * 24)
    hours = np.bincount(cell, minlength=7 * 24)
    means = np.divide(total, hours, out=np.zeros(7 * 24), where=hours > 0)
    return pd.DataFrame(means.reshape(7, 24), index=list(WEEKDAYS), columns=range(24))


def top_detail_types(rates: pd.DataFrame, rng: TimeRange) -> pd.DataFrame:
    (types, departments), keys, events = _grouped(rates, ["detail_type", "department"])
    return _top_frame(types, departments, keys, events, rng)


def _top_frame(
    types: pd.Index, departments: pd.Index, keys: np.ndarray, events: np.ndarray, rng: TimeRange
) -> pd.DataFrame:
    """:func:`top_detail_types` of the (detail type, department) groups present (``keys``:
    ``type * len(departments) + department``, ascending) and their events."""
    days = max(rng.duration.total_seconds() / 86_400, 1 / 24)
    total = events.sum()
    order = _descending(events)
    keys, events = keys[order], events[order]
    return pd.DataFrame(
        {
            "detail_type": types.take(keys // len(departments)),
            "department": departments.take(keys % len(departments)),
            "events": events,
            "share": events / total if total else np.zeros(len(events)),
            "per_day": events / days,
        },
        copy=False,  # arrays made here, for this frame only
    )


def event_rates(ctx: Context, rng: TimeRange, *, rollups: bool = True) -> EventRates:
    """``rollups``: one query over the rollups (the days the engine has) and the raw rest
    (the same figures; a range without a rolled-up day, e.g. today's hours, is all raw but
    reads only its days' folders); False: two queries over every raw event of the range."""
    if rollups:
        clean = rollup_days(ctx, rng, ("events_hourly",))
        if rng.bucket != "week":  # up to 120 days of hours: summed in Python as fast
            hourly = _hourly_rows(ctx, rng, clean, arrays=True)
            return rates_of_hourly(hourly, rng, arrived(ctx, rng), ctx.settings.timezone)
        bucketed = _hourly_rows(ctx, rng, clean, bucketed=True, arrays=True)
        return rates_of_buckets(bucketed, rng, arrived(ctx, rng), ctx.settings.timezone)
    rates = rates_over_time(ctx, rng)
    heatmap = weekday_hour_heatmap(run_sql(ctx, HOURLY_SQL, rng), ctx.settings.timezone)
    shown = chart_rates(rates, arrived(ctx, rng), ctx.settings.timezone, rng.bucket)
    return EventRates(
        shown,
        rng.bucket,
        heatmap,
        top_detail_types(rates, rng),
        detail_type_heatmap(shown),
        rng.duration >= WEEK,
    )


def rates_of_hourly(
    hourly: pd.DataFrame | Columns, rng: TimeRange, shown: TimeRange, timezone: str
) -> EventRates:
    """The page's figures from :func:`_hourly_rows`' rows (hour, source, detail_type,
    events; an hour may come twice), as the raw path gives them: ``shown`` is the range
    whose whole buckets are drawn (:func:`arrived`), ``timezone`` the one pages show."""
    return _Counts.of(hourly).shaped(rng, shown, timezone)


def rates_of_buckets(
    bucketed: pd.DataFrame | Columns, rng: TimeRange, shown: TimeRange, timezone: str
) -> EventRates:
    """:func:`rates_of_hourly` from BUCKETED_SQL's rows of the same hours: its buckets are
    summed as hours are (a bucket's start is in its own bucket), the heatmap is of its hours."""
    by_bucket = np.asarray(bucketed["by_bucket"]).astype("int64") == 1
    buckets = {"hour": bucketed["bucket"][by_bucket]}
    buckets |= {name: bucketed[name][by_bucket] for name in ("source", "detail_type", "events")}
    hours = {name: bucketed[name][~by_bucket] for name in ("hour", "events")}
    return _Counts.of(buckets).shaped(rng, shown, timezone, weekday_hour_heatmap(hours, timezone))


def detail_type_heatmap(rates: pd.DataFrame) -> pd.DataFrame:
    """Events per detail type (rows, busiest first) and bucket (columns)."""
    (types, buckets), keys, events = _grouped(rates, ["detail_type", "bucket"])
    cells = np.zeros(len(types) * len(buckets), dtype="int64")
    cells[keys] = events
    return _busiest_first(cells.reshape(len(types), len(buckets)), types, buckets)


def _descending(values: np.ndarray) -> np.ndarray:
    """The order ``sort_values(ascending=False)`` puts integers in, ties included: pandas'
    nargsort reverses them, argsorts (quicksort) and reverses the result. Without building a
    Series for a few numbers (0.1 ms in the page's run); tests/services/test_event_rates_hourly.py
    checks the tables against sort_values."""
    backwards = np.arange(len(values))[::-1]
    return backwards[values[::-1].argsort(kind="quicksort")][::-1]


def _busiest_first(cells: np.ndarray, types: pd.Index, buckets: pd.Index) -> pd.DataFrame:
    """The detail type x bucket table of ``cells``, its rows ordered as
    ``table.loc[table.sum(axis=1).sort_values(ascending=False).index]`` orders them."""
    order = _descending(cells.sum(axis=1))
    return pd.DataFrame(
        cells[order], index=types.take(order).rename("detail_type"), columns=buckets.rename("bucket")
    )


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
