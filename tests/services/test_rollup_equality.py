"""Pages answer the same from the rollups as from the raw tables.

A property test without hypothesis: seeded random ranges (rolling ranges ending at odd
minutes, custom ranges of local days, ranges of a few hours) in three time zones, one a
half-hour zone (Asia/Kolkata, whose custom ranges start at ``:30`` UTC), over a copy of
the seeded lake; then again after late events and replayed duplicates land in closed days
(counted twice by the raw queries too, which don't dedup by id), before and after the
rollups are refreshed. Counts must be equal; sums of money and hours to 1e-9 (the rollup
adds per-hour sums, the raw query adds rows, in another order).

The same ranges' UTC days (first to last, the day under way and days past the lake's ends
included) check the analytics pages' daily frames (app/services/analytics_data.py: orders
per region, demand per product line), read from ``orders_daily`` for rolled-up days.
"""

from __future__ import annotations

import json
import math
import random
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from app.engines.duckdb_engine import DuckDBEngine
from app.lake import rollups
from app.lake.tables import TABLES
from app.lake.writer import LakeWriter
from app.services import analytics_data, event_rates, overview
from app.services.context import Context
from app.services.rollup_plan import day_runs, split
from app.services.timerange import CUSTOM, TimeRange, custom_range
from app.settings import load_settings
from tests.instant import NOW, TODAY

ZONES = ("UTC", "America/New_York", "Asia/Kolkata")
RTOL = 1e-9


@pytest.fixture(scope="module")
def lake(seeded_lake: Path, tmp_path_factory) -> Path:
    """A copy of the seeded lake this module may write late events into."""
    copy = tmp_path_factory.mktemp("rollup-lake") / "lake"
    shutil.copytree(seeded_lake, copy)
    rollups.refresh_rollups(copy)
    return copy


def context(lake: Path, zone: str) -> Context:
    settings = load_settings({"VERTICALS_TIMEZONE": zone, "VERTICALS_LAKE": str(lake)})
    return Context(settings, DuckDBEngine(lake), None, None, "local", str(lake), ())  # type: ignore[arg-type]


