"""The Overview: one KPI per department, this period against the previous one of equal length.

One query reads the daily parts every KPI is made of (counts, sums, numerators and
denominators) for both periods, each row tagged with its period by its exact instant, and
:func:`summarise` adds the days up. Rates are always the ratio of the sums, never a mean
of daily ratios.

The query reads the whole hours of the days the rollups cover (app/lake/rollups.py) from
``overview_hourly`` and only the rest (partial hours at the periods' edges, the day under
way, days dirty with late events, every day on an engine without rollups) from the raw
tables: the same figures (tests/services/test_rollup_equality.py), at a cost of O(days)
instead of O(events).
The lead time of a partial hour on a covered day comes from ``shipment_leads``; only days
not covered look up the orders their shipments ship (the 21 days before them).

The mean lead time counts the shipments whose order was placed on the shipment's UTC day
or up to ``LEAD_LOOKBACK_DAYS`` (21) days before it: a day's figure is the same in every
range it is seen in.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from app.lake.rollups import LEAD_LOOKBACK_DAYS
from app.services.common import run_sql, to_day
from app.services.context import Context
from app.services.rollup_plan import (
    Columns,
    day_runs,
    days_lacking,
    piece_days,
    pieces_predicate,
    rollup_days,
    run_planned_columns,
    split_at,
    split_by_day,
    whole_numbers,
)
from app.services.timerange import CUSTOM, TimeRange

# A shipment's order placed on its UTC day or up to LEAD_LOOKBACK_DAYS before (rollups.py).
IN_LOOKBACK = (
    f"date_diff('day', CAST(p.placed_at AS DATE), CAST(s.time AS DATE)) BETWEEN 0 AND {LEAD_LOOKBACK_DAYS}"
)

# (part, table, detail type or None for every row, aggregate): one SQL branch each.
COUNTED_PARTS: tuple[tuple[str, str, str | None, str], ...] = (
    ("orders", "orders", "OrderPlaced", "count(*)"),
    ("revenue", "orders", "OrderPlaced", "sum(amount)"),
    ("payments_failed", "payments", "PaymentFailed", "count(*)"),
    ("payments", "payments", None, "count(*)"),  # the table holds authorizations and failures
    ("spend", "campaigns", "CampaignSpend", "sum(spend)"),
    ("stock_outs", "inventory", "StockOut", "count(*)"),
    ("shipments", "shipments", "OrderShipped", "count(*)"),
    ("delivered_on_time", "shipments", "OrderDelivered", "count_if(NOT coalesce(late, false))"),
    ("delivered", "shipments", "OrderDelivered", "count(*)"),
    ("units_made", "production", "BatchCompleted", "sum(units)"),
    ("tickets", "tickets", "TicketOpened", "count(*)"),
)
IN_RANGE = "dt BETWEEN :dt_from AND :dt_to AND time >= :t_from AND time < :t_to"

# Shipments joined to the orders they ship (placed up to LEAD_LOOKBACK_DAYS earlier),
# and capacity by the day it was planned for.
LEAD_AND_CAPACITY_SQL = f"""
WITH
placed AS (
  SELECT order_id, min(time) AS placed_at FROM orders
  WHERE dt BETWEEN :dt_orders_from AND :dt_to AND detail_type = 'OrderPlaced'
  GROUP BY order_id
),
lead AS (
  SELECT CAST(s.time AS DATE) AS day, date_diff('second', p.placed_at, s.time) / 3600.0 AS hours
  FROM shipments s JOIN placed p ON s.order_id = p.order_id
  WHERE s.dt BETWEEN :dt_from AND :dt_to AND s.time >= :t_from AND s.time < :t_to
    AND s.detail_type = 'OrderShipped' AND {IN_LOOKBACK}
)
SELECT day, 'lead_hours' AS part, sum(hours) AS value FROM lead GROUP BY 1
UNION ALL
SELECT day, 'lead_count', CAST(count(*) AS DOUBLE) FROM lead GROUP BY 1
UNION ALL
SELECT plan_date, 'capacity', CAST(sum(capacity_units) AS DOUBLE) FROM production
WHERE dt BETWEEN :dt_orders_from AND :dt_to AND detail_type = 'CapacityPlanned'
  AND plan_date BETWEEN CAST(:dt_from AS DATE) AND CAST(:dt_to AS DATE)
