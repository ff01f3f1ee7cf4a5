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

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from app.lake.rollups import LEAD_LOOKBACK_DAYS
from app.services.common import run_sql, to_day
from app.services.context import Context
from app.services.rollup_plan import (
    day_runs,
    piece_days,
    pieces_predicate,
    rollup_days,
    run_planned,
    split_at,
    split_by_day,
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
# meets both periods (PERIODS) and is kept with the one its instant falls in (IN_PERIOD).
# Capacity is kept with each period it belongs to as that period's own query has it
# (IN_CAPACITY_PERIOD: planned for one of its days, written from its orders' lookback to
# its last day), the day both periods share twice. Whole hours of the days the rollups
# cover ({hours}), capacity of whole days written ({days}). One scan.
PERIODS = "CROSS JOIN (VALUES (0), (1)) AS pp(period)"
IN_PERIOD = "pp.period = CASE WHEN {time} >= :t_cut THEN 1 ELSE 0 END"
IN_CAPACITY_PERIOD = (
    "((pp.period = 0 AND dt <= :dt_before_to AND plan_date <= CAST(:dt_before_to AS DATE))"
    " OR (pp.period = 1 AND dt >= :dt_this_orders_from AND plan_date >= CAST(:dt_this_from AS DATE)))"
)
ROLLUP_PARTS_SQL = f"""
SELECT CASE WHEN part = 'capacity' THEN plan_date ELSE CAST(hour AS DATE) END AS day, part,
  pp.period, sum(value) AS value
FROM overview_hourly {PERIODS}
WHERE dt BETWEEN :dt_orders_from AND :dt_to AND (
  (part <> 'capacity' AND pp.period = CASE WHEN hour < :t_cut THEN 0 ELSE 1 END AND {{hours}})
  OR (part = 'capacity' AND {{days}} AND plan_date BETWEEN CAST(:dt_from AS DATE) AND CAST(:dt_to AS DATE)
    AND {IN_CAPACITY_PERIOD}))
GROUP BY 1, 2, 3
"""
# The rest from the raw tables. Lead time of raw pieces on covered days: shipment_leads
# ({leads}); of the other raw pieces ({shipments}, {shipped}): their shipments joined to
# the orders placed from LEAD_LOOKBACK_DAYS before the first of them (:dt_lead_from).
LEAD_PARTS = "CROSS JOIN (VALUES ('lead_hours'), ('lead_count')) AS k(part)"
LEAD_VALUE = "CASE WHEN k.part = 'lead_hours' THEN sum(l.hours) ELSE CAST(count(*) AS DOUBLE) END"
ROLLED_LEAD_SQL = f"""
SELECT CAST(l.time AS DATE) AS day, k.part, pp.period, {LEAD_VALUE} AS value
FROM shipment_leads l {LEAD_PARTS} {PERIODS} WHERE {{leads}} AND {IN_PERIOD.format(time="l.time")}
GROUP BY 1, 2, 3
"""
RAW_LEAD_SQL = f"""
SELECT l.day, k.part, l.period, {LEAD_VALUE} AS value
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
RAW_CAPACITY_SQL = f"""
SELECT plan_date AS day, 'capacity' AS part, pp.period, CAST(sum(capacity_units) AS DOUBLE) AS value
FROM production {PERIODS}
WHERE {{days}} AND detail_type = 'CapacityPlanned'
  AND plan_date BETWEEN CAST(:dt_from AS DATE) AND CAST(:dt_to AS DATE) AND {IN_CAPACITY_PERIOD}
GROUP BY 1, 2, 3
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
        f"SELECT CAST(t.time AS DATE) AS day, k.part, pp.period,"
        f" CAST(sum(CASE k.part {cases} END) AS DOUBLE) AS value\n"
        f"FROM {table} t CROSS JOIN (VALUES {parts}) AS k(part) {PERIODS}\n"
        f"WHERE {where}{only} AND {IN_PERIOD.format(time='t.time')} GROUP BY 1, 2, 3"
    )