def random_ranges(rng: random.Random, end: datetime, count: int) -> list[tuple[TimeRange, str]]:
    """(range, time zone): a third rolling, a third custom local days, a third short."""
    ranges = []
    for i in range(count):
        zone = ZONES[i % len(ZONES)]
        kind = (i // len(ZONES)) % 3
        if kind == 0:  # rolling: ends at an odd minute up to 3 days ago, 1 hour to 50 days long
            stop = end - timedelta(minutes=rng.randrange(0, 3 * 1440))
            length = timedelta(minutes=rng.randrange(60, 50 * 1440))
            ranges.append((TimeRange(stop - length, stop, CUSTOM, "random"), zone))
        elif kind == 1:  # custom whole local days
            last = end.date() - timedelta(days=rng.randrange(0, 20))
            first = last - timedelta(days=rng.randrange(0, 40))
            ranges.append((custom_range(first, last, zone), zone))
        else:  # a few hours, at any second
            start = end - timedelta(seconds=rng.randrange(3600, 55 * 86_400))
            ranges.append(
                (TimeRange(start, start + timedelta(seconds=rng.randrange(60, 20 * 3600)), CUSTOM, "s"), zone)
            )
    return ranges


def same_number(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=RTOL, abs_tol=RTOL)


def assert_same_overview(got: overview.Overview, want: overview.Overview) -> None:
    for mine, theirs in zip(got.kpis, want.kpis, strict=True):
        assert mine.spec == theirs.spec
        for field in ("value", "previous", "detail"):
            assert same_number(getattr(mine, field), getattr(theirs, field)), (mine.spec.label, field)
        pd.testing.assert_series_equal(mine.trend, theirs.trend, rtol=RTOL, check_freq=False)
    pd.testing.assert_frame_equal(got.daily, want.daily, rtol=RTOL)


def assert_same_rates(got: event_rates.EventRates, want: event_rates.EventRates) -> None:
    assert (got.bucket, got.weekly_pattern) == (want.bucket, want.weekly_pattern)
    pd.testing.assert_frame_equal(got.rates, want.rates, check_exact=True)
    pd.testing.assert_frame_equal(got.top, want.top, rtol=1e-12)
    pd.testing.assert_frame_equal(got.heatmap, want.heatmap, rtol=1e-12)
    pd.testing.assert_frame_equal(got.by_type, want.by_type, check_exact=True)


class RecordingEngine(DuckDBEngine):
    """The DuckDB engine, keeping every SQL text it ran."""

    def __init__(self, lake: Path):
        super().__init__(lake)
        self.sent: list[str] = []

    def run(self, sql, params=None, **kwargs):
        self.sent.append(sql)
        return super().run(sql, params, **kwargs)

    def frame(self, sql, params=None, **kwargs):
        self.sent.append(sql)
        return super().frame(sql, params, **kwargs)


DAILY_FRAMES = (analytics_data.daily_orders, analytics_data.daily_demand)


def utc_days(rng: TimeRange) -> list[tuple[date, date]]:
    """The UTC days a range meets, a day more at each end (past the lake's ends too), and
    the same from its first day to the day after the day under way."""
    first, last = rng.start.astimezone(UTC).date(), rng.end.astimezone(UTC).date()
    return [(first - timedelta(days=1), last + timedelta(days=1)), (first, TODAY + timedelta(days=1))]


def assert_daily_frames_agree(lake: Path, cases: list[tuple[TimeRange, str]]) -> None:
    engine = RecordingEngine(lake)
    clean = rollups.clean_days(lake)
    mixed = 0
    for first, last in (days for rng, _ in cases for days in utc_days(rng)):
        rolled, raw = day_runs(first, last, clean)
        mixed += bool(rolled and raw)
        for frame in DAILY_FRAMES:
            engine.sent.clear()
            got = frame(engine, first, last)
            assert ("orders_daily" in engine.sent[-1]) == bool(rolled)  # read where rolled up
            want = frame(engine, first, last, frozenset())
            assert "orders_daily" not in engine.sent[-1]
            assert len(want) and len(got) == len(want)
            pd.testing.assert_frame_equal(got, want, rtol=RTOL)
        # The forecast's one read of both, rolled up or not, against each raw frame.
        wants = [frame(engine, first, last, frozenset()) for frame in DAILY_FRAMES]
        for clean_days in (None, frozenset()):
            both = analytics_data.daily_orders_and_demand(engine, first, last, clean_days)
            for got, want in zip(both, wants, strict=True):
                pd.testing.assert_frame_equal(got, want, rtol=RTOL)
    assert mixed >= len(cases) // 2  # not vacuous: most read both the rollup and raw days


def assert_pages_agree(lake: Path, cases: list[tuple[TimeRange, str]]) -> None:
    contexts = {zone: context(lake, zone) for zone in ZONES}
    clean = rollups.clean_days(lake)
    # Not vacuous: most ranges do read rollups.
    assert sum(bool(split(r.start, r.end, clean).rollup) for r, _ in cases) >= len(cases) // 2
    for rng, zone in cases:
        ctx = contexts[zone]
        assert_same_overview(
            overview.department_overview(ctx, rng), overview.department_overview(ctx, rng, rollups=False)
        )
        assert_same_rates(event_rates.event_rates(ctx, rng), event_rates.event_rates(ctx, rng, rollups=False))
    assert_daily_frames_agree(lake, cases)


def lake_end(lake: Path) -> datetime:
    """The seeded lake ends now; ranges end before the next 5-minute step, like presets."""
    return NOW.replace(second=0, microsecond=0) + timedelta(minutes=5)


def test_split_covers_the_range_exactly_once():
    clean = frozenset({"2026-11-02", "2026-11-03", "2026-11-05"})
    start, end = datetime(2026, 11, 1, 22, 30, tzinfo=UTC), datetime(2026, 11, 5, 18, 25, tzinfo=UTC)
    pieces = split(start, end, clean)
    assert pieces.rollup == [
        (datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 4, tzinfo=UTC)),
        (datetime(2026, 11, 5, tzinfo=UTC), datetime(2026, 11, 5, 18, tzinfo=UTC)),
    ]
    assert pieces.raw == [
        (start, datetime(2026, 11, 2, tzinfo=UTC)),
        (datetime(2026, 11, 4, tzinfo=UTC), datetime(2026, 11, 5, tzinfo=UTC)),
        (datetime(2026, 11, 5, 18, tzinfo=UTC), end),
    ]
    # A half-hour bound inside a rolled-up day: the half hour is read raw.
    kolkata = custom_range(date(2026, 11, 3), date(2026, 11, 3), "Asia/Kolkata")
    halves = split(kolkata.start, kolkata.end, clean)
    assert halves.raw[0] == (kolkata.start, datetime(2026, 11, 2, 19, tzinfo=UTC))
    assert sum(((b - a) for a, b in halves.raw + halves.rollup), timedelta()) == timedelta(days=1)