GROUP BY 1
"""


def _part_sql(part: str, table: str, detail_type: str | None, aggregate: str) -> str:
    only = f" AND detail_type = '{detail_type}'" if detail_type else ""
    return (
        f"SELECT CAST(time AS DATE) AS day, '{part}' AS part, CAST({aggregate} AS DOUBLE) AS value\n"
        f"FROM {table} WHERE {IN_RANGE}{only} GROUP BY 1"
    )


# One row per (day, part), every part a KPI is made of. Built from constants only.
DAILY_PARTS_SQL = LEAD_AND_CAPACITY_SQL + "".join(
    "UNION ALL\n" + _part_sql(*spec) + "\n" for spec in COUNTED_PARTS
)


# The same parts from the rollups (app/lake/rollups.py), for two periods side by side:
# ``period`` 1 for rows at or after :t_cut (this period), 0 before it (the previous one).
# Athena binds values in WHERE clauses only, so a row's period is chosen there: each row
# meets both periods (PERIODS) and is kept with the one its instant falls in (IN_PERIOD,
# an equality: a hash join on a table of two rows, where a condition inside an OR made
# DuckDB filter the cross product, 7 ms of a year's 75). Capacity rows carry the day they
# were ``written`` instead (period 0): each period takes those its own query would read
# (:func:`_in_periods`), the day both periods share twice. Whole hours of the days the
# rollups cover ({hours}), capacity of whole days written ({days}). One scan.
PERIODS = "CROSS JOIN (VALUES (0), (1)) AS pp(period)"
IN_PERIOD = "pp.period = CASE WHEN {time} >= :t_cut THEN 1 ELSE 0 END"
NOT_WRITTEN = "CAST(NULL AS DATE) AS written"  # the rows other than capacity
# Each branch's ``day``: a UTC date. :func:`planned_parts_sql` with ``hourly`` puts the
# hour in its place (capacity's day as its midnight), for the series of a range too short
# to hold a whole day.
DAY_OF = {
    "CASE WHEN part = 'capacity' THEN plan_date ELSE CAST(hour AS DATE) END AS day": (
        "CASE WHEN part = 'capacity' THEN CAST(plan_date AS TIMESTAMP) ELSE hour END AS day"
    ),
    "SELECT CAST(l.time AS DATE) AS day": "SELECT date_trunc('hour', l.time) AS day",
    "SELECT CAST(s.time AS DATE) AS day": "SELECT date_trunc('hour', s.time) AS day",
    "SELECT plan_date AS day": "SELECT CAST(plan_date AS TIMESTAMP) AS day",
    "SELECT CAST(t.time AS DATE) AS day": "SELECT date_trunc('hour', t.time) AS day",
}
ROLLUP_PARTS_SQL = f"""
SELECT CASE WHEN part = 'capacity' THEN plan_date ELSE CAST(hour AS DATE) END AS day, part,
  pp.period, CASE WHEN part = 'capacity' THEN CAST(dt AS DATE) END AS written, sum(value) AS value
FROM overview_hourly {PERIODS}
WHERE dt BETWEEN :dt_orders_from AND :dt_to
  AND pp.period = CASE WHEN part <> 'capacity' AND hour >= :t_cut THEN 1 ELSE 0 END AND (
  (part <> 'capacity' AND {{hours}})
  OR (part = 'capacity' AND {{days}} AND plan_date BETWEEN CAST(:dt_from AS DATE) AND CAST(:dt_to AS DATE)))
GROUP BY 1, 2, 3, 4
"""
# The rest from the raw tables. Lead time of raw pieces on covered days: shipment_leads
# ({leads}); of the other raw pieces ({shipments}, {shipped}): their shipments joined to
# the orders placed from LEAD_LOOKBACK_DAYS before the first of them (:dt_lead_from).
LEAD_PARTS = "CROSS JOIN (VALUES ('lead_hours'), ('lead_count')) AS k(part)"
LEAD_VALUE = "CASE WHEN k.part = 'lead_hours' THEN sum(l.hours) ELSE CAST(count(*) AS DOUBLE) END"
ROLLED_LEAD_SQL = f"""
SELECT CAST(l.time AS DATE) AS day, k.part, pp.period, {NOT_WRITTEN}, {LEAD_VALUE} AS value
FROM shipment_leads l {LEAD_PARTS} {PERIODS} WHERE {{leads}} AND {IN_PERIOD.format(time="l.time")}
GROUP BY 1, 2, 3
"""
RAW_LEAD_SQL = f"""
SELECT l.day, k.part, l.period, {NOT_WRITTEN}, {LEAD_VALUE} AS value
FROM (
  SELECT CAST(s.time AS DATE) AS day, pp.period, date_diff('second', p.placed_at, s.time) / 3600.0 AS hours
  FROM shipments s {PERIODS} JOIN (
    SELECT order_id, min(time) AS placed_at FROM orders
    WHERE dt BETWEEN :dt_lead_from AND :dt_lead_to AND detail_type = 'OrderPlaced'
      AND order_id IN (SELECT order_id FROM shipments WHERE {{shipped}} AND detail_type = 'OrderShipped')
    GROUP BY order_id
  ) p ON s.order_id = p.order_id
  WHERE {{shipments}} AND s.detail_type = 'OrderShipped' AND {IN_LOOKBACK}
    AND {IN_PERIOD.format(time="s.time")}
) l {LEAD_PARTS}
GROUP BY 1, 2, 3
"""
RAW_CAPACITY_SQL = """
SELECT plan_date AS day, 'capacity' AS part, 0 AS period, CAST(dt AS DATE) AS written,
  CAST(sum(capacity_units) AS DOUBLE) AS value
FROM production
WHERE {days} AND detail_type = 'CapacityPlanned'
  AND plan_date BETWEEN CAST(:dt_from AS DATE) AND CAST(:dt_to AS DATE)
