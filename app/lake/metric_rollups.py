"""The local bus's metric points (``<lake>/_bus_metrics``) and their rollups for closed days.

A year of stored points is ~1.5M rows (a minute apart for 15 days, 5 minutes to 63 days,
an hour after; more series and fuller minutes as the bus gets busier), and Delivery health
read them all, three times, for a 365-day range. CloudWatch's Sum, SampleCount and
percentiles of a period come out the same from any partition of the period's points, so a
closed day's points are kept a second time, summed::

    <lake>/_bus_metrics_rollups/dt=YYYY-MM-DD/hour-v1-<digest>.parquet   one row per UTC hour × series
    <lake>/_bus_metrics_rollups/dt=YYYY-MM-DD/day-v1-<digest>.parquet    one row per series
    <lake>/_bus_metrics_rollups/month=YYYY-MM/month-v1-<digest>.parquet  the day rows of a closed month

in the points' own schema (:data:`SCHEMA`): ``timestamp`` the hour's or the day's start,
``value`` and ``samples`` the sums of the points in it, ``histogram`` the merged histograms
of its latency points (null when none of them had one). A reader
(:class:`app.metrics.local.LocalMetricsSource`) uses a rollup row in place of its points
only where they would have landed in the same period anyway: day rows for whole days when
the period is a multiple of a day (or percentiles over the range), from the month's file
when there is one; hour rows for whole hours when it is a multiple of an hour. Partial
hours, finer periods and days without a valid rollup are read from the points. Each point
is read exactly once, so the answers are the points' (sums of whole numbers exactly; sums
of fractional latencies can differ in the last bit, as any other order of addition). A
year is then ~12 month files and a few days, whatever the bus's volume.

``<digest>`` names the point files the rollup was built from (their ``dt=`` folders and
sorted names: point files are written once, under new names, by the recorder and by
compaction). A reader uses a rollup only when its name matches the files as it lists them
now, so a rollup is never stale: a late point file, a compaction or a quarantine changes
the names, and the day (its month) is read from its points until
:func:`refresh_metric_rollups` (run with the lake's rollups: after each compaction and
seeding, and by ``lake rollups``) builds it again. Files are written under a hidden name
and renamed; a crash leaves the old file, the new one or both (told apart by their names)
and at worst a hidden work file, which the next run deletes. The version
(:data:`VERSION`) in the name retires old files the same way.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from app.lake.paths import is_dt

METRICS_DIR = "_bus_metrics"  # <lake>/_bus_metrics/dt=YYYY-MM-DD/part-*.parquet
HISTOGRAM_TYPE = pa.map_(pa.int16(), pa.int64())
SCHEMA = pa.schema(
    [
        ("timestamp", pa.timestamp("ms", tz="UTC")),
        ("metric", pa.string()),
        ("bus", pa.string()),
        ("rule", pa.string()),
        ("value", pa.float64()),
        ("samples", pa.float64()),
        ("histogram", HISTOGRAM_TYPE),  # latency metrics only; files written before it read it as null
    ]
)
DAY_S = 86_400
HOUR_S = 3_600


def day_files(root: Path, day: str) -> list[Path]:
    """The point files of one UTC day (``root``: ``<lake>/_bus_metrics``), sorted: what a
    reader reads, and what a day's rollup is named after."""
    return sorted((Path(root) / f"dt={day}").glob("*.parquet"))


ROLLUP_DIR = "_bus_metrics_rollups"
VERSION = 1
SPANS = {"hour": HOUR_S, "day": DAY_S}
KEYS = ["timestamp", "metric", "bus", "rule"]


def digest(files: Iterable[Path]) -> str:
    """Names the point files a rollup is built from (each with its ``dt=`` folder)."""
    text = "\n".join(f"{p.parent.name}/{p.name}" for p in files)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def rollup_name(span: str, files: list[Path]) -> str:
    return f"{span}-v{VERSION}-{digest(files)}.parquet"


def is_month(text: str) -> bool:
    """``YYYY-MM`` (a month's rollup folder)."""
    return len(text) == 7 and is_dt(f"{text}-01")


