"""The Overview's arithmetic after its query against a reference written plainly in pandas.

A property test without hypothesis: SEED drives random part rows, as the one statement
for both periods returns them (day, part, period, written, value: a capacity row's period
is the days it was planned for and written on, not its ``period``) and as ``summarise`` takes them
(day, part, value): days inside the periods and up to three days outside them, several
rows of a day and part, null values, parts missing, a part none of the queries has,
planned capacity on days the range covers in part, empty and all-null frames; ranges of
whole local days in a half-hour zone, rolling ranges ending at any second, ranges of a
few hours within one day. No clock: every range is built from fixed days.

The reference (``expected``) adds the rows up with groupby and unstack, pro-rates
capacity by each day's share of the range computed with datetime arithmetic, and builds
the KPIs, trends and daily frame row by row from the rules in app/services/overview.py's
docstrings. Figures to a relative 1e-12 (pro-rated capacity is added in another order).
"""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from app.lake.rollups import LEAD_LOOKBACK_DAYS
from app.services import overview
from app.services.timerange import CUSTOM, TimeRange, custom_range

SEED = 20261205
CASES = 120
RTOL = 1e-12
PARTS = [spec[0] for spec in overview.COUNTED_PARTS] + ["lead_hours", "lead_count", "capacity"]
FIRST_DAY = date(2026, 1, 5)


# ---- the reference ------------------------------------------------------------------


def utc_midnights(days: pd.Series) -> pd.Series:
    """Each row's UTC day as a naive midnight (dates, naive instants or zoned ones)."""
    moments = pd.to_datetime(days)
    if moments.dt.tz is not None:
        moments = moments.dt.tz_convert("UTC").dt.tz_localize(None)
    return moments.dt.floor("D").astype("datetime64[ns]")


def share_inside(day: pd.Timestamp, rng: TimeRange) -> float:
    """The share of the UTC day ``day`` inside ``rng`` (0 outside it)."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    inside = min(rng.end, start + timedelta(days=1)) - max(rng.start, start)
    return max(inside // timedelta(microseconds=1), 0) / 86_400_000_000


def pro_rated(parts: pd.DataFrame, rng: TimeRange) -> pd.DataFrame:
    """Capacity times its day's share of ``rng``."""
    share = [
        share_inside(day, rng) if part == "capacity" else 1.0
        for day, part in zip(utc_midnights(parts["day"]), parts["part"], strict=True)
    ]
    return parts.assign(value=parts["value"].astype(float) * np.array(share, dtype=float))


def expected(this_parts: pd.DataFrame, previous_parts: pd.DataFrame, rng: TimeRange):
    """(kpis as tuples, trends, daily frame) by the Overview's rules."""
    periods = {"this": (rng, this_parts), "previous": (rng.previous(), previous_parts)}
    tables, named, days_of = {}, {}, {}
    for name, (period, parts) in periods.items():
        days = pd.date_range(period.dt_from, period.dt_to, freq="D")
        rows = parts.assign(day=utc_midnights(parts["day"]), value=parts["value"].astype(float))
        rows = rows[rows["value"].notna()]
        named[name] = set(rows["part"].astype(str))  # parts with a value, on any day
        rows = rows[rows["day"].isin(days.as_unit("ns"))]
        sums = rows.groupby(["day", "part"])["value"].sum().unstack("part")
        table = sums.reindex(days.as_unit("ns")).fillna(0.0)
        table.index = days
        tables[name], days_of[name] = table, days
    firsts = [t.index[(t > 0).any(axis=1)] for t in tables.values()]
    data_start = min((f[0] for f in firsts if len(f)), default=None)

    def column(name: str, part: str) -> pd.Series:
        table = tables[name]
        return table[part] if part in table else pd.Series(0.0, index=table.index)

    def total(name: str, part: str) -> float:
        return float(column(name, part).sum())

    def figure(name: str, spec) -> float | None:
        numerator = total(name, spec.numerator)
        if spec.denominator is None:  # a count of nothing is 0 where something else was counted
            counted = any(total(name, part) > 0 for part, *_ in overview.COUNTED_PARTS)
            return None if numerator == 0 and not counted else numerator
        denominator = total(name, spec.denominator)
        return None if denominator == 0 else numerator / denominator

    def detail(spec) -> float | None:
        if spec.detail is None:
            return None
        if spec.detail[0] == "lead_time":
            count = total("this", "lead_count")
            return None if count == 0 else total("this", "lead_hours") / count
        return total("this", spec.detail[0])

    def day_values(name: str, spec) -> pd.Series:
        numerator = column(name, spec.numerator)
        if spec.denominator is None:
            return numerator
        return numerator / column(name, spec.denominator).replace(0.0, np.nan)

    def shown(name: str) -> list[bool]:
        period = periods[name][0]
        return [
            data_start is not None and day >= data_start and share_inside(day, period) == 1.0
            for day in days_of[name]
        ]

    kpis, trends, records = [], [], []
    for spec in overview.KPIS:
        kpis.append((figure("this", spec), figure("previous", spec), detail(spec)))
        plain = spec.denominator is None and spec.numerator in named["this"]
        trend = day_values("this", spec)[shown("this")]
        trends.append(trend.rename(spec.numerator if plain else None))
        for name in ("this", "previous"):
            values = day_values(name, spec)
            for offset, (day, show) in enumerate(zip(days_of[name], shown(name), strict=True)):
                value = values[day] if show else math.nan
                records.append((day, spec.department, spec.label, value, name, offset))
    daily = pd.DataFrame(
        records, columns=["day", "department", "label", "value", "period", "offset_days"]
    ).astype({"day": days_of["this"].dtype, "value": float, "offset_days": "int64"})
    return kpis, trends, daily


