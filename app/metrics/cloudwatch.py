"""The bus's metrics from CloudWatch (namespace AWS/Events), in the frame of app.metrics.base.

- Series: built, not discovered. Per-rule metrics are read for every deployed rule of the
  stack with the dimensions ``{EventBusName, RuleName}`` (rules of other buses, the
  default bus and ``RuleName``-only series are not this stack's); the ``PutEvents*``
  metrics are account-wide and have no dimension
  (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html). ListMetrics
  is not used: it omits metrics without data in the last two weeks, and
  ``FailedInvocations`` is published only when it is not zero, so older failures would
  vanish from 30-day views.
- Spelling: the two ingestion-to-invocation latencies are spelled ``IngestionTo…`` and
  ``Ingestionto…`` in different places (the EventBridge docs are not consistent, accounts
  have been seen with the lower case); both spellings of each are read (:data:`SPELLINGS`)
  and merged, at the price of twice the latency queries.
- Reading: GetMetricData, two queries per series (Sum or Average, and SampleCount), at
  most 500 queries per call, every page followed (NextToken).
- Periods are legal for the age of the range's start (a multiple of 60 s up to 15 days
  old, of 300 s up to 63 days, of 3600 s beyond) and never finer than :data:`MAX_POINTS`
  points (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html).
- A count series with no data point in a period is 0 there; latencies have no value
  where nothing was delivered.
- Percentiles (:meth:`CloudWatchMetricsSource.latency_percentiles`): GetMetricData with
  the ``p50``/``p90``/``p99`` statistics plus SampleCount per latency series
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Statistics-definitions.html).
  Percentiles of two spellings of one series cannot be merged: the one with more samples wins.
- The lake's Firehose streams (:meth:`CloudWatchMetricsSource.firehose_health`): see
  :mod:`app.metrics.firehose`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from app.clock import now as clock_now
from app.metrics.base import COLUMNS, empty_frame
from app.metrics.firehose import firehose_queries, stream_frame
from app.metrics.local import percentile_columns
from app.metrics.names import LATENCY_METRICS, METRIC_NAMES, NAMESPACE
from app.stack_names import firehose_errors_prefix

MAX_QUERIES_PER_CALL = 500  # GetMetricData limit
MAX_POINTS = 1440  # per series and range: a day at one-minute resolution
ACCOUNT_METRICS = frozenset(name for name in METRIC_NAMES if name.startswith("PutEvents"))
# Every spelling CloudWatch may use for a metric; the first is the canonical one.
SPELLINGS: dict[str, tuple[str, ...]] = {
    name: (name, name.replace("IngestionTo", "Ingestionto")) if name.startswith("IngestionTo") else (name,)
    for name in METRIC_NAMES
}


@dataclass(frozen=True)
class Series:
    metric: str  # canonical name
    cloudwatch_name: str  # as CloudWatch spells it
    bus: str
    rule: str
    dimensions: tuple[tuple[str, str], ...]

    @property
    def is_latency(self) -> bool:
        return self.metric in LATENCY_METRICS


def build_series(metrics: Iterable[str], bus: str, rules: Iterable[str]) -> list[Series]:
    """The series of ``metrics`` for the deployed ``rules`` on ``bus``: per rule with
    ``{EventBusName, RuleName}``, account-wide ``PutEvents*`` without dimensions; every spelling."""
    rules = list(dict.fromkeys(rules))
    series = []
    for metric in dict.fromkeys(metrics):
        for spelling in SPELLINGS.get(metric, (metric,)):
            if metric in ACCOUNT_METRICS:
                series.append(Series(metric, spelling, "", "", ()))
                continue
            series += [
                Series(metric, spelling, bus, rule, (("EventBusName", bus), ("RuleName", rule)))
                for rule in rules
            ]
    return series


def granularity(start: datetime, now: datetime) -> int:
    """The period (s) a start this old must be a multiple of: CloudWatch keeps 1-minute data
    for 15 days, 5-minute data for 63 days, then hourly data."""
    age = now - start
    return 60 if age < timedelta(days=15) else 300 if age < timedelta(days=63) else 3600


def choose_period(start: datetime, end: datetime, requested_s: int, now: datetime) -> int:
    """A period CloudWatch can answer for this range: at least ``requested_s`` and a
    multiple of what it keeps for the start's age."""
    step = granularity(start, now)
    for_points = math.ceil((end - start).total_seconds() / MAX_POINTS)
    period = max(int(requested_s), for_points, step)
    return math.ceil(period / step) * step