GROUP BY plan_date, dt
"""
# What each row adds to a part, by COUNTED_PARTS' aggregate.
ROW_VALUE = {
    "count(*)": "1",
    "sum(amount)": "amount",
    "sum(spend)": "spend",
    "sum(units)": "units",
    "count_if(NOT coalesce(late, false))": "CASE WHEN NOT coalesce(late, false) THEN 1 END",
}


def _is_kind(detail_type: str | None) -> str:
    return f"detail_type = '{detail_type}'" if detail_type else "true"


def _raw_table_sql(table: str, where: str) -> str:
    """COUNTED_PARTS of one table in one scan: a row per (day, part) of the table's rows
    matching ``where`` (a part none of them feed has a null value: adds nothing)."""
    specs = [spec for spec in COUNTED_PARTS if spec[1] == table]
    cases = " ".join(
        f"WHEN '{part}' THEN CASE WHEN {_is_kind(kind)} THEN {ROW_VALUE[aggregate]} END"
        for part, _, kind, aggregate in specs
    )
    kinds = sorted({kind for _, _, kind, _ in specs if kind})
    every_row = any(kind is None for _, _, kind, _ in specs)
    only = "" if every_row else " AND detail_type IN (" + ", ".join(f"'{k}'" for k in kinds) + ")"
    parts = ", ".join(f"('{part}')" for part, *_ in specs)
    return (
        f"SELECT CAST(t.time AS DATE) AS day, k.part, pp.period, {NOT_WRITTEN},"
        f" CAST(sum(CASE k.part {cases} END) AS DOUBLE) AS value\n"
        f"FROM {table} t CROSS JOIN (VALUES {parts}) AS k(part) {PERIODS}\n"
        f"WHERE {where}{only} AND {IN_PERIOD.format(time='t.time')} GROUP BY 1, 2, 3"
    )


def planned_parts_sql(
    rng: TimeRange, cut: datetime, orders_from: str, clean: frozenset[str], *, hourly: bool = False
) -> tuple[str, dict[str, Any], dict[str, set[str]]]:
    """DAILY_PARTS_SQL's rows over ``rng`` (several per day and part: add them up), each
    with its ``period`` (1 from ``cut`` on, 0 before it) or, capacity, the day it was
    ``written`` (:func:`_in_periods` gives each period its own), the whole hours of
    ``clean`` days read from the rollups and only the rest from the raw tables.

    Lead time counts the shipments of each piece whose order was placed on their day or up
    to LEAD_LOOKBACK_DAYS before: from ``shipment_leads`` on clean days, else raw. Capacity
    is filtered by the day it was written, so its pieces are whole days. Also returns the
    ``dt`` partitions each table, raw or rollup, can be read from (for :func:`run_planned`).
    ``hourly``: the rows by UTC hour (``DAY_OF``), capacity's at its day's midnight.
    """
    pieces = split_at(rng.start, cut, rng.end, clean)
    capacity_rollup, capacity_raw = day_runs(
        date.fromisoformat(orders_from), date.fromisoformat(rng.dt_to), clean
    )
    params: dict[str, Any] = {"t_cut": cut}
    branches = []
    if pieces.rollup or capacity_rollup:
        # Its dt BETWEEN :dt_orders_from AND :dt_to prunes the rollup's days for the hours.
        hours, more = pieces_predicate("u", pieces.rollup, "hour", hull=True, prune=False)
        params.update(more)
        rolled_days, more = pieces_predicate("cu", capacity_rollup, None, hull=True)
        params.update(more)
        branches.append(ROLLUP_PARTS_SQL.format(hours=hours, days=rolled_days))
    if capacity_raw:
        raw_days, more = pieces_predicate("cr", capacity_raw, None)
        params.update(more)
        branches.append(RAW_CAPACITY_SQL.format(days=raw_days))
    lead_rolled, lead_raw = split_by_day(pieces.raw, clean)
    if lead_rolled:
        leads, more = pieces_predicate("lr", lead_rolled, "l.time", "l.dt")
        params.update(more)
        branches.append(ROLLED_LEAD_SQL.format(leads=leads))
    lookup: set[str] = set()
    if lead_raw:
        shipped, more = pieces_predicate("ls", lead_raw, "time")
        params.update(more)
        qualified, _ = pieces_predicate("ls", lead_raw, "s.time", "s.dt")
        lead_from = lead_raw[0][0].date() - timedelta(days=LEAD_LOOKBACK_DAYS)
        lead_to = (lead_raw[-1][1] - timedelta(microseconds=1)).date()
        params["dt_lead_from"], params["dt_lead_to"] = lead_from.isoformat(), lead_to.isoformat()
        branches.append(RAW_LEAD_SQL.format(shipped=shipped, shipments=qualified))
        lookup = piece_days([(datetime.combine(lead_from, datetime.min.time(), UTC), lead_raw[-1][1])])
    if pieces.raw:
        raw, more = pieces_predicate("r", pieces.raw, "t.time", "t.dt")
        params.update(more)
        branches += [_raw_table_sql(table, raw) for table in dict.fromkeys(spec[1] for spec in COUNTED_PARTS)]
    in_pieces = piece_days(pieces.raw)
    days = {table: set(in_pieces) for table in dict.fromkeys(spec[1] for spec in COUNTED_PARTS)}
    days["orders"] |= lookup  # the orders shipped in raw pieces: placed in their lookback
    days["production"] |= piece_days(capacity_raw)
    days["shipment_leads"] = piece_days(lead_rolled)
    days["overview_hourly"] = piece_days(pieces.rollup) | piece_days(capacity_rollup)
    sql = "\nUNION ALL\n".join(b.strip() for b in branches)
    return (_by_hour(sql) if hourly else sql), params, days


def _by_hour(sql: str) -> str:
    """``sql`` with each branch's day (``DAY_OF``) in hours."""
    for day, hour in DAY_OF.items():
        sql = sql.replace(day, hour)
    return sql


@dataclass(frozen=True)
class KpiSpec:
    department: str
    label: str
    numerator: str  # a part of DAILY_PARTS_SQL
    denominator: str | None  # None: the KPI is a plain sum
    unit: str  # "count" | "money" | "percent" | "hours"
    higher_is_better: bool
    detail: tuple[str, str] | None = None  # (part, caption label) shown under the value


