"""The Event rates page's figures from the hourly rows its query returns
(:func:`event_rates.rates_of_hourly`, summed by integer codes) against the same figures
written plainly in pandas, on seeded random frames: ranges drawn in hours, days and weeks
from Monday, starting and ending at any second, some across a change of the clocks, a
drawn range cut short (the lake's delay on AWS), in zones west and east of UTC, a
half-hour one and one whose clocks move by half an hour; rows with unknown sources (one
named as a department is), missing keys, an hour twice, few events (ties in the top table)
and no rows at all. Frames must be equal, dtypes and indexes included."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from app.services import event_rates
from app.services.timerange import CUSTOM, TimeRange

ZONES = ("UTC", "America/New_York", "Asia/Kolkata", "Europe/Berlin", "Australia/Lord_Howe")
# Known sources, unknown ones, and an unknown source spelt as a known department's name
# (its events join that department's in the top table).
SOURCES = ("verticals.shop", "verticals.erp", "verticals.payments", "partner.acme", "Retail web shop", "a.z")
TYPES = ("OrderPlaced", "StockOut", "PaymentFailed", "Zeta", "alpha", "CartAbandoned")
LENGTH = {"hour": pd.Timedelta(hours=1), "day": pd.Timedelta(days=1), "week": pd.Timedelta(days=7)}
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
# Instants the clocks change in some of ZONES (New York, Berlin, Lord Howe) in 2026.
CHANGES = (
    datetime(2026, 3, 8, 7, tzinfo=UTC),
    datetime(2026, 3, 29, 1, tzinfo=UTC),
    datetime(2026, 4, 4, 15, tzinfo=UTC),
    datetime(2026, 10, 3, 15, 30, tzinfo=UTC),
    datetime(2026, 10, 25, 1, tzinfo=UTC),
    datetime(2026, 11, 1, 6, tzinfo=UTC),
)


def random_range(r: random.Random, kind: str) -> TimeRange:
    days = {"hour": (1 / 24, 8), "day": (8.01, 120), "week": (120.01, 400)}[kind]
    length = timedelta(seconds=r.randrange(int(days[0] * 86_400), int(days[1] * 86_400)))
    if r.random() < 0.5:  # across a change of the clocks
        start = r.choice(CHANGES) - length * r.random()
    else:
        start = datetime(2025, 6, 1, tzinfo=UTC) + timedelta(seconds=r.randrange(500 * 86_400))
    start = start.replace(microsecond=0)
    if r.random() < 0.3:  # on bucket boundaries (whole UTC hours, days, weeks from Monday)
        step = LENGTH[kind].to_pytimedelta()
        monday = datetime(2025, 12, 29, tzinfo=UTC)
        start, length = monday + (start - monday) // step * step, max(length // step, 1) * step
    return TimeRange(start, start + length, CUSTOM, "random")


def random_hourly(r: random.Random, rng: TimeRange, unit: str, size: int | None = None) -> pd.DataFrame:
    """Rows as the query returns them: whole UTC hours from the one the range starts in."""
    first = pd.Timestamp(rng.start).floor("h")
    hours = int((pd.Timestamp(rng.end) - first) / pd.Timedelta(hours=1)) + 1
    if size is None:
        size = r.choice([0, 1, r.randrange(2, 60), r.randrange(60, 1500)])
    rows = [
        (
            None if r.random() < 0.01 else first + pd.Timedelta(hours=r.randrange(hours)),
            None if r.random() < 0.02 else r.choice(SOURCES),
            None if r.random() < 0.02 else r.choice(TYPES),
            r.randrange(1, 6),
        )
        for _ in range(size)
    ]
    rows += r.sample(rows, len(rows) // 10)  # an hour twice (the rollup and the raw branch)
    if size > 1:  # every pair in the hours about a change of the clocks (an hour the clock repeats)
        around = [
            pd.Timestamp(change).floor("h") + pd.Timedelta(hours=h)
            for change in CHANGES
            for h in range(-2, 3)
        ]
        rows += [
            (at, source, kind, r.randrange(1, 6))
            for at in around
            if first <= at < pd.Timestamp(rng.end)
            for source in SOURCES
            for kind in TYPES
        ]
    hour, source, detail_type, events = zip(*rows, strict=True) if rows else ((), (), (), ())
    return pd.DataFrame(
        {
            "hour": pd.Series(pd.to_datetime(list(hour), utc=True), dtype=f"datetime64[{unit}, UTC]"),
            "source": pd.Series(source, dtype="str"),
            "detail_type": pd.Series(detail_type, dtype="str"),
            "events": pd.Series(events, dtype="int64"),
        }
    )


def plain(hourly: pd.DataFrame, rng: TimeRange, shown: TimeRange, zone: str) -> dict[str, pd.DataFrame]:
    """What the page shows, in pandas: rows summed into UTC buckets, the whole buckets of
    ``shown`` (as long as the whole range's bucket) in local time, the top detail types over the
    whole range, detail type x local bucket, and the weekday x hour means."""
    rows = hourly.dropna(subset=["hour", "source", "detail_type"])
    hour = rows["hour"]
    if rng.bucket == "hour":
        bucket = hour
    else:
        day = hour.dt.floor("D")
        bucket = day if rng.bucket == "day" else day - day.dt.day_of_week * pd.Timedelta(days=1)
    rates = (
        rows.assign(bucket=bucket.astype(hour.dtype))
        .groupby(["bucket", "source", "detail_type"], as_index=False)["events"]
        .sum()
    )
    rates["department"] = rates["source"].map(event_rates.department_name)

    inside = (rates["bucket"] >= pd.Timestamp(shown.start)) & (
        rates["bucket"] + LENGTH[rng.bucket] <= pd.Timestamp(shown.end)
    )
    chart = rates[inside].reset_index(drop=True)
    chart["bucket"] = chart["bucket"].dt.tz_convert(zone).dt.tz_localize(None)

    top = rates.groupby(["detail_type", "department"], as_index=False)["events"].sum()
    total = top["events"].sum()
    top["share"] = top["events"] / total if total else 0.0
    top["per_day"] = top["events"] / max(rng.duration.total_seconds() / 86_400, 1 / 24)
    top = top.sort_values("events", ascending=False, ignore_index=True)

    if chart.empty:
        by_type = pd.DataFrame(
            np.zeros((0, 0), dtype="int64"),
            index=pd.Index([], dtype="str", name="detail_type"),
            columns=pd.DatetimeIndex([], dtype=chart["bucket"].dtype, name="bucket"),
        )
    else:
        by_type = chart.pivot_table(
            index="detail_type", columns="bucket", values="events", aggfunc="sum", fill_value=0
        )
        by_type = by_type.loc[by_type.sum(axis=1).sort_values(ascending=False).index]

    heatmap = pd.DataFrame(0.0, index=WEEKDAYS, columns=range(24))
    per_hour = rows.groupby("hour")["events"].sum()
    if len(per_hour):  # every hour from the first to the last seen, silent ones as 0
        per_hour = per_hour.reindex(
            pd.date_range(per_hour.index[0], per_hour.index[-1], freq="h"), fill_value=0
        )
        local = per_hour.index.tz_convert(zone)
        means = per_hour.groupby([local.day_of_week, local.hour]).mean()
        for (weekday, hour_of_day), mean in means.items():
            heatmap.loc[WEEKDAYS[weekday], hour_of_day] = mean
    return {"rates": chart, "top": top, "by_type": by_type, "heatmap": heatmap}


Case = tuple[TimeRange, TimeRange, str, str, int | None]


def cases(count: int) -> list[Case]:
    """(range, the range drawn, zone, unit of the hour column, rows: None for any number)."""
    r = random.Random(20261205)
    drawn = []
    for i in range(count):
        rng = random_range(r, ("hour", "day", "week")[i % 3])
        # Now and then the lake is complete only some minutes before the end (arrived()).
        cut = timedelta(minutes=r.choice([0, 0, 5, r.randrange(1, 2000)]))
        shown = TimeRange(rng.start, max(rng.start, rng.end - cut), rng.preset, rng.label)
        drawn.append((rng, shown, ZONES[i % len(ZONES)], "us" if i % 4 else "ns", None))
    return drawn


def fixed_cases() -> list[Case]:
    """Two days of hours about each zone's clock going back (New York and Berlin read an
    hour twice; Lord Howe goes back half an hour, its hours read at :30 after), and a
    range of 8 days and 3 minutes: drawn in days, and cut by 5 minutes (the lake's delay)
    still in whole days (its own bucket would be an hour: the last day, partly there, was
    drawn before)."""
    drawn = []
    for zone, change in (
        ("America/New_York", CHANGES[5]),
        ("Europe/Berlin", CHANGES[4]),
        ("Australia/Lord_Howe", CHANGES[2]),
    ):
        rng = TimeRange(change - timedelta(hours=30, minutes=7), change + timedelta(hours=17), CUSTOM, "back")
        drawn.append((rng, rng, zone, "us", 100))
    start = datetime(2026, 10, 28, 9, 17, 5, tzinfo=UTC)
    rng = TimeRange(start, start + timedelta(days=8, minutes=3), CUSTOM, "edge")
    drawn.append(
        (
            rng,
            TimeRange(rng.start, rng.end - timedelta(minutes=5), CUSTOM, "edge"),
            "America/New_York",
            "us",
            300,
        )
    )
    return drawn


@pytest.mark.parametrize("chunk", range(4))
def test_rates_of_hourly_rows_are_the_plain_pandas_figures(chunk):
    r = random.Random(chunk)
    checked = {"hour": 0, "day": 0, "week": 0, "empty": 0, "drawn": 0, "repeated": 0}
    for rng, shown, zone, unit, size in cases(160)[chunk::4] + fixed_cases():
        hourly = random_hourly(r, rng, unit, size)
        got = event_rates.rates_of_hourly(hourly, rng, shown, zone)
        want = plain(hourly, rng, shown, zone)
        context = (rng, shown, zone, unit, len(hourly))
        assert (got.bucket, got.weekly_pattern) == (rng.bucket, rng.duration >= timedelta(days=7)), context
        pd.testing.assert_frame_equal(got.rates, want["rates"], check_exact=True, obj=f"rates {context}")
        pd.testing.assert_frame_equal(got.top, want["top"], rtol=1e-12, obj=f"top {context}")
        pd.testing.assert_frame_equal(
            got.by_type, want["by_type"], check_exact=True, obj=f"by_type {context}"
        )
        pd.testing.assert_frame_equal(got.heatmap, want["heatmap"], rtol=1e-12, obj=f"heatmap {context}")
        checked[rng.bucket] += 1
        checked["empty"] += hourly.empty
        checked["drawn"] += not got.rates.empty
        # Two UTC hours drawn at one local hour (the clock went back): one column of by_type.
        checked["repeated"] += bool(got.rates.duplicated(["bucket", "source", "detail_type"]).any())
    # Not vacuous: every bucket, empty frames, an hour the clock repeats, most cases drawn.
    assert min(checked.values()) >= 1 and checked["drawn"] >= 20, checked
