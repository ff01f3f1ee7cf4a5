"""What every service shares: running lake SQL over a time range, and putting query
results into the shape pages draw (local time, whole buckets, weeks)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pandas as pd

from app import clock
from app.engines.sqlparams import parse_query, placeholders
from app.services.context import Context
from app.services.timerange import TimeRange

# date_trunc units a query may be written for. Units are SQL keywords chosen from this
# table by the range, never user input; values are always bound parameters.
SQL_UNITS = {"hour": "hour", "day": "day", "week": "day"}  # weeks: daily rows, resampled here


def run_sql(ctx: Context, sql: str, rng: TimeRange, **extra: Any) -> pd.DataFrame:
    """Run Athena SQL whose ``:dt_from :dt_to :t_from :t_to`` come from ``rng``.

    Engines refuse a value without a placeholder, so only the range bounds the SQL uses
    are passed.
    """
    used = set(placeholders(parse_query(sql)))
    params = {k: v for k, v in rng.params().items() if k in used}
    return ctx.engine.run(sql, {**params, **extra}).frame


def with_unit(sql: str, rng: TimeRange) -> str:
    """``sql`` with ``{unit}`` replaced by the date_trunc unit for the range's bucket."""
    return sql.replace("{unit}", SQL_UNITS[rng.bucket])


def in_list(name: str, values: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """``(:name0, :name1, …)`` and its bindings: a variable-length IN list, still bound."""
    params = {f"{name}{i}": value for i, value in enumerate(values)}
    return "(" + ", ".join(f":{key}" for key in params) + ")", params


def arrived(ctx: Context, rng: TimeRange, now: datetime | None = None) -> TimeRange:
    """``rng`` ending where the lake is complete: on AWS Firehose still holds the newest
    ``ctx.lake_delay`` (its buffer interval), and a chart drawn up to now would show a
    false drop at its right edge. Whole buckets are then counted up to that edge only."""
    if not ctx.lake_delay:
        return rng
    edge = (now or clock.now()) - ctx.lake_delay
    if rng.end <= edge:
        return rng
    return TimeRange(rng.start, max(rng.start, edge), rng.preset, rng.label)


def still_arriving(ctx: Context, rng: TimeRange, now: datetime | None = None) -> str | None:
    """One sentence for a chart of ``rng`` that :func:`arrived` trims (None when it does not)."""
    if arrived(ctx, rng, now) == rng:
        return None
    minutes = ctx.lake_delay.total_seconds() / 60
    return (
        f"The newest {minutes:g} minutes may still be in Firehose's buffers (1.5 × "
        "FirehoseBufferSeconds, as it partitions the lake by day and source) and are not drawn yet."
    )


def to_local_time(series: pd.Series, timezone: str) -> pd.Series:
    """UTC instants shown in the settings' time zone (naive, as charts label them)."""
    moments = pd.to_datetime(series, utc=True)
    return moments.dt.tz_convert(timezone).dt.tz_localize(None)


def to_day(series: pd.Series) -> pd.Series:
    """Dates or instants as midnight timestamps (one dtype for charts and joins)."""
    moments = pd.to_datetime(series)
    if getattr(moments.dt, "tz", None) is not None:
        moments = moments.dt.tz_convert("UTC").dt.tz_localize(None)
    return moments.dt.normalize().astype("datetime64[ns]")


BUCKET_LENGTH = {"hour": pd.Timedelta(hours=1), "day": pd.Timedelta(days=1), "week": pd.Timedelta(days=7)}


def whole_buckets(frame: pd.DataFrame, column: str, length: pd.Timedelta, rng: TimeRange) -> pd.DataFrame:
    """Rows whose bucket ``[t, t + length)`` lies inside the range (``column`` in UTC).

    A bucket still under way, or cut by the range's start, holds part of a period and
    would be drawn as a sudden drop.
    """
    moments = pd.to_datetime(frame[column], utc=True)
    inside = (moments >= pd.Timestamp(rng.start)) & (moments + length <= pd.Timestamp(rng.end))
    return frame[inside]


def weekly(frame: pd.DataFrame, time_column: str, keys: list[str], values: Mapping[str, str]) -> pd.DataFrame:
    """Daily rows summed into weeks starting on Monday."""
    grouper = pd.Grouper(key=time_column, freq="W-MON", label="left", closed="left")
    return frame.groupby([grouper, *keys], as_index=False).agg(
        **{column: (column, how) for column, how in values.items()}
    )