KPIS: tuple[KpiSpec, ...] = (
    KpiSpec("Retail web shop", "Orders", "orders", None, "count", True, ("revenue", "revenue")),
    KpiSpec(
        "Payments",
        "Payment failure rate",
        "payments_failed",
        "payments",
        "percent",
        False,
        ("payments", "payments"),
    ),
    KpiSpec("Marketing", "Campaign spend", "spend", None, "money", True),
    KpiSpec("ERP", "Stock-outs", "stock_outs", None, "count", False),
    KpiSpec("Fulfillment", "Shipments", "shipments", None, "count", True, ("lead_time", "mean lead time")),
    KpiSpec(
        "Logistics",
        "On-time delivery rate",
        "delivered_on_time",
        "delivered",
        "percent",
        True,
        ("delivered", "delivered"),
    ),
    KpiSpec(
        "Production lines",
        "Output vs capacity",
        "units_made",
        "capacity",
        "percent",
        True,
        ("units_made", "units made"),
    ),
    KpiSpec("Customer relations", "Tickets opened", "tickets", None, "count", False),
)


@dataclass(frozen=True)
class Kpi:
    spec: KpiSpec
    value: float | None  # None: no data in the period
    previous: float | None
    detail: float | None  # the secondary figure, this period
    trend_values: np.ndarray  # daily value over this period's shown days (NaN: none)
    trend_days: np.ndarray  # those days (datetime64[us], UTC midnights, as _calendar has them)
    trend_name: str | None = None

    @property
    def trend(self) -> pd.Series:
        """The daily values indexed by day (a card draws :attr:`trend_values` alone)."""
        return pd.Series(self.trend_values, index=pd.DatetimeIndex(self.trend_days), name=self.trend_name)

    @property
    def change(self) -> float | None:
        """Relative change for sums, difference in points for rates; None if not comparable."""
        if self.value is None or self.previous is None:
            return None
        if self.spec.denominator:
            return self.value - self.previous
        return None if self.previous == 0 else (self.value - self.previous) / self.previous


@dataclass(frozen=True)
class Overview:
    kpis: list[Kpi]
    daily: pd.DataFrame  # day, department, label, value, period ("this" | "previous"), offset_days

    @property
    def is_empty(self) -> bool:
        return all(k.value is None for k in self.kpis)