def rollup_folder(lake: Path, day: str) -> Path:
    """A day's folder (``day`` YYYY-MM-DD), or a month's (YYYY-MM: its day rows in one file)."""
    if is_dt(day):
        return Path(lake) / ROLLUP_DIR / f"dt={day}"
    if is_month(day):
        return Path(lake) / ROLLUP_DIR / f"month={day}"
    raise ValueError(f"{day!r} is neither a day (YYYY-MM-DD) nor a month (YYYY-MM)")


def listing(lake: Path, day: str) -> set[str]:
    """The file names in a day's (or month's) rollup folder (none: empty)."""
    try:
        return set(os.listdir(rollup_folder(lake, day)))
    except (FileNotFoundError, NotADirectoryError):
        return set()


def month_days(month: str) -> list[str]:
    """YYYY-MM -> its days, YYYY-MM-DD."""
    first = date.fromisoformat(f"{month}-01")
    after = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return [(first + timedelta(days=i)).isoformat() for i in range((after - first).days)]


def month_files(points_root: Path, month: str) -> list[Path]:
    """The point files of a month's days, in order (what its month file is named after)."""
    return [p for day in month_days(month) for p in day_files(points_root, day)]


def roll_up(points: pa.Table, span_s: int) -> pa.Table:
    """``points`` (SCHEMA) summed per ``span_s`` from the epoch, metric, bus and rule, their
    histograms merged; SCHEMA, sorted by its keys."""
    if points.num_rows == 0:
        return SCHEMA.empty_table()
    start = pc.floor_temporal(points["timestamp"], multiple=span_s, unit="second")
    keys = pd.DataFrame(
        {
            "timestamp": start.cast(pa.int64()).to_numpy(),
            **{k: points[k].to_numpy(zero_copy_only=False) for k in KEYS[1:]},
        }
    )
    group = keys.groupby(KEYS, sort=True, dropna=False).ngroup().to_numpy()
    frame = pd.DataFrame(
        {
            "group": group,
            "value": points["value"].to_numpy(zero_copy_only=False),
            "samples": points["samples"].to_numpy(zero_copy_only=False),
        }
    )
    sums = frame.groupby("group", sort=True)[["value", "samples"]].sum(min_count=0)
    first = keys.assign(group=group).drop_duplicates("group").sort_values("group")
    histograms = _merged_histograms(points["histogram"], group, len(sums))
    return pa.table(
        [
            pa.array(first["timestamp"].to_numpy(), pa.int64()).cast(SCHEMA.field("timestamp").type),
            pa.array(first["metric"].to_numpy(), pa.string()),
            pa.array(first["bus"].to_numpy(), pa.string()),
            pa.array(first["rule"].to_numpy(), pa.string()),
            pa.array(sums["value"].to_numpy(), pa.float64()),
            pa.array(sums["samples"].to_numpy(), pa.float64()),
            histograms,
        ],
        schema=SCHEMA,
    )


def _merged_histograms(column: pa.ChunkedArray, group: np.ndarray, groups: int) -> pa.Array:
    """Per group, bucket -> summed count over its points' histograms; null where none had one."""
    entry = pa.struct([("key", pa.int16()), ("value", pa.int64())])
    histograms = column.combine_chunks().cast(pa.list_(entry))
    valid = np.zeros(groups, dtype=bool)
    valid[group[histograms.is_valid().to_numpy(zero_copy_only=False)]] = True
    entries = pc.list_flatten(histograms)
    long = pd.DataFrame(
        {
            "group": group[pc.list_parent_indices(histograms).to_numpy()],
            "bucket": entries.field("key").to_numpy(),
            "count": entries.field("value").to_numpy(),
        }
    )
    long = long.groupby(["group", "bucket"], as_index=False, sort=True)["count"].sum()
    return histogram_map(long, "group", groups, ~valid)


def histogram_map(
    long: pd.DataFrame, key: str, groups: int, missing: np.ndarray | None = None
) -> pa.MapArray:
    """One histogram (bucket -> count) per group ``0 .. groups - 1`` from ``long``'s rows
    (``key``, bucket, count), sorted by key and bucket; ``missing``: the groups that are
    null (default: those without a row)."""
    sizes = np.bincount(long[key].to_numpy(), minlength=groups)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int32)
    return pa.MapArray.from_arrays(
        pa.array(offsets),
        pa.array(long["bucket"].to_numpy(), pa.int16()),
        pa.array(long["count"].to_numpy().astype(np.int64), pa.int64()),
        type=HISTOGRAM_TYPE,
        mask=pa.array(sizes == 0 if missing is None else missing),
    )


