"""The local bus's metrics: recorded under CloudWatch's names, stored beside the lake.

Like CloudWatch, older data is kept coarser
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#Metric):
1-minute points for 15 days, 5-minute points up to 63 days, 1-hour points after that.
That keeps a year of seeded history small and makes a long range cheap to read.

Files: ``<lake>/_bus_metrics/dt=YYYY-MM-DD/part-*.parquet`` (not a Glue table: on AWS the
same numbers come from CloudWatch).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from app.lake.writer import write_parquet_atomic
from app.metrics.base import COLUMNS, LATENCY_METRICS, empty_frame

METRICS_DIR = "_bus_metrics"
SCHEMA = pa.schema([
    ("timestamp", pa.timestamp("ms", tz="UTC")),
    ("metric", pa.string()),
    ("bus", pa.string()),
    ("rule", pa.string()),
    ("value", pa.float64()),
    ("samples", pa.float64()),
])


DAY_S = 86_400


def resolution_s(age: timedelta) -> int:
    """CloudWatch's retention steps: the period a point of this age is kept at."""
    return _resolution_for_age_s(age.total_seconds())


def _resolution_for_age_s(age_s: float) -> int:
    if age_s <= 15 * DAY_S:
        return 60
    if age_s <= 63 * DAY_S:
        return 300
    return 3600


class MetricsRecorder:
    """Accumulates per-period sums and sample counts in memory; ``flush`` writes them."""

    def __init__(self, lake: Path, bus: str, now: datetime | None = None):
        self.root = Path(lake) / METRICS_DIR
        self.bus = bus
        self._now_s = now.timestamp() if now else None  # fixed "now" for seeding history; None = wall clock
        self._points: dict[tuple[int, str, str], list[float]] = {}

    def _bucket(self, epoch_s: float) -> int:
        # Hot path (called per delivery while seeding): plain arithmetic, no datetimes.
        now_s = self._now_s if self._now_s is not None else time.time()
        step = _resolution_for_age_s(now_s - epoch_s)
        return int(epoch_s // step * step)

    def add(self, metric: str, epoch_s: float, value: float = 1.0, rule: str = "", samples: float = 1.0) -> None:
        key = (self._bucket(epoch_s), metric, rule)
        point = self._points.get(key)
        if point is None:
            self._points[key] = [value, samples]
        else:
            point[0] += value
            point[1] += samples

    def add_counts(self, metric: str, counts: dict[tuple[float, str], float]) -> None:
        """Many count points at once: ``{(epoch_s, rule): count}`` (the seeding hot path)."""
        now_s = self._now_s if self._now_s is not None else time.time()
        points = self._points
        for (epoch_s, rule), count in counts.items():
            step = _resolution_for_age_s(now_s - epoch_s)
            key = (int(epoch_s // step * step), metric, rule)
            point = points.get(key)
            if point is None:
                points[key] = [count, count]
            else:
                point[0] += count
                point[1] += count

    def pending(self) -> int:
        return len(self._points)

    def flush(self) -> int:
        """Write what accumulated, one file per day touched; returns the points written."""
        if not self._points:
            return 0
        keys, values = list(self._points), list(self._points.values())
        self._points = {}
        seconds = np.fromiter((k[0] for k in keys), dtype=np.int64, count=len(keys))
        table = pa.table([
            pa.array(seconds * 1000, pa.int64()).cast(SCHEMA.field("timestamp").type),
            pa.array([k[1] for k in keys], pa.string()),
            pa.array([self.bus] * len(keys), pa.string()),
            pa.array([k[2] for k in keys], pa.string()),
            pa.array([v[0] for v in values], pa.float64()),
            pa.array([v[1] for v in values], pa.float64()),
        ], schema=SCHEMA)
        days = seconds // DAY_S
        order = np.argsort(days, kind="stable")
        table, days = table.take(order), days[order]
        starts = np.flatnonzero(np.r_[True, days[1:] != days[:-1]])
        for begin, stop in zip(starts, np.r_[starts[1:], len(days)]):
            day = time.strftime("%Y-%m-%d", time.gmtime(int(days[begin]) * DAY_S))
            write_parquet_atomic(table.slice(begin, stop - begin), self.root / f"dt={day}")
        return len(keys)


class LocalMetricsSource:
    """Reads what :class:`MetricsRecorder` wrote, in the frame ``app.metrics.base`` defines."""

    def __init__(self, lake: Path):
        self.root = Path(lake) / METRICS_DIR

    def _read(self, start: datetime, end: datetime) -> pd.DataFrame:
        files = [
            str(p) for day in pd.date_range(start.date(), end.date(), freq="D")
            for p in (self.root / f"dt={day:%Y-%m-%d}").glob("*.parquet")
        ]
        if not files:
            return empty_frame()
        frame = ds.dataset(files, schema=SCHEMA, format="parquet").to_table().to_pandas()
        frame["timestamp"] = frame["timestamp"].astype("datetime64[ns, UTC]")
        return frame[(frame["timestamp"] >= pd.Timestamp(start)) & (frame["timestamp"] < pd.Timestamp(end))]

    def get(self, metrics: list[str], start: datetime, end: datetime, period_s: int,
            bus: str | None = None) -> pd.DataFrame:
        frame = self._read(start, end)
        frame = frame[frame["metric"].isin(metrics)]
        if bus is not None:
            frame = frame[frame["bus"] == bus]
        if frame.empty:
            return empty_frame()
        frame = frame.assign(timestamp=frame["timestamp"].dt.floor(f"{period_s}s"))
        grouped = frame.groupby(["timestamp", "metric", "bus", "rule"], as_index=False)[["value", "samples"]].sum()
        latency = grouped["metric"].isin(LATENCY_METRICS)
        grouped.loc[latency, "value"] = grouped.loc[latency, "value"] / grouped.loc[latency, "samples"].clip(lower=1)
        return _fill_missing_periods(grouped, start, end, period_s)


def _fill_missing_periods(frame: pd.DataFrame, start: datetime, end: datetime, period_s: int) -> pd.DataFrame:
    """CloudWatch omits periods with no data; for count metrics that means 0."""
    counts = frame[~frame["metric"].isin(LATENCY_METRICS)]
    if counts.empty:
        return frame.reset_index(drop=True)
    periods = pd.date_range(pd.Timestamp(start).floor(f"{period_s}s"), pd.Timestamp(end), freq=f"{period_s}s",
                            inclusive="left", tz="UTC")
    series = counts[["metric", "bus", "rule"]].drop_duplicates()
    grid = series.merge(pd.DataFrame({"timestamp": periods}), how="cross")
    filled = grid.merge(counts, on=["timestamp", "metric", "bus", "rule"], how="left").fillna(
        {"value": 0.0, "samples": 0.0})
    out = pd.concat([filled, frame[frame["metric"].isin(LATENCY_METRICS)]], ignore_index=True)
    return out[COLUMNS].sort_values(["metric", "rule", "timestamp"]).reset_index(drop=True)
