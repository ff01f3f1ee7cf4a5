"""How fast the lake writer turns events into Parquet: ``LakeWriter.write`` end to end.

    .venv/bin/python bench/bench_writer.py [--days 30] [--events-per-day 12000] [--rounds 3]

The events are the simulated enterprise's own day batches (every detail type, in their
real proportions), built once and written day by day as the seed does, into a fresh lake
each round. The baseline, measured in the same run and rounds, is the same writer with the
raw table's ``detail`` text made by Python's json encoder, as it was before orjson (the
code below is that old encoder). Rates are per CPU second, best of the rounds; wall-clock
rates are printed beside them. The two lakes are then read back and compared: the writer
must write the same rows, byte for byte in every string.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from unittest import mock

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere
from bench_generate import Clock

from app.demo.enterprise import DemoConfig, Enterprise
from app.lake import writer

END = date(2026, 11, 26)
INGESTED_AT = datetime(2026, 11, 26, 12, tzinfo=UTC)  # fixed, so the two lakes can be compared

baseline_compact_json = json.JSONEncoder(separators=(",", ":")).encode  # the writer's encoder before orjson


def write_lake(lake: Path, batches: list[list[dict]]) -> Clock:
    lake_writer = writer.LakeWriter(lake)
    with Clock() as clock:
        for events in batches:
            lake_writer.write(events, ingested_at=INGESTED_AT)
    return clock


def write_baseline_lake(lake: Path, batches: list[list[dict]]) -> Clock:
    with mock.patch.object(writer, "_compact_json", baseline_compact_json):
        return write_lake(lake, batches)


def partitions(lake: Path) -> dict[str, list[dict]]:
    """Every partition's rows, files in name (= write) order."""
    return {
        folder.relative_to(lake).as_posix(): [
            row for f in sorted(folder.glob("*.parquet")) for row in pq.read_table(f).to_pylist()
        ]
        for folder in sorted({f.parent for f in lake.rglob("*.parquet")})
    }


def encode_rate(encode, details: list, rounds: int) -> float:
    """Details encoded per CPU second, best of the rounds."""
    best = float("inf")
    for _ in range(rounds):
        with Clock() as clock:
            for detail in details:
                encode(detail)
        best = min(best, clock.cpu)
    return len(details) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--events-per-day", type=int, default=12_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    enterprise = Enterprise(DemoConfig(days=args.days, events_per_day=args.events_per_day, seed=7, end=END))
    batches = [batch.events for batch in enterprise.day_batches()]
    count = sum(map(len, batches))
    details = [event["detail"] for events in batches for event in events]

    json_rate = encode_rate(baseline_compact_json, details, args.rounds)
    ours_rate = encode_rate(writer._compact_json, details, args.rounds)
    runs: dict[str, list[Clock]] = {"baseline": [], "ours": []}
    with tempfile.TemporaryDirectory() as tmp:
        write_lake(Path(tmp) / "warm-up", batches[:1])  # imports and first-call costs out of the rounds
        for round_no in range(args.rounds):  # interleaved: both see the same machine load
            runs["baseline"].append(write_baseline_lake(Path(tmp) / f"baseline-{round_no}", batches))
            runs["ours"].append(write_lake(Path(tmp) / f"ours-{round_no}", batches))
        base_parts, our_parts = partitions(Path(tmp) / "baseline-0"), partitions(Path(tmp) / "ours-0")
        files = sum(1 for _ in (Path(tmp) / "ours-0").rglob("*.parquet"))

    base = min(runs["baseline"], key=lambda c: c.cpu)
    ours = min(runs["ours"], key=lambda c: c.cpu)
    same = base_parts == our_parts
    print(
        f"config: {args.days} days x {args.events_per_day:,} events/day (seed 7, end {END}): "
        f"{count:,} events in {len(batches)} day batches, {files:,} Parquet files a lake"
    )
    print(
        f"LakeWriter.write, baseline (json encoder): {count / base.cpu:,.0f} events/s CPU "
        f"({base.cpu:.2f} s; wall {count / base.wall:,.0f} events/s)"
    )
    print(
        f"LakeWriter.write, orjson encoder:          {count / ours.cpu:,.0f} events/s CPU "
        f"({ours.cpu:.2f} s; wall {count / ours.wall:,.0f} events/s)"
    )
    print(f"speed-up (CPU): {base.cpu / ours.cpu:.2f}x  (wall: {base.wall / ours.wall:.2f}x)")
    print(
        f"detail encoder alone: json {json_rate:,.0f}/s, ours {ours_rate:,.0f}/s: "
        f"{ours_rate / json_rate:.2f}x; share of the writer's CPU time: "
        f"{count / json_rate / base.cpu:.0%} before, {count / ours_rate / ours.cpu:.0%} after"
    )
    print(
        f"same lake (every partition's rows and values): {'yes' if same else 'NO'} "
        f"({len(our_parts)} partitions, {sum(map(len, our_parts.values())):,} rows)"
    )
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
