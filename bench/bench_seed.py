"""Seeding throughput: 90 days at the default scale through the bus into the lake.

Prints the events seeded, the seconds, events/s, and — measured in the same run — the
share of time the simulation alone takes (the baseline: generating the same events
without publishing them), so the bus+lake overhead is a ratio, not a guess.

    .venv/bin/python bench/bench_seed.py [--days 90] [--events-per-day 12000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.demo.enterprise import DemoConfig, Enterprise
from app.demo.seed import seed_lake


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--events-per-day", type=int, default=12_000)
    args = parser.parse_args()
    end = datetime.now(UTC).date()

    started = time.perf_counter()
    generated = sum(
        len(b.events)
        for b in Enterprise(
            DemoConfig(days=args.days, events_per_day=args.events_per_day, end=end)
        ).day_batches()
    )
    generate_s = time.perf_counter() - started

    with tempfile.TemporaryDirectory() as tmp:
        lake = Path(tmp) / "lake"
        started = time.perf_counter()
        report = seed_lake(lake, days=args.days, events_per_day=args.events_per_day, end=end)
        seed_s = time.perf_counter() - started
        files = sum(1 for _ in lake.rglob("*.parquet"))
        size_mb = sum(p.stat().st_size for p in lake.rglob("*.parquet")) / 1e6

    print(f"seed {args.days} days x {args.events_per_day:,} events/day")
    print(f"  events seeded        {report.events:,} (generated alone: {generated:,})")
    print(
        f"  seed total           {seed_s:.1f} s  ({report.events / seed_s:,.0f} events/s)  "
        "target: >= 1M in <= 60 s"
    )
    print(f"  generation alone     {generate_s:.1f} s  ({generated / generate_s:,.0f} events/s)")
    print(f"  bus + lake overhead  {seed_s / generate_s:.2f}x the generation time")
    print(f"  lake                 {files:,} Parquet files, {size_mb:,.1f} MB")


if __name__ == "__main__":
    main()
