"""Edges of the Overview's one statement for both periods (app/services/overview.py
``period_parts``): its figures equal each period's own raw query (``rollups=False``)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from app.engines.duckdb_engine import DuckDBEngine
from app.lake import rollups
from app.lake.writer import LakeWriter
from app.services import overview
from app.services.context import Context
from app.services.timerange import custom_range
from app.settings import load_settings
from tests.fixtures_lake import event

WEEK = custom_range(date(2026, 2, 23), date(2026, 3, 1), "UTC")  # previous: Feb 16..22


def _context(lake: Path) -> Context:
    settings = load_settings({"VERTICALS_TIMEZONE": "UTC", "VERTICALS_LAKE": str(lake)})
    return Context(settings, DuckDBEngine(lake), None, None, "local", str(lake), ())  # type: ignore[arg-type]


def _plan(written: date, planned: date, units: int) -> dict:
    return event(
        "CapacityPlanned",
        written,
        6,
        line_id="LINE-CHR",
        product_line="chairs",
        plan_date=planned.isoformat(),
        capacity_units=units,
    )


def _made(day: date, units: int) -> dict:
    return event(
        "BatchCompleted", day, 14, line_id="LINE-CHR", product_line="chairs", batch_id=f"b{day}", units=units
    )


@pytest.mark.parametrize("rolled", [True, False], ids=["rolled-up", "raw"])
@pytest.mark.parametrize(
    ("plan", "output_vs_capacity"),
    [
        # planned in this period for a day of the previous one (after that period ended)
        pytest.param(
            (date(2026, 2, 24), date(2026, 2, 20)), (50 / 100, 50 / 100), id="planned-after-its-period"
        ),
        # planned 28 days ahead: within the previous period's lookback, not this one's
        pytest.param((date(2026, 1, 28), date(2026, 2, 25)), (50 / 100, 50 / 100), id="planned-far-ahead"),
        # written on the first day of this period's lookback (21 days before it): its own
        pytest.param((date(2026, 2, 2), date(2026, 2, 25)), (50 / 1100, 50 / 100), id="lookback-s-first-day"),
        # a day before it: no period's
        pytest.param((date(2026, 2, 1), date(2026, 2, 25)), (50 / 100, 50 / 100), id="before-the-lookback"),
        # written on this period's last day for one of its days: its own
        pytest.param((date(2026, 3, 1), date(2026, 2, 25)), (50 / 1100, 50 / 100), id="on-its-last-day"),
    ],
)
def test_capacity_is_each_period_s_own(
    tmp_path: Path, plan: tuple[date, date], output_vs_capacity: tuple[float, float], rolled: bool
):
    lake = tmp_path / "lake"
    written, planned = plan
    LakeWriter(lake).write(
        [
            _plan(written, planned, 1000),
            *[_plan(d, d, 100) for d in (date(2026, 2, 20), date(2026, 2, 25))],
            _made(date(2026, 2, 20), 50),
            _made(date(2026, 2, 25), 50),
        ]
    )
    if rolled:
        rollups.refresh_rollups(lake)
        assert rollups.clean_days(lake)
    ctx = _context(lake)
    got, want = (_capacity_kpi(overview.department_overview(ctx, WEEK, rollups=r)) for r in (True, False))
    assert (got.value, got.previous) == (want.value, want.previous)
    assert (want.value, want.previous) == pytest.approx(output_vs_capacity)
    # The parts themselves, each period's (capacity the plan's period takes, pro rata).
    for got_parts, want_parts in zip(
        *(overview.period_parts(ctx, WEEK, rollups=r) for r in (True, False)), strict=True
    ):
        assert _summed(got_parts) == _summed(want_parts)


def _summed(parts: pd.DataFrame) -> dict[tuple[str, str], float]:
    sums = parts.assign(day=pd.to_datetime(parts["day"]).dt.date.astype(str)).groupby(["day", "part"])[
        "value"
    ]
    return {key: round(value, 9) for key, value in sums.sum().items() if value}


def _capacity_kpi(result: overview.Overview) -> overview.Kpi:
    return next(k for k in result.kpis if k.spec.label == "Output vs capacity")
