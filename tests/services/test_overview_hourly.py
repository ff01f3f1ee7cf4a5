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
    series = overview.overview_by_hour(ctx, rng)[1]
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
    series = overview.overview_by_hour(context(seeded_lake, "UTC"), rng)[1]
    assert series["value"].isna().all()
    assert np.isin(series["period"].unique(), ["this", "previous"]).all()


@pytest.mark.parametrize(("rng", "zone"), ranges(), ids=lambda v: str(v)[:40])
def test_the_cards_from_the_hours_are_the_cards_of_the_day_path(seeded_lake, rng, zone):
    """The page's one statement for a short range: its cards (values, previous values,
    details, trends) and day series are those of the day statement."""
    ctx = context(seeded_lake, zone)
    by_hour, by_day = overview.overview_by_hour(ctx, rng)[0], overview.department_overview(ctx, rng)
    assert [k.spec for k in by_hour.kpis] == [k.spec for k in by_day.kpis]
    for hourly, daily in zip(by_hour.kpis, by_day.kpis, strict=True):
        for field in ("value", "previous", "detail"):
            got, want = getattr(hourly, field), getattr(daily, field)
            assert (got is None) == (want is None), (hourly.spec.label, field)
            if want is not None:
                assert got == pytest.approx(want, rel=1e-9, abs=1e-12), (hourly.spec.label, field)
        assert hourly.trend.index.equals(daily.trend.index), hourly.spec.label
        np.testing.assert_allclose(hourly.trend.to_numpy(float), daily.trend.to_numpy(float), rtol=1e-9)
    assert by_hour.daily.drop(columns="value").equals(by_day.daily.drop(columns="value"))
    np.testing.assert_allclose(by_hour.daily["value"], by_day.daily["value"], rtol=1e-9, equal_nan=True)
    assert not by_day.is_empty  # the comparison had figures to compare