def build_queries(series: list[Series], period_s: int) -> list[dict[str, Any]]:
    """Two queries per series: ``v<i>`` (Sum, or Average for latencies) and ``n<i>`` (SampleCount)."""
    queries = []
    for i, s in enumerate(series):
        metric = {
            "Namespace": NAMESPACE,
            "MetricName": s.cloudwatch_name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in s.dimensions],
        }
        for prefix, stat in (("v", "Average" if s.is_latency else "Sum"), ("n", "SampleCount")):
            queries.append(
                {
                    "Id": f"{prefix}{i}",
                    "ReturnData": True,
                    "MetricStat": {"Metric": metric, "Period": period_s, "Stat": stat},
                }
            )
    return queries


def percentile_stat(q: float) -> str:
    """CloudWatch's extended statistic for the q-th percentile: 99 -> "p99", 99.9 -> "p99.9"."""
    return f"p{q:g}"


def build_percentile_queries(
    series: list[Series], percentiles: tuple[float, ...], period_s: int
) -> list[dict[str, Any]]:
    """Per series ``n<i>`` (SampleCount) and ``p<j>_<i>`` (the j-th percentile's statistic)."""
    queries = []
    for i, s in enumerate(series):
        metric = {
            "Namespace": NAMESPACE,
            "MetricName": s.cloudwatch_name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in s.dimensions],
        }
        stats = [(f"n{i}", "SampleCount")] + [
            (f"p{j}_{i}", percentile_stat(q)) for j, q in enumerate(percentiles)
        ]
        queries += [
            {
                "Id": query_id,
                "ReturnData": True,
                "MetricStat": {"Metric": metric, "Period": period_s, "Stat": stat},
            }
            for query_id, stat in stats
        ]
    return queries


def percentile_frame(
    series: list[Series],
    points: Mapping[str, Mapping[datetime, float]],
    percentiles: tuple[float, ...],
    whole_range_start: datetime | None = None,
) -> pd.DataFrame:
    """The frame of :meth:`CloudWatchMetricsSource.latency_percentiles` from GetMetricData's points.

    A point is kept when it has samples. With ``whole_range_start`` every point is dated
    there and only the one with the most samples is kept per series."""
    names = percentile_columns(percentiles)
    keys = ["timestamp", "metric", "bus", "rule"]
    rows = [
        {
            "timestamp": t,
            "metric": s.metric,
            "bus": s.bus,
            "rule": s.rule,
            "samples": n,
            **{name: points.get(f"p{j}_{i}", {}).get(t, math.nan) for j, name in enumerate(names)},
        }
        for i, s in enumerate(series)
        for t, n in points.get(f"n{i}", {}).items()
        if n > 0
    ]
    if not rows:
        return pd.DataFrame(columns=[*keys, "samples", *names])
    frame = pd.DataFrame(rows)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True).astype("datetime64[ns, UTC]")
    if whole_range_start is not None:
        frame["timestamp"] = pd.Timestamp(whole_range_start).tz_convert(UTC)
    # One row per key: two spellings (or two periods of a whole range) -> the most samples.
    frame = frame.sort_values("samples", ascending=False, kind="stable").drop_duplicates(keys)
    return frame[[*keys, "samples", *names]].sort_values(keys).reset_index(drop=True)


def cloudwatch_aligned_start(start: datetime, now: datetime) -> datetime:
    """Where CloudWatch starts the first period of a request starting at ``start``: it
    rounds the start down by its age, to the minute under 15 days, to 5 minutes under 63,
    else to the hour (GetMetricData's StartTime,
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html).
    Rounding down can make the start older than a boundary: then it is rounded again."""
    aligned = start
    while True:
        step = granularity(aligned, now)
        floored = pd.Timestamp(aligned).floor(f"{step}s").to_pydatetime()
        if floored == aligned:
            return aligned
        aligned = floored