def test_the_seeded_lake_is_rolled_up(lake: Path):
    days = rollups.clean_days(lake)
    today = TODAY
    assert len(days) >= 55
    assert today.isoformat() not in days  # the day under way is always read raw


def test_an_engine_asked_for_a_range_answers_the_lake_s_clean_days_in_it(lake: Path):
    """The pages ask for their range's days only (a stat per day of the range, not of the
    lake): the same days as the whole answer cut to the range, ``end`` excluded."""
    every = rollups.clean_days(lake)
    engine = DuckDBEngine(lake)
    draw = random.Random(7)
    end = lake_end(lake)
    bounds = [(end - timedelta(days=3), end.replace(hour=0, minute=0)), (end - timedelta(days=400), end)]
    for _ in range(30):
        start = end - timedelta(seconds=draw.randrange(0, 90 * 86_400))
        bounds.append((start, start + timedelta(seconds=draw.randrange(1, 40 * 86_400))))
    lake_first = _first_raw_day(lake)
    for start, stop in bounds:
        first, last = start.date(), (stop - timedelta(microseconds=1)).date()
        before = {(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)}
        want = {d for d in every if first.isoformat() <= d <= last.isoformat()}
        want |= {d for d in before if d < lake_first}  # nothing raw: nothing to roll up
        assert engine.rollup_days(start, stop) == want, (start, stop)
    assert any(start.date().isoformat() < lake_first for start, _ in bounds)  # not vacuous
    assert engine.rollup_days() == every


def _first_raw_day(lake: Path) -> str:
    return min(p.name[3:] for table in TABLES for p in (lake / table).glob("dt=*"))


def test_a_day_before_the_lake_is_read_raw_once_a_late_event_lands_on_it(lake: Path, tmp_path: Path):
    copy = tmp_path / "lake"
    shutil.copytree(lake, copy)
    day = date.fromisoformat(_first_raw_day(copy)) - timedelta(days=9)
    around = TimeRange(
        datetime.combine(day, datetime.min.time(), UTC) - timedelta(days=3, hours=5),
        datetime.combine(day, datetime.min.time(), UTC) + timedelta(days=4, minutes=7),
        CUSTOM,
        "around a day before the lake",
    )
    engine = DuckDBEngine(copy)
    assert day.isoformat() in engine.rollup_days(around.start, around.end)
    LakeWriter(copy).write(_late_order(day, 3))  # ordered and shipped before the lake began
    assert day.isoformat() not in engine.rollup_days(around.start, around.end)
    ctx = context(copy, "UTC")
    for rng in (
        around,
        around.previous(),
        TimeRange(around.start, around.end + timedelta(days=30), CUSTOM, "x"),
    ):
        got, want = (
            overview.department_overview(ctx, rng),
            overview.department_overview(ctx, rng, rollups=False),
        )
        assert_same_overview(got, want)
        assert_same_rates(event_rates.event_rates(ctx, rng), event_rates.event_rates(ctx, rng, rollups=False))
    assert overview.department_overview(ctx, around).kpis[0].value == 1  # the late order is seen


def test_random_ranges_agree(lake: Path):
    assert_pages_agree(lake, random_ranges(random.Random(13), lake_end(lake), 30))