def planned_parts_sql(
    rng: TimeRange, cut: datetime, orders_from: str, clean: frozenset[str]
) -> tuple[str, dict[str, Any], dict[str, set[str]]]:
    """DAILY_PARTS_SQL's rows over ``rng`` (several per day and part: add them up), each
    with its ``period`` (1 from ``cut`` on, 0 before it; capacity that each period's own
    DAILY_PARTS_SQL would read), the whole hours of ``clean`` days read from the rollups
    and only the rest from the raw tables.

    Lead time counts the shipments of each piece whose order was placed on their day or up
    to LEAD_LOOKBACK_DAYS before: from ``shipment_leads`` on clean days, else raw. Capacity
    is filtered by the day it was written, so its pieces are whole days. Also returns the
    ``dt`` partitions each table, raw or rollup, can be read from (for :func:`run_planned`).
    """
    pieces = split_at(rng.start, cut, rng.end, clean)
    capacity_rollup, capacity_raw = day_runs(
        date.fromisoformat(orders_from), date.fromisoformat(rng.dt_to), clean
    )
    params: dict[str, Any] = {
        "t_cut": cut,
        "dt_before_to": (cut.astimezone(UTC) - timedelta(microseconds=1)).date().isoformat(),
        "dt_this_from": cut.astimezone(UTC).date().isoformat(),
        "dt_this_orders_from": (cut.astimezone(UTC) - timedelta(days=LEAD_LOOKBACK_DAYS)).date().isoformat(),
    }
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
    return "\nUNION ALL\n".join(b.strip() for b in branches), params, days


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
    trend: pd.Series  # daily value over this period, indexed by day

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
    previous = rng.previous()
    if not rollups:
        return raw_daily_parts(ctx, rng), raw_daily_parts(ctx, previous)
    both = TimeRange(previous.start, rng.end, CUSTOM, "both periods")
    orders_from = _orders_from(previous)
    # The rolled-up days the query can read: capacity's are the days written from orders_from.
    first = datetime.fromisoformat(orders_from).replace(tzinfo=UTC)
    lookback = TimeRange(first, rng.end, CUSTOM, "both periods and their lookback")
    clean = rollup_days(ctx, lookback, ("overview_hourly", "shipment_leads"))
    sql, params, days = planned_parts_sql(both, rng.start, orders_from, clean)
    frame = run_planned(ctx, sql, both, {**params, "dt_orders_from": orders_from}, days)
    frame = frame.assign(
        day=to_day(frame["day"]), value=frame["value"].astype(float), period=frame["period"].astype(int)
    )
    codes = frame["period"].to_numpy()
    halves = []
    for code, period in ((1, rng), (0, previous)):
        parts = frame.loc[codes == code, ["day", "part", "value"]].reset_index(drop=True)
        halves.append(_capacity_pro_rata(parts, period))
    return halves[0], halves[1]


def raw_daily_parts(ctx: Context, rng: TimeRange) -> pd.DataFrame:
    """day, part, value over ``rng`` from every row of the raw tables (DAILY_PARTS_SQL)."""
    frame = run_sql(ctx, DAILY_PARTS_SQL, rng, dt_orders_from=_orders_from(rng))
    return _capacity_pro_rata(frame.assign(day=to_day(frame["day"]), value=frame["value"].astype(float)), rng)


def _orders_from(rng: TimeRange) -> str:
    """The first ``dt`` of the orders the range's shipments can ship (their lead time)."""
    return (rng.start - pd.Timedelta(days=LEAD_LOOKBACK_DAYS)).date().isoformat()


def _capacity_pro_rata(frame: pd.DataFrame, rng: TimeRange) -> pd.DataFrame:
    """Each day's planned capacity times the fraction of the day inside ``rng``."""
    capacity = (frame["part"] == "capacity").to_numpy(dtype=bool)
    if not capacity.any():
        return frame
    coverage = day_coverage(rng)
    # Each capacity row's day as a position in ``coverage`` (days are midnights); 0 outside it.
    at = (frame["day"].to_numpy()[capacity] - coverage.index[0].to_datetime64()) // np.timedelta64(1, "D")
    inside = (at >= 0) & (at < len(coverage))
    values = frame["value"].to_numpy(dtype=float, copy=True)
    values[capacity] *= np.where(inside, coverage.to_numpy()[np.clip(at, 0, len(coverage) - 1)], 0.0)
    return frame.assign(value=values)


def day_coverage(rng: TimeRange) -> pd.Series:
    """The fraction of each UTC day (index) that lies inside the range."""
    days = pd.date_range(rng.dt_from, rng.dt_to, freq="D")
    start = np.datetime64(pd.Timestamp(rng.start).tz_convert("UTC").tz_localize(None), "ns")
    end = np.datetime64(pd.Timestamp(rng.end).tz_convert("UTC").tz_localize(None), "ns")
    midnights, one_day = days.to_numpy(), np.timedelta64(1, "D")
    inside = (np.minimum(end, midnights + one_day) - np.maximum(start, midnights)) / one_day
    return pd.Series(inside, index=days, dtype=float)


def _ratio(numerator: float, denominator: float | None) -> float | None:
    if denominator is None:
        return numerator
    return None if not denominator else numerator / denominator


def _period_value(totals: pd.Series, spec: KpiSpec) -> float | None:
    if totals.get(spec.numerator, 0) == 0 and (
        spec.denominator is None or totals.get(spec.denominator, 0) == 0
    ):
        return None
    denominator = totals.get(spec.denominator, 0.0) if spec.denominator else None
    return _ratio(float(totals.get(spec.numerator, 0.0)), denominator)


def _detail_value(totals: pd.Series, spec: KpiSpec) -> float | None:
    if spec.detail is None:
        return None
    part = spec.detail[0]
    if part == "lead_time":
        return _ratio(float(totals.get("lead_hours", 0.0)), float(totals.get("lead_count", 0.0)))
    return float(totals.get(part, 0.0))


