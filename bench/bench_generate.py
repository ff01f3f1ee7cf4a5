"""How fast the simulated enterprise generates events.

    .venv/bin/python bench/bench_generate.py [--days 90] [--events-per-day 12000]

Prints events/s of ``Enterprise.day_batches`` (the seeding path; the goal is >= 150,000
events/s on one core), against a baseline measured in the same run: the obvious
per-event generator (``uuid.UUID`` and ``strftime`` per event, a dict per event). Also
prints what a live publisher pays for ``events_between``: a cold window (drawing the 45
days of cohorts behind it) and the next one (from the kept cohorts).
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere
from app.demo.enterprise import DemoConfig, Enterprise

END = date(2026, 3, 31)


def naive_events(n: int, seed: int = 1) -> list[dict]:
    """The per-event way: one UUID, one strftime and one detail dict per event."""
    rng, draw = np.random.default_rng(seed), random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    events = []
    for i in range(n):
        moment = start + timedelta(seconds=draw.randrange(86_400))
        detail = {
            "order_id": f"ORD-{i:08d}",
            "customer_id": f"CUST-{draw.randrange(400_000):07d}",
            "region": draw.choice(("east", "west")),
            "quantity": draw.randrange(1, 4),
            "amount": round(draw.uniform(10, 900), 2),
            "currency": "USD",
        }
        events.append(
            {
                "version": "0",
                "id": str(uuid.UUID(bytes=rng.bytes(16), version=4)),
                "detail-type": "OrderPlaced",
                "source": "verticals.shop",
                "account": "123456789012",
                "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "region": "us-east-1",
                "resources": [],
                "detail": detail,
            }
        )
    events.sort(key=lambda e: e["time"])
    return events


def rate(seconds: float, count: int) -> float:
    return count / seconds if seconds else float("inf")


class Clock:
    """Wall and CPU time of a block: on a shared machine the CPU time is the fair figure."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--events-per-day", type=int, default=12_000)
    args = parser.parse_args()

    began = time.perf_counter()
    enterprise = Enterprise(DemoConfig(days=args.days, events_per_day=args.events_per_day, end=END))
    setup = time.perf_counter() - began

    count = 0
    with Clock() as ours:
        for batch in enterprise.day_batches():
            count += len(batch.events)

    sample = min(count, 200_000)
    with Clock() as naive:
        naive_events(sample)

    live = Enterprise(DemoConfig(days=args.days, events_per_day=args.events_per_day, end=END))
    window = datetime(2026, 4, 1, 12, tzinfo=UTC)
    began = time.perf_counter()
    cold = len(live.events_between(window, window + timedelta(minutes=5)))
    cold_s = time.perf_counter() - began
    began = time.perf_counter()
    warm = len(live.events_between(window + timedelta(minutes=5), window + timedelta(minutes=10)))
    warm_s = time.perf_counter() - began

    print(f"config: {args.days} days x {args.events_per_day:,} events/day (seed 7, end {END})")
    print(f"setup (calibration, campaigns, outages): {setup:.2f} s")
    print(
        f"day_batches: {count:,} events ({count / args.days:,.0f}/day) in {ours.wall:.1f} s wall, "
        f"{ours.cpu:.1f} s CPU: {rate(ours.wall, count):,.0f} events/s wall, "
        f"{rate(ours.cpu, count):,.0f} events/s CPU"
    )
    print(
        f"baseline, per-event generator ({sample:,} events): {rate(naive.wall, sample):,.0f} events/s wall, "
        f"{rate(naive.cpu, sample):,.0f} events/s CPU"
    )
    print(f"ratio day_batches / baseline (CPU): {rate(ours.cpu, count) / rate(naive.cpu, sample):.2f}x")
    print(
        f"goal >= 150,000 events/s per core (CPU): {'met' if rate(ours.cpu, count) >= 150_000 else 'NOT met'}"
    )
    print(
        f"events_between, 5 min after the window: cold {cold_s:.2f} s ({cold} events), "
        f"next 5 min {warm_s * 1000:.0f} ms ({warm} events)"
    )
    print(f"peak memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