def _raw_rows(lake: Path, day: str, limit: int) -> list[dict]:
    """Events of ``day`` back as envelopes (for replays)."""
    import duckdb

    glob = f"{lake}/events/dt={day}/*/*.parquet"
    rows = (
        duckdb.connect()
        .execute(
            "SELECT id, detail_type, source, strftime(time, '%Y-%m-%dT%H:%M:%SZ') AS t, detail, "
            "account, region "
            f"FROM read_parquet('{glob}', hive_partitioning = true) ORDER BY id LIMIT {limit}"
        )
        .fetchall()
    )
    return [
        {
            "version": "0",
            "id": rid,
            "detail-type": kind,
            "source": source,
            "time": t,
            "detail": json.loads(detail),
            "account": account,
            "region": region,
            "resources": [],
        }
        for rid, kind, source, t, detail, account, region in rows
    ]


def _late_order(day: date, n: int) -> list[dict]:
    """An order placed on ``day`` and shipped two days later, both arriving late."""
    base = {"version": "0", "account": "123456789012", "region": "us-east-1", "resources": []}
    placed = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=9, minutes=n)
    shipped = placed + timedelta(days=2, hours=3)
    return [
        {
            **base,
            "id": f"late-order-{n}",
            "detail-type": "OrderPlaced",
            "source": "verticals.shop",
            "time": placed.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "detail": {
                "order_id": f"late-{n}",
                "region": "EU",
                "product_line": "apparel",
                "amount": 10.5 + n,
            },
        },
        {
            **base,
            "id": f"late-ship-{n}",
            "detail-type": "OrderShipped",
            "source": "verticals.fulfillment",
            "time": shipped.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "detail": {"order_id": f"late-{n}", "shipment_id": f"ls-{n}", "warehouse": "w1"},
        },
    ]


def test_late_events_and_replays_agree_before_and_after_the_refresh(lake: Path):
    closed = sorted(rollups.clean_days(lake))
    rng = random.Random(29)
    replayed_days = rng.sample(closed[-30:-3], 3)
    writer = LakeWriter(lake)
    for day in replayed_days:  # replayed duplicates: the raw queries count them again
        writer.write(_raw_rows(lake, day, 400), replay_name="replay-1")
    late_day = date.fromisoformat(closed[-10])
    writer.write(_late_order(late_day, 1) + _late_order(late_day, 2))

    dirty = set(replayed_days) | {late_day.isoformat()}
    clean = rollups.clean_days(lake)
    assert not dirty & clean
    assert not any(d >= late_day.isoformat() for d in clean)  # a late order: every day after it
    cases = random_ranges(random.Random(31), lake_end(lake), 6)
    assert_pages_agree(lake, cases)  # dirty days read raw

    report = rollups.refresh_rollups(lake)
    assert report.days_built >= len(dirty)
    assert dirty <= rollups.clean_days(lake)
    assert_pages_agree(lake, cases)  # rebuilt days read from the rollups again


def test_a_day_missing_one_rollup_file_is_read_raw_by_the_pages_that_read_it(lake: Path, tmp_path: Path):
    """Pages ask for the days of their own rollup tables only: a day whose
    ``overview_hourly`` file is gone (quarantined) is still rolled up for Event rates, and
    the Overview reads it raw; both pages keep the raw figures."""
    copy = tmp_path / "lake"
    shutil.copytree(lake, copy)
    day = sorted(rollups.clean_days(copy))[-3]
    rollups.rollup_file(copy, rollups.OVERVIEW_HOURLY, day).unlink()
    engine = DuckDBEngine(copy)
    assert day not in engine.rollup_days(tables=("overview_hourly", "shipment_leads"))
    assert day not in engine.rollup_days()  # every table's files: not rolled up
    assert day in engine.rollup_days(tables=("events_hourly",))
    around = custom_range(date.fromisoformat(day) - timedelta(days=1), date.fromisoformat(day), "UTC")
    ctx = context(copy, "UTC")
    assert_same_overview(
        overview.department_overview(ctx, around), overview.department_overview(ctx, around, rollups=False)
    )
    assert_same_rates(
        event_rates.event_rates(ctx, around), event_rates.event_rates(ctx, around, rollups=False)
    )