def whole_range_period(start: datetime, end: datetime, now: datetime) -> tuple[datetime, int]:
    """(aligned start, period) such that one legal period covers [start, end), starting no
    earlier than CloudWatch's own rounding of ``start``: a whole-range figure then holds
    at most that rounding's minute (or 5 minutes, or hour) before the range."""
    aligned = cloudwatch_aligned_start(start, now)
    step = granularity(aligned, now)
    return aligned, max(step, math.ceil((end - aligned).total_seconds() / step) * step)


def batches(items: list[Any], size: int = MAX_QUERIES_PER_CALL) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def points_from_results(results: Iterable[Mapping[str, Any]]) -> dict[str, dict[datetime, float]]:
    """GetMetricData's results (all pages) as {query id: {timestamp: value}}."""
    points: dict[str, dict[datetime, float]] = defaultdict(dict)
    for result in results:
        points[result["Id"]].update(zip(result.get("Timestamps", []), result.get("Values", []), strict=False))
    return points


def frame_from_points(
    series: list[Series],
    points: Mapping[str, Mapping[datetime, float]],
    start: datetime,
    end: datetime,
    period_s: int,
) -> pd.DataFrame:
    """The long frame; count series get a 0 in every period without a point."""
    grid = pd.date_range(
        pd.Timestamp(start).floor(f"{period_s}s"), pd.Timestamp(end), freq=f"{period_s}s", inclusive="left"
    )
    parts = [
        _series_frame(s, points.get(f"v{i}", {}), points.get(f"n{i}", {}), grid) for i, s in enumerate(series)
    ]
    parts = [p for p in parts if not p.empty]
    if not parts:
        return empty_frame()
    return _merge_spellings(pd.concat(parts, ignore_index=True))


def _series_frame(
    s: Series, values: Mapping[datetime, float], samples: Mapping[datetime, float], grid: pd.DatetimeIndex
) -> pd.DataFrame:
    stamps = pd.DatetimeIndex(pd.to_datetime(list(values), utc=True))
    frame = pd.DataFrame(
        {"value": list(values.values()), "samples": [samples.get(t, 0.0) for t in values]}, index=stamps
    )
    frame = frame[~frame.index.duplicated()].sort_index()
    if not s.is_latency:
        frame = frame.reindex(frame.index.union(grid)).fillna(0.0)
    frame = frame[(frame.index >= grid[0]) & (frame.index <= grid[-1])] if len(grid) else frame.iloc[0:0]
    return frame.rename_axis("timestamp").reset_index().assign(metric=s.metric, bus=s.bus, rule=s.rule)


