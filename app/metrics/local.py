"""The local bus's metrics: recorded under CloudWatch's names, stored beside the lake.

Like CloudWatch, older data is kept coarser
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#Metric):
1-minute points for 15 days, 5-minute points up to 63 days, 1-hour points after that.
That keeps a year of seeded history small and makes a long range cheap to read.

Files: ``<lake>/_bus_metrics/dt=YYYY-MM-DD/part-*.parquet`` (not a Glue table: on AWS the
same numbers come from CloudWatch). Closed days are also kept summed per hour and per day
(app/lake/metric_rollups.py), which the reader uses where the sums come out the same.

Latency points also carry a histogram of their samples (``histogram``: bucket -> count,
20 logarithmic buckets per decade of milliseconds, so a percentile read back is within
about 6 % of the true one). Histograms add up when points are merged, so
:meth:`LocalMetricsSource.latency_percentiles` gives p50/p90/p99 over any range, as
CloudWatch's percentile statistics do.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from app import clock
from app.lake.metric_rollups import (
    DAY_S,
    HOUR_S,
    METRICS_DIR,
    SCHEMA,
    day_files,
    histogram_map,
    listing,
    month_days,
    rollup_folder,
    rollup_name,
)
from app.lake.writer import write_parquet_atomic
from app.metrics.base import COLUMNS, empty_frame
from app.metrics.names import LATENCY_METRICS

LATENCIES = frozenset(LATENCY_METRICS)
BUCKETS_PER_DECADE = 20
TOP_BUCKET = 1 + 9 * BUCKETS_PER_DECADE  # 1e9 ms (11 days) and more share the last bucket


def latency_bucket(ms: float) -> int:
    """Bucket 0 holds [0, 1) ms; bucket i >= 1 holds [10^((i-1)/20), 10^(i/20)) ms."""
    if ms < 1.0:
        return 0
    return min(TOP_BUCKET, 1 + int(math.log10(ms) * BUCKETS_PER_DECADE))


def bucket_bounds(bucket: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    low = np.where(bucket == 0, 0.0, 10.0 ** ((bucket - 1) / BUCKETS_PER_DECADE))
    return low, 10.0 ** (bucket / BUCKETS_PER_DECADE)


def resolution_s(age_s: float) -> int:
    """CloudWatch's retention steps: the period a point ``age_s`` seconds old is kept at
    (plain arithmetic: it runs for every point while seeding)."""
    if age_s <= 15 * DAY_S:
        return 60
    if age_s <= 63 * DAY_S:
        return 300
    return 3600


@dataclass(frozen=True)
class Periods:
    """Moments counted per stored period: ``starts`` (epoch s) and ``counts``, int64 arrays."""

    starts: np.ndarray
    counts: np.ndarray


class MetricsRecorder:
    """Accumulates per-period sums and sample counts in memory; ``flush`` writes them.

    Two ways in: :meth:`add` (one point: a retry, a PutEvents call) keeps a dict of points;
    :meth:`add_period_counts` (a batch: many events counted per period under several
    metrics) only keeps the arrays, and ``flush`` adds everything up with numpy, so the
    batch path costs the same however many periods and metrics it touches.
    """

    def __init__(self, lake: Path, bus: str, now: datetime | None = None):
        self.root = Path(lake) / METRICS_DIR
        self.bus = bus
        self._now_s = now.timestamp() if now else None  # fixed "now" for seeding history; None = wall clock
        self._points: dict[tuple[int, str, str], list[float]] = {}
        self._histograms: dict[tuple[int, str, str], dict[int, int]] = {}  # latency points only
        # (periods, count metrics, rule, latency metrics given that many samples of 0 ms)
        self._blocks: list[tuple[Periods, tuple[str, ...], str, tuple[str, ...]]] = []
        self._unwritten: list[tuple[str, pa.Table]] = []  # (day, rows) a full disk refused

    def _now(self) -> float:
        return self._now_s if self._now_s is not None else clock.timestamp()

    def _bucket(self, epoch_s: float) -> int:
        # Hot path (called per retry while seeding): plain arithmetic, no datetimes.
        step = resolution_s(self._now() - epoch_s)
        return int(epoch_s // step * step)

    def add(
        self, metric: str, epoch_s: float, value: float = 1.0, rule: str = "", samples: float = 1.0
    ) -> None:
        key = (self._bucket(epoch_s), metric, rule)
        point = self._points.get(key)
        if point is None:
            self._points[key] = [value, samples]
        else:
            point[0] += value
            point[1] += samples
        if metric in LATENCIES and samples:
            self._count_in_histogram(key, latency_bucket(value / samples), int(samples))

    def _count_in_histogram(self, key: tuple[int, str, str], bucket: int, count: int) -> None:
        histogram = self._histograms.get(key)
        if histogram is None:
            self._histograms[key] = {bucket: count}
        else:
            histogram[bucket] = histogram.get(bucket, 0) + count

    def add_latencies(self, metric: str, epoch_s: float, values_ms: list[float], rule: str) -> None:
        """Many latency samples of one period and rule (a batch delivered at once)."""
        key = (self._bucket(epoch_s), metric, rule)
        point = self._points.setdefault(key, [0.0, 0.0])
        point[0] += sum(values_ms)
        point[1] += len(values_ms)
        for ms in values_ms:
            self._count_in_histogram(key, latency_bucket(ms), 1)

    def period_counts(self, epochs: list[float]) -> Periods:
        """How many of these moments fall in each stored period (CloudWatch's resolution for
        their age), for :meth:`add_period_counts`."""
        moments = np.asarray(epochs, dtype=np.float64)
        age = self._now() - moments
        step = np.where(age <= 15 * DAY_S, 60, np.where(age <= 63 * DAY_S, 300, 3600))
        starts, counts = np.unique((moments // step * step).astype(np.int64), return_counts=True)
        return Periods(starts, counts)

    def add_period_counts(
        self, metrics: tuple[str, ...], rule: str, periods: Periods, zero_latencies: tuple[str, ...] = ()
    ) -> None:
        """Add each period's count to each count metric, and as many samples of 0 ms to each
        latency metric (deliveries at ingestion, in virtual time)."""
        if len(periods.starts):
            self._blocks.append((periods, metrics, rule, zero_latencies))

    def pending(self) -> int:
        return (
            len(self._points)
            + sum(len(p.starts) * (len(m) + len(z)) for p, m, _, z in self._blocks)
            + sum(rows.num_rows for _, rows in self._unwritten)
        )

    def flush(self) -> int:
        """Write what accumulated, one file per day touched; returns the points written.

        A write the disk refuses (OSError) raises, and its rows (and the days after it) are
        kept for the next flush: a full disk delays metrics, it does not lose them.
        """
        if self._points or self._blocks:
            table = self._table()
            seconds = pc.divide(table["timestamp"].cast(pa.int64()), 1000).to_numpy()
            days = seconds // DAY_S
            order = np.argsort(days, kind="stable")
            table, days = table.take(order), days[order]
            starts = np.flatnonzero(np.r_[True, days[1:] != days[:-1]])
            for begin, stop in zip(starts, np.r_[starts[1:], len(days)], strict=True):
                day = time.strftime("%Y-%m-%d", time.gmtime(int(days[begin]) * DAY_S))
                self._unwritten.append((day, table.slice(begin, stop - begin)))
        written = 0
        while self._unwritten:
            day, rows = self._unwritten[0]
            write_parquet_atomic(rows, self.root / f"dt={day}")
            self._unwritten.pop(0)
            written += rows.num_rows
        return written

    def pending_points(self) -> pd.DataFrame:
        """What a flush would write, without writing it: period, metric, rule, value, samples."""
        grouped, _ = self._aggregate()
        return grouped.drop(columns=["code", "zero"])

    def _aggregate(self) -> tuple[pd.DataFrame, dict[tuple[str, str], int]]:
        """One row per (period, metric, rule): period, code, metric, rule, value, samples, zero."""
        series: dict[tuple[str, str], int] = {}  # (metric, rule) -> code
        columns = self._point_columns(series) + self._block_columns(series)
        names = ("period", "code", "value", "samples", "zero")
        if not columns:
            return pd.DataFrame(columns=[*names, "metric", "rule"]), series
        frame = pd.DataFrame({name: np.concatenate([c[i] for c in columns]) for i, name in enumerate(names)})
        grouped = frame.groupby(["period", "code"], as_index=False, sort=False).sum()
        labels = list(series)
        codes = grouped["code"].to_numpy()
        grouped["metric"] = np.array([m for m, _ in labels], dtype=object)[codes]
        grouped["rule"] = np.array([r for _, r in labels], dtype=object)[codes]
        return grouped, series

    def _table(self) -> pa.Table:
        """Everything accumulated, one row per (period, metric, rule), in SCHEMA; resets."""
        grouped, series = self._aggregate()
        histograms = self._histogram_column(grouped, series)
        self._points, self._histograms, self._blocks = {}, {}, []
        return pa.table(
            [
                pa.array(grouped["period"].to_numpy() * 1000, pa.int64()).cast(
                    SCHEMA.field("timestamp").type
                ),
                pa.array(grouped["metric"].to_numpy(), pa.string()),
                pa.array([self.bus] * len(grouped), pa.string()),
                pa.array(grouped["rule"].to_numpy(), pa.string()),
                pa.array(grouped["value"].to_numpy(), pa.float64()),
                pa.array(grouped["samples"].to_numpy(), pa.float64()),
                histograms,
            ],
            schema=SCHEMA,
        )

    def _point_columns(self, series: dict) -> list[tuple]:
        if not self._points:
            return []
        keys = list(self._points)
        values = np.array(list(self._points.values()), dtype=np.float64).reshape(-1, 2)
        codes = [series.setdefault((metric, rule), len(series)) for _, metric, rule in keys]
        return [
            (
                np.array([k[0] for k in keys], dtype=np.int64),
                np.array(codes, dtype=np.int64),
                values[:, 0],
                values[:, 1],
                np.zeros(len(keys)),
            )
        ]

    def _block_columns(self, series: dict) -> list[tuple]:
        columns = []
        for periods, metrics, rule, zero_latencies in self._blocks:
            counts = periods.counts.astype(np.float64)
            none = np.zeros(len(counts))
            for metric in metrics + zero_latencies:
                code = np.full(len(counts), series.setdefault((metric, rule), len(series)), dtype=np.int64)
                latency = metric in zero_latencies
                columns.append(
                    (periods.starts, code, none if latency else counts, counts, counts if latency else none)
                )
        return columns

    def _histogram_column(self, grouped: pd.DataFrame, series: dict) -> pa.Array:
        """bucket -> count for latency rows (their 0 ms samples and their points'), else null."""
        rows = [pd.DataFrame({"row": np.flatnonzero(grouped["zero"].to_numpy() > 0), "bucket": 0})]
        rows[0]["count"] = grouped["zero"].to_numpy()[rows[0]["row"].to_numpy()]
        if self._histograms:
            long = pd.DataFrame(
                [
                    (period, series[(metric, rule)], bucket, count)
                    for (period, metric, rule), histogram in self._histograms.items()
                    for bucket, count in histogram.items()
                ],
                columns=["period", "code", "bucket", "count"],
            )
            where = grouped[["period", "code"]].reset_index().rename(columns={"index": "row"})
            rows.append(long.merge(where, on=["period", "code"])[["row", "bucket", "count"]])
        long = pd.concat(rows).groupby(["row", "bucket"], as_index=False)["count"].sum()
        return histogram_map(long, "row", len(grouped))


class LocalMetricsSource:
    """Reads what :class:`MetricsRecorder` wrote, in the frame ``app.metrics.base`` defines."""

    def __init__(self, lake: Path):
        self.root = Path(lake) / METRICS_DIR

    def _table(
        self,
        start: datetime,
        end: datetime,
        columns: list[str],
        metrics: list[str],
        bus: str | None = None,
        period_s: int | None = None,
    ) -> pa.Table | None:
        """The points in [start, end) of ``metrics`` (and ``bus``), or None without files.

        ``period_s``: the caller only sums them per period of this length (from the epoch;
        None: over the whole range), so a closed day's rollup rows may stand for its points
        where they fall in the same period (:func:`_pieces`).

        A file the plan named can be gone when it is read (a compaction merged the day's
        points, a refresh replaced a stale rollup): the read is planned again, once."""
        try:
            return self._planned_table(start, end, columns, metrics, bus, period_s)
        except FileNotFoundError:
            return self._planned_table(start, end, columns, metrics, bus, period_s)

    def _planned_table(
        self,
        start: datetime,
        end: datetime,
        columns: list[str],
        metrics: list[str],
        bus: str | None,
        period_s: int | None,
    ) -> pa.Table | None:
        pieces = _pieces(Path(self.root).parent, _utc(start), _utc(end), period_s)
        if not pieces:
            return None
        moment = SCHEMA.field("timestamp").type
        chosen = ds.field("metric").isin(metrics)
        if bus is not None:  # filtered while scanning: no second copy of the points
            chosen = chosen & (ds.field("bus") == bus)
        tables = []
        for files, spans in pieces:
            stamp = ds.field("timestamp")
            inside = [(stamp >= pa.scalar(lo, moment)) & (stamp < pa.scalar(hi, moment)) for lo, hi in spans]
            when = inside[0] if len(inside) == 1 else inside[0] | inside[1]
            dataset = ds.dataset([str(p) for p in files], schema=SCHEMA, format="parquet")
            tables.append(dataset.to_table(columns=columns, filter=when & chosen))
        return tables[0] if len(tables) == 1 else pa.concat_tables(tables)

    def _read(
        self,
        start: datetime,
        end: datetime,
        metrics: list[str],
        period_s: int | None = None,
        bus: str | None = None,
    ) -> pd.DataFrame:
        table = self._table(start, end, COLUMNS, metrics, bus, period_s)
        if table is None:
            return empty_frame()
        if period_s is not None:
            table = _per_period(table, period_s)
        frame = table.to_pandas()
        frame["timestamp"] = frame["timestamp"].astype("datetime64[ns, UTC]")
        return frame

    def get(
        self, metrics: list[str], start: datetime, end: datetime, period_s: int, bus: str | None = None
    ) -> pd.DataFrame:
        frame = self._read(start, end, metrics, period_s, bus)
        release_arrow_memory()  # the points read are gone: hand their pages back
        if frame.empty:
            return empty_frame()
        frame = frame.assign(timestamp=frame["timestamp"].dt.floor(f"{period_s}s"))
        grouped = frame.groupby(["timestamp", "metric", "bus", "rule"], as_index=False)[
            ["value", "samples"]
        ].sum()
        latency = grouped["metric"].isin(LATENCY_METRICS)
        grouped.loc[latency, "value"] = grouped.loc[latency, "value"] / grouped.loc[latency, "samples"].clip(
            lower=1
        )
        return _fill_missing_periods(grouped, start, end, period_s)

    def latency_percentiles(
        self,
        metrics: list[str],
        start: datetime,
        end: datetime,
        percentiles: tuple[float, ...] = (50, 90, 99),
        bus: str | None = None,
        period_s: int | None = None,
    ) -> pd.DataFrame:
        """Percentiles (ms) of latency metrics per rule over [start, end), or per period.

        Columns: timestamp (the period's start; ``start`` for the whole range), metric,
        bus, rule, samples, then ``p50``, ``p90``, ``p99`` (one per percentile asked).
        CloudWatch gives the same with the ``p50``/``p90``/``p99`` statistics.
        """
        found = self._latency_percentiles(metrics, start, end, percentiles, bus, period_s)
        release_arrow_memory()
        return found

    def _latency_percentiles(
        self,
        metrics: list[str],
        start: datetime,
        end: datetime,
        percentiles: tuple[float, ...] = (50, 90, 99),
        bus: str | None = None,
        period_s: int | None = None,
    ) -> pd.DataFrame:
        keys = ["timestamp", "metric", "bus", "rule"]
        columns = [*keys, "samples", *percentile_columns(percentiles)]
        latencies = [m for m in metrics if m in LATENCIES]
        table = self._table(start, end, [*keys, "histogram"], latencies, bus, period_s)
        if table is not None:
            table = table.filter(pc.is_valid(table["histogram"]))
        if table is None or table.num_rows == 0:
            return pd.DataFrame(columns=columns)
        points = table.select(keys).to_pandas()
        points["timestamp"] = (
            points["timestamp"].astype("datetime64[ns, UTC]").dt.floor(f"{period_s}s")
            if period_s
            else pd.Timestamp(start)
        )
        points["group"] = points.groupby(keys, sort=True).ngroup()
        long = _histogram_rows(table)
        long["group"] = points["group"].to_numpy()[long["row"].to_numpy()]
        stats = percentiles_of_histograms(long[["group", "bucket", "count"]], percentiles)
        out = points.drop_duplicates("group").merge(stats, on="group")
        return out[columns].sort_values(keys).reset_index(drop=True)


def _utc(moment: datetime) -> datetime:
    """``moment`` in UTC (a naive one is taken as UTC, as Arrow takes it)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


Piece = tuple[list[Path], list[tuple[datetime, datetime]]]  # files, and the spans to read of them


def _pieces(lake: Path, start: datetime, end: datetime, period_s: int | None) -> list[Piece]:
    """Which files to read for [start, end), and which times of each: every point once,
    either itself or inside one rollup row (app/lake/metric_rollups.py).

    Day rows stand for a closed day's points when the whole day is in the range and the
    period is a multiple of a day (or None: the whole range), read from the month's file
    when the month is rolled up, else from the day's; hour rows for the whole hours of a
    day in the range when the period is a multiple of an hour. The rest (partial hours,
    finer periods, days whose rollups are missing or do not match their files) is read raw.
    """
    whole_days = period_s is None or period_s % DAY_S == 0
    whole_hours = period_s is None or period_s % HOUR_S == 0
    first_hour, last_hour = _ceil(start, HOUR_S), _floor(end, HOUR_S)
    first_day, last_day = _ceil(start, DAY_S), _floor(end, DAY_S)
    root = lake / METRICS_DIR
    listed: dict[str, list[Path]] = {}

    def files_of(day: str) -> list[Path]:
        if day not in listed:
            listed[day] = day_files(root, day)
        return listed[day]

    months: dict[str, Path | None] = {}

    def month_file(month: str) -> Path | None:
        if month not in months:
            name = rollup_name("month", [p for d in month_days(month) for p in files_of(d)])
            months[month] = rollup_folder(lake, month) / name if name in listing(lake, month) else None
        return months[month]

    by_month: list[Path] = []
    day_rows: list[Path] = []
    hour_rows: list[Path] = []
    raw: list[Path] = []
    edges: list[Path] = []  # raw files of days whose whole hours come from hour rows
    for day in pd.date_range(start.date(), end.date(), freq="D"):
        name = f"{day:%Y-%m-%d}"
        files = files_of(name)
        begin = datetime.combine(day.date(), datetime.min.time(), UTC)
        lo, hi = max(start, begin), min(end, begin + timedelta(days=1))
        if not files or lo >= hi:
            continue
        whole = whole_days and (lo, hi) == (begin, begin + timedelta(days=1))
        if whole and (found := month_file(name[:7])) is not None:
            if found not in by_month:
                by_month.append(found)
            continue
        present = listing(lake, name) if (whole_days or whole_hours) else set()
        if whole and rollup_name("day", files) in present:
            day_rows.append(rollup_folder(lake, name) / rollup_name("day", files))
        elif (
            whole_hours and max(lo, first_hour) < min(hi, last_hour) and rollup_name("hour", files) in present
        ):
            hour_rows.append(rollup_folder(lake, name) / rollup_name("hour", files))
            if lo < first_hour or hi > last_hour:
                edges += files
        else:
            raw += files
    pieces: list[Piece] = [
        (by_month, [(first_day, last_day)]),  # the month's whole days in the range
        (day_rows, [(start, end)]),
        (hour_rows, [(first_hour, last_hour)]),
        (raw, [(start, end)]),
        (edges, [(start, min(first_hour, end)), (max(last_hour, start), end)]),
    ]
    return [(files, spans) for files, spans in pieces if files]


def _ceil(moment: datetime, step_s: int) -> datetime:
    return datetime.fromtimestamp(-(-moment.timestamp() // step_s) * step_s, UTC)


def _floor(moment: datetime, step_s: int) -> datetime:
    return datetime.fromtimestamp(moment.timestamp() // step_s * step_s, UTC)


def percentile_columns(percentiles: tuple[float, ...]) -> list[str]:
    return [f"p{q:g}" for q in percentiles]


def _histogram_rows(table: pa.Table) -> pd.DataFrame:
    """One row per (point, bucket): row, bucket, count."""
    # As list<struct>: list kernels take it (not a map), and they respect a filtered array's slicing.
    histograms = (
        table["histogram"]
        .combine_chunks()
        .cast(pa.list_(pa.struct([("key", pa.int16()), ("value", pa.int64())])))
    )
    entries = pc.list_flatten(histograms)
    return pd.DataFrame(
        {
            "row": pc.list_parent_indices(histograms).to_numpy(),
            "bucket": entries.field("key").to_numpy().astype(np.int64),
            "count": entries.field("value").to_numpy().astype(np.float64),
        }
    )


def percentiles_of_histograms(groups: pd.DataFrame, percentiles: tuple[float, ...]) -> pd.DataFrame:
    """``groups``: group, bucket, count. Returns group, samples and a pNN column per percentile.

    A percentile is interpolated linearly inside the bucket that holds its rank."""
    merged = (
        groups.groupby(["group", "bucket"], as_index=False)["count"].sum().sort_values(["group", "bucket"])
    )
    merged["cum"] = merged.groupby("group")["count"].cumsum()
    merged["total"] = merged.groupby("group")["count"].transform("sum")
    merged["low"], merged["high"] = bucket_bounds(merged["bucket"].to_numpy())
    out = merged.groupby("group", as_index=False)["count"].sum().rename(columns={"count": "samples"})
    for q, column in zip(percentiles, percentile_columns(percentiles), strict=True):
        target = merged["total"] * q / 100.0
        hit = merged[merged["cum"] >= target].groupby("group").head(1)
        fraction = ((target[hit.index] - (hit["cum"] - hit["count"])) / hit["count"]).clip(0.0, 1.0)
        values = hit["low"] + fraction * (hit["high"] - hit["low"])
        out[column] = out["group"].map(pd.Series(values.to_numpy(), index=hit["group"].to_numpy()))
    return out


def release_arrow_memory() -> None:
    """Return the pages Arrow's allocator keeps after a large read to the OS. Its pool
    (mimalloc) otherwise holds them: a year of metric points left the dashboard server
    ~200-370 MB larger for good, though nothing referenced them any more."""
    pa.default_memory_pool().release_unused()


def _per_period(table: pa.Table, period_s: int) -> pa.Table:
    """Points summed per period (from the epoch, as pandas' ``floor``), metric, bus and rule.

    A year of per-minute points is millions of rows, and as pandas strings hundreds of MB;
    summed here, in Arrow, pandas gets one row per period and series (what it then sums
    again, unchanged)."""
    keys = ["timestamp", "metric", "bus", "rule"]
    bucket = pc.floor_temporal(table["timestamp"], multiple=period_s, unit="second")
    table = table.set_column(table.schema.get_field_index("timestamp"), "timestamp", bucket)
    keep_zero = pc.ScalarAggregateOptions(min_count=0)  # an all-null group sums to 0, as in pandas
    grouped = table.group_by(keys, use_threads=False).aggregate(
        [("value", "sum", keep_zero), ("samples", "sum", keep_zero)]
    )
    return grouped.rename_columns(
        [{"value_sum": "value", "samples_sum": "samples"}.get(n, n) for n in grouped.column_names]
    ).select(COLUMNS)


def _fill_missing_periods(frame: pd.DataFrame, start: datetime, end: datetime, period_s: int) -> pd.DataFrame:
    """CloudWatch omits periods with no data; for count metrics that means 0."""
    counts = frame[~frame["metric"].isin(LATENCY_METRICS)]
    if counts.empty:
        return frame.reset_index(drop=True)
    periods = pd.date_range(
        pd.Timestamp(start).floor(f"{period_s}s"),
        pd.Timestamp(end),
        freq=f"{period_s}s",
        inclusive="left",
        tz="UTC",
    )
    series = counts[["metric", "bus", "rule"]].drop_duplicates()
    grid = series.merge(pd.DataFrame({"timestamp": periods}), how="cross")
    filled = grid.merge(counts, on=["timestamp", "metric", "bus", "rule"], how="left").fillna(
        {"value": 0.0, "samples": 0.0}
    )
    out = pd.concat([filled, frame[frame["metric"].isin(LATENCY_METRICS)]], ignore_index=True)
    return out[COLUMNS].sort_values(["metric", "rule", "timestamp"]).reset_index(drop=True)
