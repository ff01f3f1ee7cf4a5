"""The Overview's hourly series, for a range too short to hold a whole day.

Each KPI's value at a whole hour is the KPI over its period up to that hour's end: the
series is checked against :func:`overview.department_overview` over exactly that span (its
own path, rollups and raw pieces), on seeded random 24-hour ranges ending at odd minutes,
in a half-hour time zone too, across the day under way (raw) and closed days (rollups).
"""

from __future__ import annotations

import math
import random
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from app.engines.duckdb_engine import DuckDBEngine
from app.services import overview
from app.services.context import Context
from app.services.timerange import CUSTOM, TimeRange, preset_range
from app.settings import load_settings
from tests.instant import NOW


def context(lake: Path, zone: str) -> Context:
    settings = load_settings({"VERTICALS_TIMEZONE": zone, "VERTICALS_LAKE": str(lake)})
    return Context(settings, DuckDBEngine(lake), None, None, "local", str(lake), ())  # type: ignore[arg-type]


def so_far(ctx: Context, start, hour_end) -> dict[str, float | None]:
    """Each KPI over [start, hour_end) by the Overview's own path."""
    span = TimeRange(start, hour_end, CUSTOM, "so far")
    return {kpi.spec.label: kpi.value for kpi in overview.department_overview(ctx, span).kpis}


def ranges() -> list[tuple[TimeRange, str]]:
    rnd = random.Random(20261207)
    found = [(preset_range("24h", NOW), "UTC")]
    for zone in ("UTC", "Asia/Kolkata", "America/New_York"):
        end = NOW - timedelta(minutes=rnd.randrange(0, 3 * 1440))
        found.append((TimeRange(end - timedelta(hours=24), end, CUSTOM, "24 hours"), zone))
    return found


@pytest.mark.parametrize(("rng", "zone"), ranges(), ids=lambda v: str(v)[:40])
def test_each_hour_is_the_kpi_over_its_period_so_far(seeded_lake, rng, zone):
    ctx = context(seeded_lake, zone)
    series = overview.hourly_series(ctx, rng)
    assert len(series) == 2 * 8 * len(overview._hours_of(rng).coverage)
    checked = 0
    for period, span in (("this", rng), ("previous", rng.previous())):
        shown = series[(series["period"] == period) & series["value"].notna()]
        # Every whole hour of the period is drawn; the edges cut mid-hour are not.
        hours = sorted(set(shown["hour"]))
        assert hours, f"no hour drawn in the {period} period of {span}"
        assert hours[0] >= span.start and hours[-1] + timedelta(hours=1) <= span.end
        on_the_hour = span.start.minute == span.start.second == 0
        expected = int((span.end - span.start) / timedelta(hours=1)) - (0 if on_the_hour else 1)
        assert len(hours) == expected
        for hour in hours:
            want = so_far(ctx, span.start, hour.to_pydatetime() + timedelta(hours=1))
            got = shown[shown["hour"] == hour].set_index("label")["value"]
            for label, value in want.items():
                if value is None:
                    assert label not in got.index or math.isnan(got[label]) or got[label] == 0, label
                else:
                    assert got[label] == pytest.approx(value, rel=1e-9, abs=1e-12), (label, hour)
                    checked += 1
    assert checked > 8 * 24  # the comparisons happened


def test_a_range_of_under_an_hour_draws_nothing(seeded_lake):
    rng = TimeRange(NOW - timedelta(minutes=40), NOW, CUSTOM, "40 minutes")
    series = overview.hourly_series(context(seeded_lake, "UTC"), rng)
    assert series["value"].isna().all()
    assert np.isin(series["period"].unique(), ["this", "previous"]).all()
