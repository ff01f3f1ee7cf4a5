"""``bus serve`` on its own brings a closed day to one file per table (and source), and
rolls it up: no operator runs anything. Time is the tests' NOW; the thresholds are small."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq

from app.bus.server import BusService, ServerConfig
from app.lake.rollups import ROLLUP_TABLES, rollup_file
from tests.bus.server_helpers import lake_ids, wait_for, write_definition
from tests.instant import NOW

CLOSED = NOW - timedelta(days=2)
CALLS, PER_CALL = 6, 5


def entry(i: int, at) -> dict:
    return {
        "Source": "shop",
        "DetailType": "OrderPlaced",
        "Detail": json.dumps({"order_id": f"o{i}", "amount": 1.0}),
        "Time": at.isoformat(),
        "EventBusName": "test-bus",
    }


def files_per_folder(lake: Path, day: str) -> dict[str, int]:
    folders = {p.parent for p in lake.rglob("*.parquet") if f"dt={day}" in p.parent.parts}
    return {str(f.relative_to(lake)): len(list(f.glob("*.parquet"))) for f in folders}


def test_bus_serve_merges_a_closed_day_to_one_file_per_folder_and_rolls_it_up(tmp_path):
    definition = write_definition(
        tmp_path,
        "bus: test-bus\nrules:\n  - name: lake\n    pattern: {source: [shop]}\n"
        "    targets: [{id: lake, kind: lake}]\n",
    )
    config = ServerConfig(
        lake=tmp_path / "lake", definition=definition, metrics_every_s=0.05, compact_every_s=0.3
    )
    service = BusService(config)
    service.start()
    day = CLOSED.date().isoformat()
    try:
        for call in range(CALLS):  # one delivery, so one file per folder, per call
            entries = [entry(call * PER_CALL + i, CLOSED + timedelta(minutes=call)) for i in range(PER_CALL)]
            response = service.call("PutEvents", {"Entries": entries})
            assert response["FailedEntryCount"] == 0
            assert wait_for(lambda n=(call + 1) * PER_CALL: len(lake_ids(config.lake)) == n)
        merged = wait_for(
            lambda: (
                (counts := files_per_folder(config.lake, day))
                and all(n == 1 for n in counts.values())
                and all(rollup_file(config.lake, t, day).exists() for t in ROLLUP_TABLES.values())
            ),
            timeout_s=30,
        )
    finally:
        service.stop()
    counts = files_per_folder(config.lake, day)
    assert merged, counts
    raw = [k for k in counts if k.startswith("events/")]
    assert len(raw) == 1 and "orders/dt=" + day in counts  # raw events of one source, and orders
    assert all(n == 1 for n in counts.values()), counts
    assert len(lake_ids(config.lake)) == CALLS * PER_CALL == len(set(lake_ids(config.lake)))
    hourly = pq.read_table(rollup_file(config.lake, ROLLUP_TABLES["events_hourly"], day))
    assert sum(hourly.column("events").to_pylist()) == CALLS * PER_CALL
