"""Rollups: small tables of per-hour and per-day aggregates of the lake, so that pages cost O(days).

Four rollup tables, declared as :class:`~app.lake.tables.Table` like the lake's own (the
Glue catalog and the CloudFormation template are generated from them), each one Parquet
file per UTC day::

    <lake>/events_hourly/dt=2026-11-25/rollup.parquet    events per hour × source × detail type
    <lake>/overview_hourly/dt=2026-11-25/rollup.parquet  every Overview part per hour
    <lake>/shipment_leads/dt=2026-11-25/rollup.parquet   each shipment's time and lead time
    <lake>/orders_daily/dt=2026-11-25/rollup.parquet     orders, revenue, units per region × product line

``orders_daily`` serves the analytics pages (Campaigns, Demand forecast:
app/services/analytics_data.py), whose queries group by ``dt`` (the UTC day written), never
by time: a day's rows are the day's whole answer. The hourly tables serve the pages of a
time range: everything there is bucketed by UTC hour, the finest unit any page groups by (pages group by
UTC hours, days and weeks and only *show* them in the settings' time zone), so every
bucket of every range composes exactly from hours. A range's edges that are not whole
hours (a preset ends at now rounded to 5 minutes; a custom range in Asia/Kolkata starts at
``:30``) are read from the raw tables: no 15-minute buckets are needed.

The hourly parts are those :mod:`app.services.overview` reads, with two that are not plain
per-hour sums: ``lead_hours``/``lead_count`` (shipments joined to the orders they ship,
placed on the shipment's UTC day or up to :data:`LEAD_LOOKBACK_DAYS` days before it, so
that a day's lead time does not depend on the range it is seen in), and ``capacity``, kept
per day written (``dt``) and ``plan_date``, the two the page filters it on. A third table,
``shipment_leads``, keeps each shipment's lead time (one row per ``OrderShipped``) so
that a range's edges on closed days (partial hours) need not look up 22 days of orders.

Maintenance. A day's files are built once the day is closed (ended :data:`GRACE` ago);
the day's own UTC day under way is always read raw. Every build replaces the whole day's
file atomically (written under a hidden name, then renamed), so re-running never double
counts and a crash leaves the old file or the new one (and at worst a hidden work file,
which the next run deletes). The writer marks a closed day dirty (:func:`mark_dirty`)
before and after it writes into it (late events, replays); a day that is dirty is read
raw by pages until :func:`refresh_rollups` rebuilds it (a run killed midway leaves its
claimed markers: still dirty). A late ``OrderPlaced`` changes the lead time of shipments
on later days, so it marks every day from its own on. :func:`refresh_rollups` runs after
each compaction (``bus serve`` and ``lake compact``) and after seeding;
:func:`rebuild_rollups` rebuilds from raw.

Known difference from raw: the lead time takes an order's earliest placement in the 22
days up to the shipment's day; the page's raw query takes the earliest placement in its own
window (the 22 days up to its first raw day, to its last). They differ only for an order id
placed on two different days with one window's first day between them (a duplicate of the
same event, e.g. a replay, has the same time and does not count).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from app import clock
from app.lake.metric_rollups import MetricRollupReport, refresh_metric_rollups
from app.lake.paths import LONG_MARKER, check_dt, day_names
from app.lake.sql import DUCKDB_TYPES, PARTITION_TYPE, quote_identifier, quote_string
from app.lake.tables import EVENTS, ORDERS, TABLES, Column, Table

log = logging.getLogger("verticals.lake.rollups")

EVENTS_HOURLY = Table(
    name="events_hourly",
    doc="Rollup: events per UTC hour, source and detail type (Event rates).",
    columns=(
        Column("hour", "timestamp", "start of the UTC hour"),
        Column("source", "string"),
        Column("detail_type", "string"),
        Column("events", "bigint", "raw events in the hour, duplicates included"),
    ),
)

OVERVIEW_HOURLY = Table(
    name="overview_hourly",
    doc="Rollup: the parts of every Overview KPI per UTC hour (app/services/overview.py).",
    columns=(
        Column("hour", "timestamp", "start of the UTC hour; null for capacity"),
        Column("part", "string", "a part of the Overview's daily parts"),
        Column("plan_date", "date", "capacity: the day planned"),
        Column("value", "double"),
    ),
)

SHIPMENT_LEADS = Table(
    name="shipment_leads",
    doc="Rollup: each OrderShipped's time and lead time (the Overview's edges on closed days).",
    columns=(
        Column("time", "timestamp", "the shipment's time"),
        Column("hours", "double", "hours since the order was placed (see LEAD_LOOKBACK_DAYS)"),
    ),
)

ORDERS_DAILY = Table(
    name="orders_daily",
    doc="Rollup: OrderPlaced per UTC day (dt), region and product line (Campaigns, Demand forecast).",
    columns=(
        Column("region", "string", "sales region"),
        Column("product_line", "string"),
        Column("orders", "bigint", "OrderPlaced events"),
        Column("revenue", "double", "their amount"),
        Column("units", "bigint", "their quantity"),
    ),
)

ROLLUP_TABLES: dict[str, Table] = {
    t.name: t for t in (EVENTS_HOURLY, OVERVIEW_HOURLY, SHIPMENT_LEADS, ORDERS_DAILY)
}

FILE_NAME = "rollup.parquet"
# Bumped whenever ROLLUP_SQL or a rollup table's columns change (tests/lake/test_rollup_sql.py
# pins the definition's digest to it): rollups of another version are never read; locally
# the next refresh rebuilds every day, on Athena each day is built again on demand.
ROLLUP_VERSION = 3
VERSION_FILE = "version"  # <lake>/_rollups/version: the version every rolled-up day is of
STATE = "_rollups"  # <lake>/_rollups/dirty/{dt,from}=YYYY-MM-DD markers and the lock
GRACE = timedelta(minutes=10)  # a day is closed this long after it ends (writers finish)
LEAD_DETAIL_TYPE = "OrderPlaced"  # a late one changes the lead time of later days
# A shipment's lead time counts when its order was placed on the shipment's UTC day or up
# to this many days before it (else it is left out): a day's figure is the same in every
# range, and a day's lookup of orders is bounded (22 days, not the whole history).
LEAD_LOOKBACK_DAYS = 21
LOOKBACK = "_lookback"  # ``<table>_lookback``: that table's rows of the days built and the 21 before

# (part, table, detail type or None for every row, aggregate), as the Overview sums them.
COUNTED_PARTS: tuple[tuple[str, str, str | None, str], ...] = (
    ("orders", "orders", "OrderPlaced", "count(*)"),
    ("revenue", "orders", "OrderPlaced", "sum(amount)"),
    ("payments_failed", "payments", "PaymentFailed", "count(*)"),
    ("payments", "payments", None, "count(*)"),
    ("spend", "campaigns", "CampaignSpend", "sum(spend)"),
    ("stock_outs", "inventory", "StockOut", "count(*)"),
    ("shipments", "shipments", "OrderShipped", "count(*)"),
    ("delivered_on_time", "shipments", "OrderDelivered", "count_if(NOT coalesce(late, false))"),
    ("delivered", "shipments", "OrderDelivered", "count(*)"),
    ("units_made", "production", "BatchCompleted", "sum(units)"),
    ("tickets", "tickets", "TicketOpened", "count(*)"),
)
LEAD_PARTS = ("lead_hours", "lead_count")
CAPACITY_PART = "capacity"


@dataclass(frozen=True)
class RollupReport:
    days_built: int
    days_removed: int
    seconds: float
    metric_days_built: int = 0  # days of bus metrics rolled up (app/lake/metric_rollups.py)


def rollup_file(lake: Path, table: Table, day: str) -> Path:
    return Path(lake) / table.name / f"dt={check_dt(day)}" / FILE_NAME


# ---------------------------------------------------------------- dirty markers


def _dirty_dir(lake: Path) -> Path:
    return Path(lake) / STATE / "dirty"


def _touch(path: Path) -> None:
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))


def mark_dirty(lake: Path, days: Iterable[str], from_days: Iterable[str] = ()) -> None:
    """Mark closed days whose raw data changed: ``days`` each, ``from_days`` with every day
    after them. Idempotent (a marker is an empty file named after the day)."""
    days, from_days = set(days), set(from_days)
    if not days and not from_days:
        return
    folder = _dirty_dir(lake)
    folder.mkdir(parents=True, exist_ok=True)
    for day in days:
        _touch(folder / f"dt={check_dt(day)}")
    for day in from_days:
        _touch(folder / f"from={check_dt(day)}")


def closed_days(days: Iterable[str], now: datetime | None = None) -> set[str]:
    """The days of ``days`` that have ended (UTC): a write into one makes it dirty."""
    today = (now or clock.now()).astimezone(UTC).date().isoformat()
    return {d for d in days if d < today}


def _markers(lake: Path) -> list[Path]:
    """The dirty markers, claimed or not, in order (one listing: pages ask at every view)."""
    try:
        with os.scandir(os.path.join(lake, STATE, "dirty")) as entries:
            return sorted(Path(entry.path) for entry in entries if entry.is_file())
    except (FileNotFoundError, NotADirectoryError):
        return []


def _marker_day(marker: Path) -> tuple[str, str]:
    """(kind, day) of a marker, claimed (``.<name>.<token>``) or not."""
    name = marker.name.lstrip(".").split(".", 1)[0]
    kind, _, day = name.partition("=")
    return kind, day


def _dirty(markers: Iterable[Path]) -> tuple[set[str], str | None]:
    days, first_from = set(), None
    for marker in markers:
        kind, day = _marker_day(marker)
        if kind == "dt":
            days.add(day)
        elif kind == "from" and (first_from is None or day < first_from):
            first_from = day
    return days, first_from


def definition_digest() -> str:
    """A digest of what the rollups are: every table's columns and SELECT."""
    text = json.dumps(
        {n: [[(c.name, c.type) for c in t.columns], ROLLUP_SQL[n]] for n, t in ROLLUP_TABLES.items()},
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _version_file(lake: Path) -> Path:
    return Path(lake) / STATE / VERSION_FILE


# version file -> ((inode, mtime in ns, size), is it current): a page asks at every view,
# and reading the file cost a fifth of a 7-day Overview's own work. :func:`_stamp` replaces
# the file (a new inode); one changed less than MTIME_SETTLED ago is read again each time.
_CURRENT: dict[str, tuple[tuple[int, int, int], bool]] = {}


def is_current(lake: Path) -> bool:
    """The lake's rollups are of :data:`ROLLUP_VERSION` (a lake without any: not yet)."""
    path = os.path.join(lake, STATE, VERSION_FILE)
    try:
        stat = os.stat(path)
        seen = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        cached = _CURRENT.get(path)
        if cached is not None and cached[0] == seen:
            return cached[1]
        current = Path(path).read_text().strip() == str(ROLLUP_VERSION)
    except OSError:
        return False
    if _settled(stat.st_mtime_ns):
        _CURRENT[path] = (seen, current)
    return current


def _stamp(lake: Path) -> None:
    path = _version_file(lake)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    tmp.write_text(f"{ROLLUP_VERSION}\n")
    os.replace(tmp, path)


def rolled_up_days(
    lake: Path, first: str | None = None, last: str | None = None, tables: Iterable[str] | None = None
) -> set[str]:
    """Days whose rollup files all exist (dirty or not), of the current version; only
    ``first``..``last`` (``dt`` values) when given; only the files of ``tables`` (names of
    ROLLUP_TABLES) when given: a page reads its own tables only (a stat of each per day)."""
    if not is_current(lake):
        return set()
    names = list(ROLLUP_TABLES) if tables is None else [ROLLUP_TABLES[name].name for name in tables]
    if first is not None and last is not None:
        span = day_names(date.fromisoformat(first), date.fromisoformat(last))
        if len(span) <= LISTING_FROM_DAYS:  # a stat per day and table, no listing
            return {d for d in span if all(_has_file(lake, table, d) for table in names)}
    found: set[str] | None = None
    for name in names:
        days = _days_with_file(os.path.join(lake, name), first or "", last or "\uffff")
        found = days if found is None else found & days
    return found or set()


# A range of more days than this finds its rolled-up days by listing each rollup folder.
LISTING_FROM_DAYS = 100


def _has_file(lake: Path, table: str, day: str) -> bool:
    return os.path.exists(f"{lake}/{table}/dt={day}/{FILE_NAME}")


def _days_with_file(folder: str, first: str, last: str) -> set[str]:
    """The ``dt`` folders of ``folder`` from ``first`` to ``last`` holding a rollup file
    (plain strings and one stat each: pages ask on every view)."""
    try:
        with os.scandir(folder) as entries:
            return {
                entry.name[3:]
                for entry in entries
                if entry.name.startswith("dt=")
                and first <= entry.name[3:] <= last
                and os.path.exists(os.path.join(entry.path, FILE_NAME))
            }
    except (FileNotFoundError, NotADirectoryError):
        return set()


def clean_days(
    lake: Path, first: str | None = None, last: str | None = None, tables: Iterable[str] | None = None
) -> frozenset[str]:
    """Days a page may read from the rollups (of ``tables`` when given, else of every
    rollup table: :func:`rolled_up_days`): rolled up and not dirty since; only
    ``first``..``last`` (``dt`` values) when given (a page's range: a stat per day of it
    instead of per day of the lake), and then also the days of it before the lake's first
    raw day (nothing to roll up: the rollups' nothing is the raw tables' nothing, and the
    previous period of a year on a young lake reads no raw table for it). A late event on
    such a day makes a raw folder, and the day is read raw from the next view on."""
    days = rolled_up_days(lake, first, last, tables)
    dirty, first_from = _dirty(_markers(lake))
    clean = {d for d in days if d not in dirty and (first_from is None or d < first_from)}
    # A rolled-up first day had raw data: no day of the range is before the lake's first.
    if first is not None and last is not None and first not in days:
        clean |= _days_before_raw(lake, date.fromisoformat(first), date.fromisoformat(last))
    return frozenset(clean)


def _days_before_raw(lake: Path, first: date, last: date) -> set[str]:
    """Days ``first``..``last`` before the first ``dt`` folder of every raw table (none
    when the lake has no raw folder yet)."""
    starts = [
        day for table in TABLES.values() if (day := _first_dt(os.path.join(lake, table.name))) is not None
    ]
    if not starts:
        return set()
    lake_first, days, current = min(starts), set(), first
    while current <= last and (name := current.isoformat()) < lake_first:  # ISO days sort as dates
        days.add(name)
        current += timedelta(days=1)
    return days


# folder -> (its mtime in ns, its first ``dt=`` folder's value): a page asks at every view
# of a range reaching before the lake (a year's previous period), and listing the eleven
# raw tables cost 2-3 ms of it. A folder's mtime changes with every entry made, removed or
# renamed in it; one changed less than MTIME_SETTLED ago is listed again each time, so that
# a change within the file system's timestamp granularity is never hidden.
_FIRST_DT: dict[str, tuple[int, str | None]] = {}
MTIME_SETTLED_NS = 2 * 10**9


def _first_dt(folder: str) -> str | None:
    """The smallest ``dt=`` folder value in ``folder`` (None: none, or no folder)."""
    try:
        mtime = os.stat(folder).st_mtime_ns
        cached = _FIRST_DT.get(folder)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        with os.scandir(folder) as entries:
            first = min((e.name[3:] for e in entries if e.name.startswith("dt=")), default=None)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if _settled(mtime):
        _FIRST_DT[folder] = (mtime, first)
    return first


def _settled(mtime_ns: int) -> bool:
    """Changed at least MTIME_SETTLED ago: a change since would show in the mtime (one
    within the file system's timestamp granularity would not), so an answer may be kept."""
    return time.time_ns() - mtime_ns > MTIME_SETTLED_NS


# ---------------------------------------------------------------- building


def raw_days(lake: Path) -> set[str]:
    folder = Path(lake) / EVENTS.name
    if not folder.is_dir():
        return set()
    return {p.name[3:] for p in folder.iterdir() if p.name.startswith("dt=") and p.is_dir()}


def _table_view(db, table: Table, lake: Path, days: list[str] | None, name: str | None = None) -> None:
    """A temporary view ``name`` (the table's) of ``table``'s raw files on ``days`` (None: all)."""
    root = Path(lake) / table.name
    files = "*/*.parquet" if "source" in table.partitions else "*.parquet"
    folders = [root / f"dt={d}" for d in days] if days is not None else [root / "*"]
    globs = [f"{f}/{files}" for f in folders if days is None or f.is_dir()]
    if days is None and not root.is_dir():
        globs = []
    columns = [(c.name, DUCKDB_TYPES[c.type]) for c in table.columns] + [
        (p, PARTITION_TYPE) for p in table.partitions
    ]
    typed_empty = ", ".join(f"CAST(NULL AS {t}) AS {quote_identifier(n)}" for n, t in columns)
    names = [n for n, _ in columns]
    long_sources = "source" in table.partitions and any(root.glob(f"*/source={LONG_MARKER}*"))
    if long_sources:
        typed_empty += ", CAST(NULL AS VARCHAR) AS source_value"
    select = ", ".join(
        "coalesce(source_value, source) AS source"
        if (n == "source" and long_sources)
        else quote_identifier(n)
        for n in names
    )
    body = f"SELECT {typed_empty} WHERE false"
    if globs:
        hive = ", ".join(f"{quote_string(p)}: 'VARCHAR'" for p in table.partitions)
        files = "[" + ", ".join(quote_string(g) for g in globs) + "]"
        body += (
            f" UNION ALL BY NAME SELECT * FROM read_parquet({files}, hive_partitioning = true, "
            f"hive_types = {{{hive}}}, union_by_name = true)"
        )
    view = quote_identifier(name or table.name)
    db.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT {select} FROM ({body})")


HOUR = "CAST(date_trunc('hour', CAST(time AS TIMESTAMP)) AS TIMESTAMPTZ)"  # UTC: the session's zone

EVENTS_HOURLY_SQL = f"""
SELECT dt, {HOUR} AS hour, source, detail_type, count(*) AS events
FROM events GROUP BY ALL
"""


def _counted_sql(part: str, table: str, detail_type: str | None, aggregate: str) -> str:
    only = f" WHERE detail_type = '{detail_type}'" if detail_type else ""
    return (
        f"SELECT dt, {HOUR} AS hour, '{part}' AS part, CAST(NULL AS DATE) AS plan_date, "
        f"CAST({aggregate} AS DOUBLE) AS value "
        f"FROM {table}{only} GROUP BY 1, 2"
    )


# Each OrderShipped with the hours since its order was placed (placed in the lookback).
LEAD_CTES = f"""
placed AS (
  SELECT order_id, min(time) AS placed_at FROM orders{LOOKBACK}
  WHERE detail_type = '{LEAD_DETAIL_TYPE}' GROUP BY order_id
),
lead AS (
  SELECT s.dt, s.time, date_diff('second', p.placed_at, s.time) / 3600.0 AS hours
  FROM shipments s JOIN placed p ON s.order_id = p.order_id
  WHERE s.detail_type = 'OrderShipped'
    AND date_diff('day', CAST(p.placed_at AS DATE), CAST(s.time AS DATE)) BETWEEN 0 AND {LEAD_LOOKBACK_DAYS}
)"""

OVERVIEW_HOURLY_SQL = f"""
WITH {LEAD_CTES.strip()},
lead_hourly AS (
  SELECT dt, CAST(date_trunc('hour', CAST(time AS TIMESTAMP)) AS TIMESTAMPTZ) AS hour, hours FROM lead
)
SELECT dt, hour, 'lead_hours' AS part, CAST(NULL AS DATE) AS plan_date, sum(hours) AS value
FROM lead_hourly GROUP BY 1, 2
UNION ALL
SELECT dt, hour, 'lead_count', NULL, CAST(count(*) AS DOUBLE) FROM lead_hourly GROUP BY 1, 2
UNION ALL
SELECT dt, NULL, 'capacity', plan_date, CAST(sum(capacity_units) AS DOUBLE) FROM production
WHERE detail_type = 'CapacityPlanned' GROUP BY 1, 4
""" + "".join("UNION ALL\n" + _counted_sql(*spec) + "\n" for spec in COUNTED_PARTS)

SHIPMENT_LEADS_SQL = f"WITH {LEAD_CTES.strip()}\nSELECT dt, time, hours FROM lead\n"

# What DAILY_ORDERS_SQL and DAILY_DEMAND_SQL (app/services/analytics_data.py) add up, one
# level finer: both are this table summed over product lines or over regions.
ORDERS_DAILY_SQL = """
SELECT dt, region, product_line, count(*) AS orders, sum(amount) AS revenue, sum(quantity) AS units
FROM orders WHERE detail_type = 'OrderPlaced' GROUP BY ALL
"""

# Each rollup table's SELECT (DuckDB SQL, ``dt`` first, then the table's columns) over views
# of the raw tables named like them (the days built), ``<table>_lookback`` for those days
# and the LEAD_LOOKBACK_DAYS before them. The local builder runs these;
# app/lake/rollup_sql.py transpiles the same texts for Athena.
ROLLUP_SQL: dict[str, str] = {
    EVENTS_HOURLY.name: EVENTS_HOURLY_SQL,
    OVERVIEW_HOURLY.name: OVERVIEW_HOURLY_SQL,
    SHIPMENT_LEADS.name: SHIPMENT_LEADS_SQL,
    ORDERS_DAILY.name: ORDERS_DAILY_SQL,
}


def lookback_days(days: Iterable[str]) -> tuple[str, str]:
    """The first and last ``dt`` a ``<table>_lookback`` view holds when ``days`` are built."""
    chosen = sorted(days)
    day = date.fromisoformat(chosen[0])
    # An event may be dated from year 1 (PutEvents takes Time in years 0001-9999).
    first = (
        day - timedelta(days=LEAD_LOOKBACK_DAYS)
        if day > date.min + timedelta(days=LEAD_LOOKBACK_DAYS)
        else date.min
    )
    return first.isoformat(), chosen[-1]


def _connect():
    import duckdb

    db = duckdb.connect(":memory:")
    db.execute("SET TimeZone = 'UTC'")
    db.execute("SET enable_progress_bar = false")
    return db


# ``_write_atomic``'s work file: ``*.parquet`` globs (pages, rolled_up_days) never see it.
_WORK_FILE = re.compile(rf"\.{re.escape(FILE_NAME)}\.[0-9a-f]{{12}}\.tmp")


def _write_atomic(table: pa.Table, path: Path) -> None:
    """Replace ``path`` by ``table`` whole: readers see the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)  # a full disk: the old file stays, the partial one goes
        raise


def _split_by_day(db, sql: str, table: Table, days: list[str]) -> Iterator[tuple[str, pa.Table]]:
    """Each day's rows of ``sql`` (days without any: an empty table, still rolled up)."""
    names = ", ".join(table.column_names)
    built = db.sql(f"SELECT dt, {names} FROM ({sql}) ORDER BY ALL").to_arrow_table()
    dts = built.column("dt").to_numpy(zero_copy_only=False)
    rows = built.drop_columns(["dt"]).cast(table.arrow_schema())
    for day in days:
        first, last = np.searchsorted(dts, day, "left"), np.searchsorted(dts, day, "right")
        yield day, rows.slice(first, last - first)


def build_days(lake: Path, days: Iterable[str]) -> int:
    """Build (or rebuild) every rollup file of each of ``days`` from the raw tables."""
    chosen = sorted(set(days))
    if not chosen:
        return 0
    db = _connect()
    try:
        for table in TABLES.values():
            _table_view(db, table, lake, chosen)
        first, last = lookback_days(chosen)
        span = (date.fromisoformat(last) - date.fromisoformat(first)).days
        window = [(date.fromisoformat(first) + timedelta(days=n)).isoformat() for n in range(span + 1)]
        _table_view(db, ORDERS, lake, window, f"{ORDERS.name}{LOOKBACK}")  # the lead's orders
        for table in ROLLUP_TABLES.values():
            for day, rows in _split_by_day(db, ROLLUP_SQL[table.name], table, chosen):
                _write_atomic(rows, rollup_file(lake, table, day))
    finally:
        db.close()
    return len(chosen)


@contextmanager
def _locked(lake: Path) -> Iterator[None]:
    """One maintainer at a time: two could otherwise finish in the wrong order."""
    folder = Path(lake) / STATE
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _sweep_work_files(lake: Path) -> None:
    """Delete the work files of a run killed between a write and its rename. Only under
    the lock: no other build is writing one."""
    for table in ROLLUP_TABLES.values():
        for path in (Path(lake) / table.name).glob(f"dt=*/.{FILE_NAME}.*.tmp"):
            if _WORK_FILE.fullmatch(path.name) and path.is_file():
                path.unlink(missing_ok=True)


def _claim(lake: Path) -> list[Path]:
    """Take every marker (renamed to a claimed name): a write during the build marks again."""
    claimed = []
    for marker in _markers(lake):
        if marker.name.startswith("."):  # claimed by a run that died: still to do
            claimed.append(marker)
            continue
        target = marker.with_name(f".{marker.name}.{uuid.uuid4().hex[:8]}")
        try:
            os.replace(marker, target)
        except FileNotFoundError:
            continue
        claimed.append(target)
    return claimed


def _cutoff(now: datetime | None) -> str:
    """The first day not closed at ``now``."""
    return ((now or clock.now()).astimezone(UTC) - GRACE).date().isoformat()


def _closed_raw_days(lake: Path, now: datetime | None) -> set[str]:
    cutoff = _cutoff(now)
    return {d for d in raw_days(lake) if d < cutoff}


def refresh_rollups(lake: Path, now: datetime | None = None) -> RollupReport:
    """Roll up every closed day not rolled up yet, and rebuild the dirty ones."""
    started = time.monotonic()
    lake = Path(lake)
    if not (lake / EVENTS.name).is_dir():
        return RollupReport(0, 0, 0.0)
    with _locked(lake):
        _sweep_work_files(lake)
        claimed = _claim(lake)
        dirty, first_from = _dirty(claimed)
        closed = _closed_raw_days(lake, now)
        done = rolled_up_days(lake)
        todo = (
            (closed - done) | (dirty & closed) | {d for d in closed & done if first_from and d >= first_from}
        )
        built = build_days(lake, todo)
        removed = _remove(lake, done - raw_days(lake))
        _stamp(lake)  # every closed day is now of this version (an older one: all rebuilt)
        metrics = _metric_rollups(lake, now)
        for marker in claimed:
            marker.unlink(missing_ok=True)
    return RollupReport(built, removed, time.monotonic() - started, metrics.days_built)


def rebuild_rollups(lake: Path, since: date | str | None = None, now: datetime | None = None) -> RollupReport:
    """Rebuild the rollups of every closed day from ``since`` on (all days: None) from raw."""
    started = time.monotonic()
    lake = Path(lake)
    first = since.isoformat() if isinstance(since, date) else since
    with _locked(lake):
        _sweep_work_files(lake)
        claimed = _claim(lake)
        todo = {d for d in _closed_raw_days(lake, now) if first is None or d >= first}
        built = build_days(lake, todo)
        stale = {d for d in rolled_up_days(lake) - raw_days(lake) if first is None or d >= first}
        removed = _remove(lake, stale)
        if first is None:
            _stamp(lake)
        metrics = _metric_rollups(lake, now, rebuild_from=first, rebuild=True)
        _settle(lake, claimed, first, done=rolled_up_days(lake))
    return RollupReport(built, removed, time.monotonic() - started, metrics.days_built)


def _metric_rollups(lake: Path, now: datetime | None, **rebuild: Any) -> MetricRollupReport:
    """The bus metrics' rollups (app/lake/metric_rollups.py), which only make Delivery
    health faster: whatever stops them (an unreadable point file) is logged, and the lake's
    own rollups and markers are settled all the same; the reader reads the points."""
    try:
        return refresh_metric_rollups(lake, _cutoff(now), **rebuild)
    except Exception:
        log.exception("bus-metric rollups of %s not refreshed (Delivery health reads the points)", lake)
        return MetricRollupReport(0, 0)


def _settle(lake: Path, claimed: list[Path], first: str | None, done: set[str]) -> None:
    """Drop the markers a rebuild from ``first`` on answered; put back the others (days
    before ``first`` were not rebuilt)."""
    for marker in claimed:
        kind, day = _marker_day(marker)
        if first is not None and day < first:
            if kind == "dt":
                mark_dirty(lake, [day])
            else:  # dirty from ``day``: the days before ``first`` still are
                mark_dirty(lake, [d for d in done if day <= d < first])
        marker.unlink(missing_ok=True)


def _remove(lake: Path, days: Iterable[str]) -> int:
    """Drop the rollups of days whose raw data is gone (quarantined, deleted)."""
    count = 0
    for day in days:
        for table in ROLLUP_TABLES.values():
            rollup_file(lake, table, day).unlink(missing_ok=True)
        count += 1
    return count
