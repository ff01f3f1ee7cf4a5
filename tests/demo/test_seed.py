import pyarrow.dataset as ds
import pytest

from app.demo.seed import lake_is_seeded, seed_lake
from tests.instant import NOW


@pytest.mark.dated
def test_seeding_history_stops_at_now_and_records_metrics_and_truth(tmp_path):
    lake = tmp_path / "lake"
    report = seed_lake(lake, days=3, events_per_day=600, seed=3)
    times = ds.dataset(lake / "events", format="parquet", partitioning="hive").to_table(columns=["time"])[
        "time"
    ]
    assert report.events == len(times) > 0
    assert max(times.to_pylist()) <= NOW
    assert (NOW - min(times.to_pylist())).days <= 3
    assert lake_is_seeded(lake)
    assert (tmp_path / "ground_truth.json").exists()
    assert any((lake / "_bus_metrics").rglob("*.parquet"))
    assert not list((tmp_path / "bus").rglob("archives/*/*")), (
        "seeded history is the lake's, not archived again"
    )