# ---- random inputs ------------------------------------------------------------------


def random_range(r: random.Random) -> TimeRange:
    first = FIRST_DAY + timedelta(days=r.randrange(0, 300))
    kind = r.randrange(3)
    if kind == 0:  # whole local days, in a zone whose days start at :30 UTC or at 05:00 UTC
        zone = r.choice(["UTC", "Asia/Kolkata", "America/New_York"])
        return custom_range(first, first + timedelta(days=r.randrange(0, 20)), zone)
    start = datetime(first.year, first.month, first.day, tzinfo=UTC) + timedelta(seconds=r.randrange(86_400))
    if kind == 1:  # rolling: any second, 1 hour to 30 days
        return TimeRange(start, start + timedelta(seconds=r.randrange(3600, 30 * 86_400)), CUSTOM, "rolling")
    end = min(
        start + timedelta(seconds=r.randrange(60, 6 * 3600)), start.replace(hour=23, minute=59, second=59)
    )
    return TimeRange(start, max(end, start + timedelta(seconds=1)), CUSTOM, "hours")


def random_rows(r: random.Random, rng: TimeRange) -> pd.DataFrame:
    """The statement's rows: over both periods' days and three days either side, each
    tagged with a period (1 this, 0 the previous one) that need not hold its day; capacity
    also with the day it was written, from LEAD_LOOKBACK_DAYS + 3 days before the first
    day to the last (other rows: none)."""
    first = rng.previous().start.astimezone(UTC).date() - timedelta(days=3)
    span = (rng.end.astimezone(UTC).date() - first).days + 4
    shape = r.randrange(6)
    count = 0 if shape == 0 else r.randrange(1, 25) if shape == 1 else r.randrange(20, 300)
    parts = r.sample(PARTS, r.randrange(1, len(PARTS) + 1))  # some parts missing
    if r.random() < 0.15:
        parts.append("not_a_part")  # no query returns it: still data, for where the series begin
    rows = []
    for _ in range(count):
        value = (
            math.nan
            if shape == 2 or r.random() < 0.12
            else float(r.choice([0, r.randrange(-3, 40), r.randrange(1, 40)]))
        )
        part = r.choice(parts)
        written = (
            first + timedelta(days=r.randrange(-LEAD_LOOKBACK_DAYS, span)) if part == "capacity" else None
        )
        rows.append((first + timedelta(days=r.randrange(span)), part, r.randrange(2), written, value))
    frame = pd.DataFrame(rows, columns=["day", "part", "period", "written", "value"])
    unit = r.choice(["datetime64[us]", "datetime64[ns]"])
    frame["day"] = pd.to_datetime(frame["day"]).astype(unit)
    if r.random() < 0.8:  # else Python dates, as an engine without a date type could give them
        frame["written"] = pd.to_datetime(frame["written"]).astype(unit)
    if r.random() < 0.3:
        frame["part"] = frame["part"].astype(object)
    frame["period"] = frame["period"].astype(r.choice(["int32", "int64"]))
    return frame