def test_a_day_without_its_lead_rollup_is_read_raw_only_where_its_lead_is_needed(lake: Path, tmp_path: Path):
    """The Overview reads ``shipment_leads`` only for the partial hours at a period's edge
    on a rolled-up day: a day whose file of it is gone is still read from
    ``overview_hourly`` in a range of whole hours, and read raw in one with an edge on it
    (30 minutes into one of its hours); both keep the raw figures."""
    copy = tmp_path / "lake"
    shutil.copytree(lake, copy)
    day = sorted(rollups.clean_days(copy))[-4]
    rollups.rollup_file(copy, rollups.SHIPMENT_LEADS, day).unlink()
    ctx = context(copy, "UTC")
    midnight = datetime.fromisoformat(day).replace(tzinfo=UTC)
    whole = TimeRange(
        midnight + timedelta(hours=5), midnight + timedelta(days=1, hours=3), CUSTOM, "whole hours"
    )
    edged = TimeRange(midnight + timedelta(hours=5, minutes=30), whole.end, CUSTOM, "an edge on the day")
    for rng in (whole, edged):
        assert_same_overview(
            overview.department_overview(ctx, rng), overview.department_overview(ctx, rng, rollups=False)
        )
    assert day in overview._readable_days(ctx, whole)
    assert day not in overview._readable_days(ctx, edged)


def test_refresh_and_rebuild_are_idempotent(lake: Path):
    day = sorted(rollups.clean_days(lake))[-5]
    files = [rollups.rollup_file(lake, t, day) for t in rollups.ROLLUP_TABLES.values()]
    before = [pd.read_parquet(f) for f in files]
    assert rollups.refresh_rollups(lake).days_built == 0  # nothing new, nothing dirty
    rollups.rebuild_rollups(lake, since=day)
    rollups.rebuild_rollups(lake, since=day)
    for f, frame in zip(files, before, strict=True):
        pd.testing.assert_frame_equal(pd.read_parquet(f), frame)
    assert not list(f.parent.glob(".*.tmp"))


def test_week_buckets_agree(lake: Path):
    """Ranges over 120 days are drawn in weeks from Monday (UTC): the rollup's hours summed
    into weeks (by day number, app/services/event_rates.py) give the raw query's weeks
    (pandas' W-MON), for local days in a zone west of UTC and a range ending at an odd minute
    in a half-hour zone (the random ranges above are shorter, drawn in hours or days)."""
    stop = lake_end(lake) - timedelta(minutes=7)
    cases = [
        (custom_range(TODAY - timedelta(days=150), TODAY, "America/New_York"), "America/New_York"),
        (TimeRange(stop - timedelta(days=200), stop, CUSTOM, "odd"), "Asia/Kolkata"),
    ]
    clean = rollups.clean_days(lake)
    for rng, zone in cases:
        assert rng.bucket == "week" and split(rng.start, rng.end, clean).rollup
        ctx = context(lake, zone)
        got = event_rates.event_rates(ctx, rng)
        assert got.rates["bucket"].nunique() >= 7  # the lake's 60 days: several whole weeks drawn
        assert_same_rates(got, event_rates.event_rates(ctx, rng, rollups=False))


def test_a_range_without_rows_gives_the_same_empty_parts_both_ways(lake: Path):
    """Days far past the lake: no row either way, and the same empty columns (the arrays
    path gives its part names as a frame of no rows has them)."""
    ctx = context(lake, "UTC")
    later = lake_end(lake) + timedelta(days=400)
    rng = TimeRange(later, later + timedelta(days=3), CUSTOM, "after the lake")
    for got, want in zip(
        overview.period_parts(ctx, rng), overview.period_parts(ctx, rng, rollups=False), strict=True
    ):
        assert got.empty and want.empty
        assert got["part"].dtype == want["part"].dtype, (got.dtypes, want.dtypes)
    assert_same_overview(
        overview.department_overview(ctx, rng), overview.department_overview(ctx, rng, rollups=False)
    )