def _daily_values(wide: pd.DataFrame, spec: KpiSpec) -> np.ndarray:
    """The KPI's value on each row (day) of ``wide``; NaN where a rate has no denominator."""
    zeros = np.zeros(len(wide))
    numerator = wide[spec.numerator].to_numpy() if spec.numerator in wide else zeros
    if spec.denominator is None:
        return numerator
    denominator = wide[spec.denominator].to_numpy() if spec.denominator in wide else zeros
    with np.errstate(divide="ignore", invalid="ignore"):
        return numerator / np.where(denominator == 0, np.nan, denominator)


def _wide(parts: pd.DataFrame, rng: TimeRange) -> pd.DataFrame:
    """One column per part with a value (sorted by name), one row per UTC day of ``rng``:
    the sum of the part's values that day (nulls and days without rows are 0)."""
    index = pd.date_range(rng.dt_from, rng.dt_to, freq="D")
    values = parts["value"].to_numpy(dtype=float)
    known = ~np.isnan(values)
    names, codes = np.unique(parts["part"].to_numpy()[known].astype(str), return_inverse=True)
    days = to_day(parts["day"]).to_numpy()[known]
    rows = (days - index[0].to_datetime64()) // np.timedelta64(1, "D")
    inside = (rows >= 0) & (rows < len(index))
    table = np.zeros((len(index), len(names)))
    np.add.at(table, (rows[inside], codes.reshape(-1)[inside]), values[known][inside])
    return pd.DataFrame(table, index=index, columns=pd.Index(names, name="part"))


def _data_start(*wides: pd.DataFrame) -> pd.Timestamp:
    """The first day with any data (a part summing to more than 0): days before it are
    "no data yet", not zeros."""
    days = [w.index[(w.to_numpy() > 0).any(axis=1)].min() for w in wides]
    days = [d for d in days if pd.notna(d)]
    return min(days) if days else pd.Timestamp.max


def summarise(this_parts: pd.DataFrame, previous_parts: pd.DataFrame, rng: TimeRange) -> Overview:
    """KPIs of ``rng`` against the period before it, from :func:`daily_parts` of each.

    The figures count every instant of the range; the daily series show whole days only
    (a day under way would look like a collapse) and nothing before the data begins.
    """
    this, before = _wide(this_parts, rng), _wide(previous_parts, rng.previous())
    start = _data_start(this, before)
    shown, shown_before = _shown_days(rng, start), _shown_days(rng.previous(), start)
    totals, totals_before = this.sum(), before.sum()
    periods = (("this", this, shown.to_numpy()), ("previous", before, shown_before.to_numpy()))
    kpis: list[Kpi] = []
    values: dict[str, list[np.ndarray]] = {name: [] for name, _, _ in periods}
    for spec in KPIS:
        for name, wide, _ in periods:
            values[name].append(_daily_values(wide, spec))
        named = spec.denominator is None and spec.numerator in this  # a column as it stands
        trend = pd.Series(values["this"][-1], index=this.index, name=spec.numerator if named else None)[shown]
        kpis.append(
            Kpi(
                spec,
                _period_value(totals, spec),
                _period_value(totals_before, spec),
                _detail_value(totals, spec),
                trend,
            )
        )
    # One frame for every KPI and both periods (in that order), built column by column.
    blocks = [(i, name, wide, mask) for i in range(len(KPIS)) for name, wide, mask in periods]
    lengths = [len(wide) for _, _, wide, _ in blocks]
    offsets = {name: ((w.index - w.index.min()) // pd.Timedelta(days=1)).to_numpy() for name, w, _ in periods}
    daily = pd.DataFrame(
        {
            "day": np.concatenate([wide.index.to_numpy() for _, _, wide, _ in blocks]),
            "department": np.repeat([KPIS[i].department for i, _, _, _ in blocks], lengths),
            "label": np.repeat([KPIS[i].label for i, _, _, _ in blocks], lengths),
            "value": np.concatenate([np.where(mask, values[name][i], np.nan) for i, name, _, mask in blocks]),
            "period": np.repeat([name for _, name, _, _ in blocks], lengths),
            "offset_days": np.concatenate([offsets[name] for _, name, _, _ in blocks]),
        }
    )
    return Overview(kpis, daily)


def _shown_days(rng: TimeRange, data_start: pd.Timestamp) -> pd.Series:
    """Which UTC days of ``rng`` a daily series shows: whole days since the data began."""
    coverage = day_coverage(rng)
    return (coverage >= 1.0) & (coverage.index >= data_start)


def department_overview(ctx: Context, rng: TimeRange, *, rollups: bool = True) -> Overview:
    """The range's KPIs against the period before it."""
    this, before = period_parts(ctx, rng, rollups=rollups)
    return summarise(this, before, rng)


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