def period_parts(ctx: Context, rng: TimeRange, *, rollups: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """day, part, value of ``rng`` and of the period before it (several rows of a day and
    part: add them up); planned capacity pro rata for partly covered days.

    ``rollups``: one statement for both periods, reading the days the rollups cover from
    them (the same figures, see :func:`planned_parts_sql`): one scan of each table and, on
    Athena, one query to pay for instead of two. False: each period's own query over every
    row of the raw tables (the reference the rollups are tested against).
    """
    if not rollups:
        return raw_daily_parts(ctx, rng), raw_daily_parts(ctx, rng.previous())
    columns, taken, rows, halves = _both_periods(ctx, rng, _period_days(rng))
    days = rows.day.astype("datetime64[D]").astype("datetime64[ns]")
    parts = np.asarray(columns["part"], dtype=object)[taken]
    parts = pd.array(parts, dtype="str" if len(parts) else object)  # as a frame of no rows has them
    this, before = (
        pd.DataFrame({"day": days[half], "part": parts[half], "value": rows.value[half]}) for half in halves
    )
    return this, before


def _both_periods(
    ctx: Context, rng: TimeRange, days: tuple[_Days, _Days]
) -> tuple[Columns, np.ndarray, _Rows, tuple[np.ndarray, np.ndarray]]:
    """The one statement's columns for ``rng`` and the period before it (``days``: theirs),
    which of its rows each period has (:func:`_in_periods`), those rows with capacity pro
    rata in their period, and which of them are of each period."""
    columns = _planned_columns(ctx, rng)
    return (columns, *_split_periods(columns, days))


def _planned_columns(ctx: Context, rng: TimeRange, *, hourly: bool = False) -> Columns:
    """The one statement's rows (day or, ``hourly``, hour; part; period; written; value)
    for ``rng`` and the period before it, by column: the figures are computed on arrays,
    so no DataFrame is made of them where the engine gives arrays."""
    both = _both(rng)
    orders_from = _orders_from(both)
    clean = _readable_days(ctx, rng)
    sql, params, tables = planned_parts_sql(both, rng.start, orders_from, clean, hourly=hourly)
    return run_planned_columns(ctx, sql, both, {**params, "dt_orders_from": orders_from}, tables)


def _both(rng: TimeRange) -> TimeRange:
    return TimeRange(rng.previous().start, rng.end, CUSTOM, "both periods")


def _readable_days(ctx: Context, rng: TimeRange) -> frozenset[str]:
    """The rolled-up days :func:`planned_parts_sql` can read for ``rng`` and the period
    before it: those of ``overview_hourly`` from the orders' lookback (capacity's are the
    days written from it) less those whose ``shipment_leads`` it would read and lack. It
    reads that table only for the raw pieces of rolled-up days (the partial hours at the
    periods' edges): a day without it is read raw whole, as a day not rolled up."""
    both = _both(rng)
    first = datetime.fromisoformat(_orders_from(both)).replace(tzinfo=UTC)
    lookback = TimeRange(first, rng.end, CUSTOM, "both periods and their lookback")
    clean = rollup_days(ctx, lookback, ("overview_hourly",))
    rolled, _ = split_by_day(split_at(both.start, rng.start, both.end, clean).raw, clean)
    return clean - days_lacking(ctx, piece_days(rolled), ("shipment_leads",))


def _split_periods(
    columns: Columns, days: tuple[_Days, _Days]
) -> tuple[np.ndarray, _Rows, tuple[np.ndarray, np.ndarray]]:
    """The rows of the one statement's ``columns`` each period has (``days``: theirs; their
    positions in the statement's rows, :func:`_in_periods`), those rows with capacity pro
    rata in their period, and which of them are of each (this period, then the previous one)."""
    rows = _Rows.of(columns)
    taken, period = _in_periods(columns, rows.day, days)
    rows = rows.take(taken)
    halves = (period == 1, period == 0)
    for half, period_days in zip(halves, days, strict=True):
        rows = _Rows(rows.day, rows.part, _pro_rata(rows, half, period_days))
    return taken, rows, halves


def _in_periods(
    columns: Columns, day: np.ndarray, days: tuple[_Days, _Days]
) -> tuple[np.ndarray, np.ndarray]:
    """The one statement's rows as each period has them (``day``: each row's UTC day
    number; ``days``: this period's, then the previous one's): which rows (a capacity row
    twice when both periods take it) and each one's period. A capacity row (``written``:
    the day its plan was written) is taken by a period it was planned for, written from
    that period's orders' lookback to its last day: what that period's own query reads."""
    period = whole_numbers(columns["period"])
    written = _day_numbers(columns["written"])
    capacity = written != _NO_DAY
    rows = np.arange(len(period))
    if not capacity.any():
        return rows, period
    taken_this, taken_before = (capacity & _planned_in(day, written, period_days) for period_days in days)
    taken = np.concatenate([rows[~capacity], rows[taken_before], rows[taken_this]])
    periods = np.concatenate(
        [
            period[~capacity],
            np.zeros(int(taken_before.sum()), np.int64),
            np.ones(int(taken_this.sum()), np.int64),
        ]
    )
    return taken, periods


def raw_daily_parts(ctx: Context, rng: TimeRange) -> pd.DataFrame:
    """day, part, value over ``rng`` from every row of the raw tables (DAILY_PARTS_SQL)."""
    frame = run_sql(ctx, DAILY_PARTS_SQL, rng, dt_orders_from=_orders_from(rng))
    return _capacity_pro_rata(frame.assign(day=to_day(frame["day"]), value=frame["value"].astype(float)), rng)


def _orders_from(rng: TimeRange) -> str:
    """The first ``dt`` of the orders the range's shipments can ship (their lead time)."""
    return (rng.start - timedelta(days=LEAD_LOOKBACK_DAYS)).date().isoformat()


def _capacity_pro_rata(frame: pd.DataFrame, rng: TimeRange) -> pd.DataFrame:
    """Each day's planned capacity times the fraction of the day inside ``rng``."""
    rows = _Rows.of(frame)
    values = _pro_rata(rows, np.ones(len(frame), dtype=bool), _Days.of(rng))
    return frame if values is rows.value else frame.assign(value=values)


def day_coverage(rng: TimeRange) -> pd.Series:
    """The fraction of each UTC day (index) that lies inside the range."""
    return pd.Series(_Days.of(rng).coverage, index=_calendar(rng.dt_from, rng.dt_to), dtype=float)


# Every part the queries return, in the order of a period's table (a part's code is its
# position there): COUNTED_PARTS', then LEAD_AND_CAPACITY_SQL's.
PARTS: tuple[str, ...] = (*(spec[0] for spec in COUNTED_PARTS), "lead_hours", "lead_count", "capacity")
_CODE = {part: code for code, part in enumerate(PARTS)}
# Each KPI's numerator and denominator (its numerator again for a plain sum) as codes.
_NUMERATORS = np.array([_CODE[spec.numerator] for spec in KPIS])
_DENOMINATORS = np.array([_CODE[spec.denominator or spec.numerator] for spec in KPIS])
_RATES = np.array([[spec.denominator is not None] for spec in KPIS])
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NO_DAY = np.iinfo(np.int64).min  # a day number where there is none (NaT's)
_DAY_NS = 86_400 * 10**9
_HOUR_NS = 3_600 * 10**9


@dataclass(frozen=True)
class _Rows:
    """Rows of parts as arrays: UTC day (days since 1970-01-01; the smallest int64 for
    none), part (its code; a part outside PARTS has one past them), value (NaN for null)."""

    day: np.ndarray
    part: np.ndarray
    value: np.ndarray

    @staticmethod
    def of(columns: Columns | pd.DataFrame) -> _Rows:
        """The ``day``, ``part`` and ``value`` columns of a statement's rows or a frame."""
        return _Rows(_day_numbers(columns["day"]), _part_codes(columns["part"]), _values(columns["value"]))

    def where(self, mask: np.ndarray) -> _Rows:
        return _Rows(self.day[mask], self.part[mask], self.value[mask])

    def take(self, rows: np.ndarray) -> _Rows:
        return _Rows(self.day[rows], self.part[rows], self.value[rows])


@dataclass(frozen=True)
class _Days:
    """A range's UTC days (``dt_from``..``dt_to``): the first as a day number and the
    fraction of each that lies inside the range."""

    first: int
    coverage: np.ndarray

    @staticmethod
    def of(rng: TimeRange) -> _Days:
        start, end = rng.start.astimezone(UTC), rng.end.astimezone(UTC)
        first = (start - _EPOCH).days
        count = max((end - timedelta(microseconds=1) - _EPOCH).days + 1 - first, 0)
        midnights = (first + np.arange(count, dtype=np.int64)) * _DAY_NS
        start_ns, end_ns = _nanoseconds(start), _nanoseconds(end)
        inside = (np.minimum(end_ns, midnights + _DAY_NS) - np.maximum(start_ns, midnights)) / _DAY_NS
        return _Days(first, inside)

    def position(self, day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Which of the day numbers ``day`` are among these days, and the positions of those."""
        inside = (day >= self.first) & (day < self.first + len(self.coverage))
        return inside, day[inside] - self.first


def _hours_of(rng: TimeRange) -> _Days:
    """:class:`_Days` of whole UTC hours: the range's hours (numbers since 1970-01-01 00:00)
    and the fraction of each inside it."""
    start_ns, end_ns = _nanoseconds(rng.start), _nanoseconds(rng.end)
    first = start_ns // _HOUR_NS
    count = max(-(-end_ns // _HOUR_NS) - first, 0)
    bounds = (first + np.arange(count, dtype=np.int64)) * _HOUR_NS
    inside = (np.minimum(end_ns, bounds + _HOUR_NS) - np.maximum(start_ns, bounds)) / _HOUR_NS
    return _Days(first, inside)


def _period_days(rng: TimeRange) -> tuple[_Days, _Days]:
    return _Days.of(rng), _Days.of(rng.previous())


def _nanoseconds(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


def _planned_in(day: np.ndarray, written: np.ndarray, days: _Days) -> np.ndarray:
    """Which plans (for day numbers ``day``, written on days ``written``) a period of
    ``days`` reads: planned for one of its days, written from LEAD_LOOKBACK_DAYS before its
    first day to its last."""
    last = days.first + len(days.coverage) - 1
    return (
        (day >= days.first) & (day <= last) & (written >= days.first - LEAD_LOOKBACK_DAYS) & (written <= last)
    )


def _day_numbers(days: pd.Series | np.ndarray) -> np.ndarray:
    """Dates or instants (naive ones in UTC) as UTC day numbers (days since 1970-01-01),
    the days :func:`to_day` gives; the smallest int64 where there is none."""
    if isinstance(days.dtype, np.dtype) and days.dtype.kind == "M":  # naive: DuckDB's and Athena's dates
        moments = np.asarray(days)
    else:
        moments = to_day(pd.Series(days)).to_numpy()
    return moments.astype("datetime64[D]").view(np.int64)


def _values(values: pd.Series | np.ndarray) -> np.ndarray:
    """Numbers as floats, NaN where there is none."""
    if isinstance(values, np.ndarray):
        return values.astype(float, copy=False)
    return values.to_numpy(dtype=float, na_value=np.nan)


def _part_codes(parts: pd.Series | np.ndarray) -> np.ndarray:
    """Each row's part as its position in PARTS; any other part (none of the queries'),
    and a missing one, as a code of its own past them."""
    if isinstance(parts, np.ndarray):  # a statement's column of names: looked up one by one
        known = np.fromiter((_CODE.get(part, -1) for part in parts), dtype=np.intp, count=len(parts))
        if (known >= 0).all():
            return known
        parts = pd.Series(parts, dtype=object)
    codes, names = parts.array.factorize()  # code -1 for a missing part: the lookup's last
    lookup = np.array([_CODE.get(name, -1) for name in names] + [-1], dtype=np.intp)
    other = lookup < 0
    lookup[other] = len(PARTS) + np.arange(int(other.sum()))
    return lookup[codes]


def _pro_rata(rows: _Rows, mask: np.ndarray, days: _Days) -> np.ndarray:
    """``rows``' values, the planned capacity of the rows in ``mask`` times the fraction of
    its day inside the range of ``days`` (0 outside it)."""
    capacity = mask & (rows.part == _CODE["capacity"])
    if not capacity.any():
        return rows.value
    inside, at = days.position(rows.day[capacity])
    fraction = np.zeros(len(inside))
    fraction[inside] = days.coverage[at]
    values = rows.value.copy()
    values[capacity] *= fraction
    return values


@dataclass(frozen=True)
class _Table:
    """A period's parts by day: ``sums[code, i]`` the sum of a part's values on the
    period's i-th day (nulls and days without rows are 0); ``present[code]``: the part has
    a value on some row, on a day of the period or not."""

    sums: np.ndarray
    present: np.ndarray

    @staticmethod
    def of(rows: _Rows, days: _Days) -> _Table:
        known = ~np.isnan(rows.value)
        part, value = rows.part[known], rows.value[known]
        height, width = max(len(PARTS), int(part.max(initial=-1)) + 1), len(days.coverage)
        inside, at = days.position(rows.day[known])
        # bincount adds each cell's values in the rows' order, as np.add.at does.
        cells = np.bincount(part[inside] * width + at, weights=value[inside], minlength=height * width)
        return _Table(cells.reshape(height, width), np.bincount(part, minlength=height) > 0)

    def totals(self) -> np.ndarray:
        """Each part's sum over the period (as DataFrame.sum adds a column: NaN skipped)."""
        totals = self.sums.sum(axis=1)
        return np.nansum(self.sums, axis=1) if np.isnan(totals).any() else totals

    def daily_values(self) -> np.ndarray:
        """``[kpi, i]``: each KPI's value on the period's i-th day; NaN where a rate has no
        denominator."""
        numerators, denominators = self.sums[_NUMERATORS], self.sums[_DENOMINATORS]
        with np.errstate(divide="ignore", invalid="ignore"):
            rates = numerators / np.where(denominators == 0, np.nan, denominators)
        return np.where(_RATES, rates, numerators)

    def first_data_day(self, days: _Days) -> int | None:
        """The first day number with data (a part summing to more than 0), if any."""
        positive = (self.sums > 0).any(axis=0)
        return days.first + int(positive.argmax()) if positive.any() else None


def _ratio(numerator: float, denominator: float | None) -> float | None:
    if denominator is None:
        return numerator
    return None if not denominator else numerator / denominator


def _period_value(totals: np.ndarray, spec: KpiSpec) -> float | None:
    """The KPI over a period: None for no data (a rate without a denominator; a count in a
    period where nothing was counted at all, such as one before the lake began), but 0 for
    a count of nothing in a period whose other departments were counted (no stock-out)."""
    numerator = totals[_CODE[spec.numerator]]
    denominator = totals[_CODE[spec.denominator]] if spec.denominator else None
    counted = bool((totals[: len(COUNTED_PARTS)] > 0).any())  # planned capacity is no event
    if numerator == 0 and (denominator == 0 or (denominator is None and not counted)):
        return None
    return _ratio(float(numerator), denominator)


def _detail_value(totals: np.ndarray, spec: KpiSpec) -> float | None:
    if spec.detail is None:
        return None
    part = spec.detail[0]
    if part == "lead_time":
        return _ratio(float(totals[_CODE["lead_hours"]]), float(totals[_CODE["lead_count"]]))
    return float(totals[_CODE[part]])


def summarise(this_parts: pd.DataFrame, previous_parts: pd.DataFrame, rng: TimeRange) -> Overview:
    """KPIs of ``rng`` against the period before it, from :func:`period_parts` of each.

    The figures count every instant of the range; the daily series show whole days only
    (a day under way would look like a collapse) and nothing before the data begins.
    """
    return _summarise((_Rows.of(this_parts), _Rows.of(previous_parts)), rng, _period_days(rng))


def _summarise(rows: tuple[_Rows, _Rows], rng: TimeRange, days: tuple[_Days, _Days]) -> Overview:
    """:func:`summarise` of the rows of ``rng`` and of the period before it (``days``: theirs)."""
    this, before = (_Table.of(r, d) for r, d in zip(rows, days, strict=True))
    # Days before the first day with any data (in either period) are "no data yet", not zeros.
    starts = [this.first_data_day(days[0]), before.first_data_day(days[1])]
    start = min((day for day in starts if day is not None), default=None)
    shown = [_shown(d, start) for d in days]
    values = [this.daily_values(), before.daily_values()]
    totals, totals_before = this.totals(), before.totals()
    periods = [(r.dt_from, r.dt_to) for r in (rng, rng.previous())]
    trend_days, trends = _days_from(*periods[0])[shown[0]], values[0][:, shown[0]]
    kpis = [
        Kpi(
            spec,
            _period_value(totals, spec),
            _period_value(totals_before, spec),
            _detail_value(totals, spec),
            trends[i],
            trend_days,
            _trend_name(spec, this),
        )
        for i, spec in enumerate(KPIS)
    ]
    shown_values = [np.where(mask, v, np.nan) for mask, v in zip(shown, values, strict=True)]
    daily = _daily_frame(*periods).assign(value=np.concatenate(shown_values, axis=1).reshape(-1))
    return Overview(kpis, daily)


def _days_from(dt_from: str, dt_to: str) -> np.ndarray:
    """The UTC days ``dt_from``..``dt_to`` as midnights (datetime64[us]): :func:`_calendar`'s
    days without an index made of them."""
    return np.arange(np.datetime64(dt_from), np.datetime64(dt_to) + 1).astype("datetime64[us]")


# A range's days change once a day (a preset's end moves every 5 minutes): what depends on
# them only is made once for them. Both are only read (assign gives a new frame). Eight
# frames: the five presets and a few custom ranges (a ten-year one holds 58,600 rows).
@functools.lru_cache(maxsize=64)
def _calendar(dt_from: str, dt_to: str) -> pd.DatetimeIndex:
    """The UTC days ``dt_from``..``dt_to``."""
    return pd.date_range(dt_from, dt_to, freq="D")


@functools.lru_cache(maxsize=8)
def _daily_frame(this: tuple[str, str], previous: tuple[str, str]) -> pd.DataFrame:
    """:attr:`Overview.daily` of two periods over these days (``dt_from``, ``dt_to``) with
    every value 0: every KPI and both periods (in that order), built column by column."""
    indexes = [_calendar(*days) for days in (this, previous)]
    lengths, blocks = [len(index) for index in indexes], len(KPIS)
    return pd.DataFrame(
        {
            "day": np.tile(np.concatenate([index.to_numpy() for index in indexes]), blocks),
            "department": np.repeat([spec.department for spec in KPIS], sum(lengths)),
            "label": np.repeat([spec.label for spec in KPIS], sum(lengths)),
            "value": np.zeros(sum(lengths) * blocks),
            "period": np.tile(np.repeat(["this", "previous"], lengths), blocks),
            "offset_days": np.tile(np.concatenate([np.arange(n, dtype=np.int64) for n in lengths]), blocks),
        }
    )


def _shown(days: _Days, data_start: int | None) -> np.ndarray:
    """Which of the days a daily series shows: whole days since the data began (a day number)."""
    if data_start is None:
        return np.zeros(len(days.coverage), dtype=bool)
    return (days.coverage >= 1.0) & (days.first + np.arange(len(days.coverage)) >= data_start)


def _trend_name(spec: KpiSpec, this: _Table) -> str | None:
    """A trend is named after its part when it is that part as it stands: a plain sum of a
    part with a value in the period's rows."""
    return spec.numerator if spec.denominator is None and this.present[_CODE[spec.numerator]] else None


def overview_by_hour(ctx: Context, rng: TimeRange) -> tuple[Overview, pd.DataFrame]:
    """:func:`department_overview` of a range of two days or less, which by the day would
    be a point or two, and each KPI so far in the period hour by hour, from one statement
    (the hourly one: a period's sums are its hours' sums, a row's day is its hour's day).

    The series (:attr:`Overview.daily` by the hour): hour (UTC), department, label, value,
    period, offset_hours. A whole hour's value is the KPI over its period up to that hour's
    end: counts run up, rates are the ratio of the sums so far (planned capacity a 24th of
    its day's an hour). An hour by itself would be noise: output comes in batches, and a
    rate of one hour's few events swings. Hours cut by the range's edges and before the
    data begins have none."""
    columns = _planned_columns(ctx, rng, hourly=True)
    days = _period_days(rng)
    taken, rows, halves = _split_periods(columns, days)
    summary = _summarise((rows.where(halves[0]), rows.where(halves[1])), rng, days)
    return summary, _hourly_from(columns, rng, taken, halves)


def _hourly_from(
    columns: Columns, rng: TimeRange, taken: np.ndarray, halves: tuple[np.ndarray, np.ndarray]
) -> pd.DataFrame:
    """:func:`overview_by_hour`'s series from the hourly statement's ``columns``: the rows
    each period has (``taken``, ``halves``: :func:`_split_periods`'), by the hour."""
    rows = _Rows(_hour_numbers(columns["day"]), _part_codes(columns["part"]), _values(columns["value"])).take(
        taken
    )
    hours = (_hours_of(rng), _hours_of(rng.previous()))
    tables = [
        _Table.of(_capacity_by_hour(rows.where(half), these), these)
        for half, these in zip(halves, hours, strict=True)
    ]
    starts = [table.first_data_day(these) for table, these in zip(tables, hours, strict=True)]
    start = min((hour for hour in starts if hour is not None), default=None)
    pieces = []
    for name, table, these in zip(("this", "previous"), tables, hours, strict=True):
        so_far = _Table(np.cumsum(table.sums, axis=1), table.present)
        values = np.where(_shown(these, start), so_far.daily_values(), np.nan)  # [kpi, hour]
        count = len(these.coverage)
        instants = np.tile((these.first + np.arange(count, dtype=np.int64)) * _HOUR_NS, len(KPIS))
        pieces.append(
            pd.DataFrame(
                {
                    "hour": pd.to_datetime(instants, utc=True),
                    "department": np.repeat([spec.department for spec in KPIS], count),
                    "label": np.repeat([spec.label for spec in KPIS], count),
                    "value": values.reshape(-1),
                    "period": name,
                    "offset_hours": np.tile(np.arange(count, dtype=np.int64), len(KPIS)),
                }
            )
        )
    return pd.concat(pieces, ignore_index=True)


def _hour_numbers(moments: pd.Series | np.ndarray) -> np.ndarray:
    """Instants (naive ones in UTC) as UTC hour numbers (hours since 1970-01-01 00:00)."""
    if isinstance(moments, np.ndarray) and moments.dtype.kind == "M":
        return moments.astype("datetime64[h]").view(np.int64)
    utc = pd.to_datetime(moments, utc=True).dt.tz_convert(None)
    return utc.to_numpy(dtype="datetime64[ns]").astype("datetime64[h]").view(np.int64)


def _capacity_by_hour(rows: _Rows, hours: _Days) -> _Rows:
    """``rows`` with each capacity row (its day's planned units, at the day's midnight) as
    24 rows of a 24th each, times the fraction of its hour inside the range of ``hours``."""
    capacity = rows.part == _CODE["capacity"]
    if not capacity.any():
        return rows
    hour = (rows.day[capacity][:, None] + np.arange(24, dtype=np.int64)).reshape(-1)
    inside, at = hours.position(hour)
    fraction = np.zeros(len(hour))
    fraction[inside] = hours.coverage[at]
    keep = ~capacity
    return _Rows(
        np.concatenate([rows.day[keep], hour]),
        np.concatenate([rows.part[keep], np.full(len(hour), _CODE["capacity"], dtype=rows.part.dtype)]),
        np.concatenate([rows.value[keep], np.repeat(rows.value[capacity] / 24, 24) * fraction]),
    )


def department_overview(ctx: Context, rng: TimeRange, *, rollups: bool = True) -> Overview:
    """The range's KPIs against the period before it."""
    if not rollups:
        return summarise(*period_parts(ctx, rng, rollups=False), rng)
    days = _period_days(rng)
    *_, rows, (this, before) = _both_periods(ctx, rng, days)
    return _summarise((rows.where(this), rows.where(before)), rng, days)


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "percent":
        return f"{value:.1%}"
    if unit == "money":
        return f"${value:,.0f}"
    if unit == "hours":
        return f"{value:,.1f} h"
    return f"{value:,.0f}"


def format_change(kpi: Kpi) -> str | None:
    change = kpi.change
    if change is None:
        return None
    if kpi.spec.denominator:
        return f"{change * 100:+.1f} pp"
    return f"{change:+.1%}"


def format_detail(kpi: Kpi) -> str | None:
    """The secondary figure under a KPI ("$1,234 revenue", "of 5,210 payments")."""
    if kpi.spec.detail is None or kpi.detail is None:
        return None
    part, label = kpi.spec.detail
    if part == "revenue":
        return f"{format_value(kpi.detail, 'money')} {label}"
    if part == "lead_time":
        return f"{label} {format_value(kpi.detail, 'hours')}"
    if kpi.spec.denominator == part:
        return f"of {format_value(kpi.detail, 'count')} {label}"
    return f"{format_value(kpi.detail, 'count')} {label}"
