"""On AWS the newest FirehoseBufferSeconds of the lake are still in Firehose's buffer:
raw-lake charts end where the lake is complete (``common.arrived``) and say so."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from app.lake.writer import LakeWriter
from app.services import context, event_rates
from app.services.common import arrived, still_arriving
from app.services.timerange import TimeRange, preset_range
from app.settings import load_settings

NOW = datetime(2026, 11, 2, 10, 3, 40, tzinfo=UTC)
BUFFER = timedelta(seconds=300)


def event(i: int, at: datetime) -> dict:
    return {
        "version": "0",
        "id": f"e-{i}",
        "detail-type": "OrderPlaced",
        "source": "verticals.shop",
        "account": "123456789012",
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": [],
        "detail": {},
    }


@pytest.fixture
def ctx(tmp_path):
    """A local lake with one event a minute over the last two hours, as the aws backend
    would see it: a context whose lake is 300 s behind."""
    LakeWriter(tmp_path / "lake").write([event(i, NOW - timedelta(minutes=i)) for i in range(1, 121)])
    local = context.build_context(load_settings({"VERTICALS_LAKE": str(tmp_path / "lake")}))
    return dataclasses.replace(local, backend="aws", lake_delay=BUFFER)


def test_a_range_reaching_into_the_buffer_ends_where_the_lake_is_complete(ctx):
    rng = preset_range("24h", NOW)  # ends at 10:05, after now
    cut = arrived(ctx, rng, NOW)
    assert cut.start == rng.start and cut.end == NOW - BUFFER
    assert "newest 5 minutes may still be in Firehose's buffers" in still_arriving(ctx, rng, NOW)


def test_a_past_range_and_the_local_backend_are_not_trimmed(ctx):
    past = TimeRange(NOW - timedelta(days=3), NOW - timedelta(days=2), "custom", "past")
    assert arrived(ctx, past, NOW) == past and still_arriving(ctx, past, NOW) is None
    local = dataclasses.replace(ctx, backend="local", lake_delay=timedelta(0))
    rng = preset_range("24h", NOW)
    assert arrived(local, rng, NOW) == rng and still_arriving(local, rng, NOW) is None


def test_the_hourly_chart_leaves_out_the_hour_still_arriving(ctx, monkeypatch):
    monkeypatch.setattr("app.clock.now", lambda: NOW)
    rng = preset_range("24h", NOW)
    shown = event_rates.event_rates(ctx, rng, rollups=False).rates
    local = dataclasses.replace(ctx, backend="local", lake_delay=timedelta(0))
    unshown = event_rates.event_rates(local, rng, rollups=False).rates
    # 09:00-10:00 is whole in the range, but its last two minutes (09:58-10:00) may still be
    # in the buffer at 10:03:40: on AWS it is not drawn; locally it is.
    last_local = unshown["bucket"].max()
    assert shown["bucket"].max() == last_local - pd.Timedelta(hours=1)


@pytest.mark.parametrize("rollups", [False, True], ids=["raw", "rollups"])
def test_a_range_drawn_in_days_keeps_whole_days_when_the_buffer_cuts_it(ctx, monkeypatch, rollups):
    """8 days and 3 minutes are drawn in days; the buffer cuts the range to under 8 days,
    whose own bucket would be an hour: the day under way (from 00:00) must not be drawn."""
    monkeypatch.setattr("app.clock.now", lambda: NOW)
    LakeWriter(ctx.settings.lake).write([event(1000 + d, NOW - timedelta(days=d)) for d in (1, 2, 3)])
    rng = TimeRange(NOW - timedelta(days=8), NOW + timedelta(minutes=3), "custom", "8 days")
    assert rng.bucket == "day" and arrived(ctx, rng, NOW).bucket == "hour"
    drawn = event_rates.event_rates(ctx, rng, rollups=rollups).rates
    assert not drawn.empty and drawn["bucket"].max() < pd.Timestamp("2026-11-02")


def test_the_live_minutes_end_before_the_buffer(ctx):
    recent = event_rates.recent_rates(ctx, NOW)
    newest = recent["minute"].max()  # local time of the settings (UTC by default)
    assert newest == pd.Timestamp("2026-11-02 09:57")  # floor(10:03:40 - 300 s) - 1 minute
    assert recent["minute"].min() == pd.Timestamp("2026-11-02 08:58")  # an hour of minutes
    assert recent["events"].sum() == 60