def _write_atomic(table: pa.Table, path: Path) -> None:
    """``path`` appears whole or not at all (hidden work file, then rename)."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def build_day(lake: Path, day: str, files: list[Path]) -> None:
    """Roll up one day's point files ``files`` (both spans), named after them."""
    points = ds.dataset([str(p) for p in files], schema=SCHEMA, format="parquet").to_table()
    folder = rollup_folder(lake, day)
    folder.mkdir(parents=True, exist_ok=True)
    for span, span_s in SPANS.items():
        _write_atomic(roll_up(points, span_s), folder / rollup_name(span, files))


def build_month(lake: Path, month: str, files_by_day: dict[str, list[Path]]) -> None:
    """A closed month's day rows in one file, from its days' day files (named after
    ``files_by_day``, the listings those were built from and checked against)."""
    days = [day for day in month_days(month) if files_by_day.get(day)]
    parts = [rollup_folder(lake, day) / rollup_name("day", files_by_day[day]) for day in days]
    rows = ds.dataset([str(p) for p in parts], schema=SCHEMA, format="parquet").to_table()
    folder = rollup_folder(lake, month)
    folder.mkdir(parents=True, exist_ok=True)
    _write_atomic(rows, folder / rollup_name("month", [p for d in days for p in files_by_day[d]]))


@dataclass(frozen=True)
class MetricRollupReport:
    days_built: int
    days_removed: int


def refresh_metric_rollups(
    lake: Path, closed_before: str, rebuild_from: str | None = None, rebuild: bool = False
) -> MetricRollupReport:
    """Roll up every day before ``closed_before`` (YYYY-MM-DD) whose rollups do not match
    its point files, and every month all of whose days are before it; ``rebuild``: every
    such day (and month) from ``rebuild_from`` (None: all) again. Drops work files, stale
    rollups and the rollups of days whose points are gone.

    The caller holds the lake's maintenance lock (app.lake.rollups): one builder at a time."""
    lake = Path(lake)
    points_root, rollup_root = lake / METRICS_DIR, lake / ROLLUP_DIR
    # A folder whose name is not a day (a copy, a typo) is not read here: nor by the reader.
    days = sorted(p.name[3:] for p in points_root.glob("dt=*") if p.is_dir() and is_dt(p.name[3:]))
    listed = {day: day_files(points_root, day) for day in days}
    built = removed = 0
    for day, files in listed.items():
        if day >= closed_before or not files:
            continue
        wanted = {rollup_name(span, files) for span in SPANS}
        if (rebuild and (rebuild_from is None or day >= rebuild_from)) or not wanted <= listing(lake, day):
            build_day(lake, day, files)
            built += 1
        _drop_others(lake, day, wanted)
    for month in sorted({day[:7] for day in days}):
        if month_days(month)[-1] >= closed_before:
            continue
        files = [p for day in month_days(month) for p in listed.get(day, [])]
        wanted = {rollup_name("month", files)}
        forced = rebuild and (rebuild_from is None or month_days(month)[-1] >= rebuild_from)
        if forced or not wanted <= listing(lake, month):
            build_month(lake, month, listed)
        _drop_others(lake, month, wanted)
    if rollup_root.is_dir():
        for folder in [*rollup_root.glob("dt=*"), *rollup_root.glob("month=*")]:
            if not folder.is_dir():
                continue
            key = folder.name.split("=", 1)[1]
            ours = is_dt(key) if folder.name.startswith("dt=") else is_month(key)
            points = (day_files if is_dt(key) else month_files)(points_root, key) if ours else []
            if not points:  # its points are gone (or it is no folder of ours): it goes too
                for path in folder.iterdir():
                    if path.is_file():
                        path.unlink(missing_ok=True)
                with contextlib.suppress(OSError):  # something else in it: left, never read
                    folder.rmdir()
                    removed += 1
    return MetricRollupReport(built, removed)


def _drop_others(lake: Path, key: str, wanted: set[str]) -> None:
    """Older builds, versions and work files of a day's or month's folder."""
    for name in listing(lake, key) - wanted:
        (rollup_folder(lake, key) / name).unlink(missing_ok=True)
