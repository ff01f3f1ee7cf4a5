from datetime import timedelta

import pytest

from app.cli.bus import seeded_enterprise
from app.demo.enterprise import DemoConfig, Enterprise
from app.demo.seed import seed_lake
from tests.instant import NOW


@pytest.mark.dated
def test_the_live_publisher_continues_the_seeded_simulation(tmp_path):
    lake = tmp_path / "lake"
    seed_lake(lake, days=3, events_per_day=900, seed=5)
    live = seeded_enterprise(lake)
    assert live is not None and live.config.seed == 5 and live.config.events_per_day == 900
    now = NOW
    window = (now - timedelta(hours=3), now + timedelta(hours=1))
    seeded_run = Enterprise(DemoConfig(days=3, events_per_day=900, seed=5, end=now.date()))
    assert [e["id"] for e in live.events_between(*window)] == [
        e["id"] for e in seeded_run.events_between(*window)
    ]


def test_an_unseeded_lake_has_no_simulation_to_continue(tmp_path):
    assert seeded_enterprise(tmp_path / "lake") is None
    (tmp_path / "ground_truth.json").write_text("{not json")
    assert seeded_enterprise(tmp_path / "lake") is None