def _merge_spellings(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (timestamp, metric, bus, rule) even when CloudWatch has two spellings."""
    frame = frame.assign(weighted=frame["value"] * frame["samples"])
    keys = ["timestamp", "metric", "bus", "rule"]
    merged = frame.groupby(keys, as_index=False)[["value", "samples", "weighted"]].sum()
    latency = merged["metric"].isin(LATENCY_METRICS)
    averaged = merged.loc[latency, "weighted"] / merged.loc[latency, "samples"].where(
        merged.loc[latency, "samples"] > 0
    )
    merged.loc[latency, "value"] = averaged.fillna(merged.loc[latency, "value"])
    merged["timestamp"] = merged["timestamp"].astype("datetime64[ns, UTC]")
    return merged[COLUMNS].sort_values(["metric", "rule", "bus", "timestamp"]).reset_index(drop=True)


def _utc(moment: datetime) -> datetime:
    """Naive datetimes are UTC, as everywhere in the app."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class CloudWatchMetricsSource:
    """:class:`app.metrics.base.MetricsSource` over CloudWatch GetMetricData."""

    def __init__(
        self,
        cloudwatch: Any,
        *,
        bus: str,
        rules: Iterable[str],
        streams: Mapping[str, str] | None = None,
        lake_bucket: str = "",
        now: Callable[[], datetime] = clock_now,
    ):
        self.cloudwatch = cloudwatch
        self.bus, self.rules = bus, tuple(rules)
        self.streams = dict(streams or {})  # lake table -> its Firehose stream
        self.lake_bucket = lake_bucket
        self._now = now

    @classmethod
    def from_settings(
        cls, session: Any, bus: str, rules: Iterable[str], **options: Any
    ) -> CloudWatchMetricsSource:
        """``options``: the constructor's ``streams`` and ``lake_bucket``."""
        from app.aws.session import client

        return cls(client(session, "cloudwatch"), bus=bus, rules=rules, **options)

    def series(self, metrics: Iterable[str]) -> list[Series]:
        """The series read for ``metrics``: always the stack's bus and rules. (The ``bus``
        argument of :meth:`get` is the protocol's; this source knows one bus, the stack's,
        which the settings may name differently when they keep the default.)"""
        return build_series(metrics, self.bus, self.rules)

    def get(
        self, metrics: list[str], start: datetime, end: datetime, period_s: int, bus: str | None = None
    ) -> pd.DataFrame:
        start, end = _utc(start), _utc(end)
        series = self.series(metrics)
        if not series:
            return empty_frame()
        period = choose_period(start, end, period_s, self._now())
        queries = build_queries(series, period)
        results = [r for batch in batches(queries) for r in self._read(batch, start, end, period)]
        return frame_from_points(series, points_from_results(results), start, end, period)

    def latency_percentiles(
        self,
        metrics: list[str],
        start: datetime,
        end: datetime,
        percentiles: tuple[float, ...] = (50, 90, 99),
        bus: str | None = None,
        period_s: int | None = None,
    ) -> pd.DataFrame:
        """Percentiles (ms) of latency metrics per rule over [start, end), or per period:
        the frame of :meth:`app.metrics.local.LocalMetricsSource.latency_percentiles`."""
        start, end = _utc(start), _utc(end)
        series = self.series([m for m in metrics if m in LATENCY_METRICS])
        if period_s is None:
            aligned, period = whole_range_period(start, end, self._now())
        else:
            period = choose_period(start, end, period_s, self._now())
            aligned = pd.Timestamp(start).floor(f"{period}s").to_pydatetime()
        queries = build_percentile_queries(series, tuple(percentiles), period)
        results = [r for batch in batches(queries) for r in self._read(batch, aligned, end)]
        return percentile_frame(
            series, points_from_results(results), tuple(percentiles), start if period_s is None else None
        )

    def firehose_health(self, start: datetime, end: datetime) -> pd.DataFrame:
        """Per lake stream over [start, end): :data:`app.metrics.firehose.STREAM_COLUMNS`,
        read in one legal period covering the range (3 queries per stream)."""
        start, end = _utc(start), _utc(end)
        aligned, period = whole_range_period(start, end, self._now())
        queries = firehose_queries(self.streams, period)
        results = [r for batch in batches(queries) for r in self._read(batch, aligned, end)]
        errors_at = {t: f"s3://{self.lake_bucket}/{firehose_errors_prefix(t)}" for t in self.streams}
        return stream_frame(self.streams, points_from_results(results), errors_at)

    def _read(
        self, queries: list[dict[str, Any]], start: datetime, end: datetime, period_s: int | None = None
    ) -> Iterator[Mapping[str, Any]]:
        # Align the start to the period: CloudWatch answers faster and the buckets line up.
        aligned = pd.Timestamp(start).floor(f"{period_s}s").to_pydatetime() if period_s else start
        kwargs: dict[str, Any] = {
            "MetricDataQueries": queries,
            "StartTime": aligned,
            "EndTime": end,
            "ScanBy": "TimestampAscending",
        }
        while True:
            page = self.cloudwatch.get_metric_data(**kwargs)
            yield from page.get("MetricDataResults", [])
            if not page.get("NextToken"):
                return
            kwargs["NextToken"] = page["NextToken"]