def of_period(frame: pd.DataFrame, code: int, rng: TimeRange) -> pd.DataFrame:
    """The statement's rows a period has (1 ``rng``, 0 the previous period): its other
    rows by ``period``, capacity planned for one of its days and written from its orders'
    lookback (LEAD_LOOKBACK_DAYS before its first day) to its last day."""
    period = rng if code == 1 else rng.previous()
    first, last = pd.Timestamp(period.dt_from), pd.Timestamp(period.dt_to)
    capacity = frame["part"] == "capacity"
    planned, written = utc_midnights(frame["day"]), utc_midnights(frame["written"])
    taken = (
        capacity
        & planned.between(first, last)
        & written.between(first - timedelta(days=LEAD_LOOKBACK_DAYS), last)
    )
    return frame[(~capacity & (frame["period"] == code)) | taken][["day", "part", "value"]]


class FrameEngine:
    """An engine whose every query answers ``frame`` (and no rollups)."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame

    def run(self, sql, params=None):
        return SimpleNamespace(frame=self.frame)


# ---- the comparison -----------------------------------------------------------------


def same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=RTOL, abs_tol=1e-9)


def assert_matches(got: overview.Overview, want, what: str) -> None:
    kpis, trends, daily = want
    for kpi, figures, trend in zip(got.kpis, kpis, trends, strict=True):
        mine = (kpi.value, kpi.previous, kpi.detail)
        assert all(same(a, b) for a, b in zip(mine, figures, strict=True)), (
            what,
            kpi.spec.label,
            mine,
            figures,
        )
        pd.testing.assert_series_equal(
            kpi.trend, trend, rtol=RTOL, check_exact=False, check_freq=False, obj=what
        )
    pd.testing.assert_frame_equal(got.daily, daily, rtol=RTOL, check_exact=False, obj=what)


def cases() -> list[tuple[int, TimeRange, pd.DataFrame]]:
    r = random.Random(SEED)
    out = []
    for i in range(CASES):
        rng = random_range(r)
        out.append((i, rng, random_rows(r, rng)))
    return out


@pytest.mark.parametrize("chunk", range(4))
def test_the_query_s_rows_make_the_reference_s_overview(chunk: int):
    """department_overview from the one statement's rows: capacity pro rata per period."""
    for i, rng, frame in cases()[chunk::4]:
        got = overview.department_overview(SimpleNamespace(engine=FrameEngine(frame)), rng)
        halves = [
            pro_rated(of_period(frame, code, rng), period) for code, period in ((1, rng), (0, rng.previous()))
        ]
        assert_matches(got, expected(halves[0], halves[1], rng), f"case {i} ({SEED=}): {rng}")


@pytest.mark.parametrize("chunk", range(4))
def test_summarise_makes_the_reference_s_overview(chunk: int):
    """summarise from each period's rows as they are (no pro rata), days as dates too."""
    r = random.Random(SEED + chunk)
    for i, rng, frame in cases()[chunk::4]:
        this, before = (of_period(frame, code, rng) for code in (1, 0))
        if r.random() < 0.3:  # Python dates, as an engine without a date type could give them
            this = this.assign(day=[d.date() for d in this["day"]]).astype({"day": object})
        got = overview.summarise(this, before, rng)
        assert_matches(got, expected(this, before, rng), f"case {i} ({SEED=}): {rng}")


def test_the_cases_reach_the_edges():
    """The random cases hold what they are meant to (else the tests above prove little)."""
    every = cases()
    frames = [frame for _, _, frame in every]
    assert sum(frame.empty for frame in frames) >= 3
    assert sum(len(frame) and frame["value"].isna().all() for frame in frames) >= 3
    assert sum(frame["part"].eq("not_a_part").any() for frame in frames) >= 3
    partial = 0
    for _, rng, frame in every:
        capacity = of_period(frame, 1, rng).query("part == 'capacity' and value > 0")
        partial += any(0 < share_inside(day, rng) < 1 for day in capacity["day"])
    assert partial >= 5
    # Capacity rows that only this period takes, only the previous one, both (planned for
    # the day they share), neither (written too early or too late): each kind, many times.
    kinds: dict[tuple[bool, bool], int] = {}
    for _, rng, frame in every:
        this, before = (set(of_period(frame, code, rng).index) for code in (1, 0))
        for row in frame.index[frame["part"] == "capacity"]:
            kinds[row in this, row in before] = kinds.get((row in this, row in before), 0) + 1
    assert len(kinds) == 4 and min(kinds.values()) >= 3, kinds
    assert sum(rng.start.minute == 30 for _, rng, _ in every) >= 3  # Asia/Kolkata days
    assert (
        sum(
            rng.start.astimezone(UTC).date() == (rng.end - timedelta(microseconds=1)).astimezone(UTC).date()
            for _, rng, _ in every
        )
        >= 5
    )  # within one UTC day
