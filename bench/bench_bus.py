"""Matched-and-delivered events/s through the local bus's batch path, 100 rules of mixed operators.

Prints, all measured in this run:
* the baseline: one rule, one exact value, a queue target;
* 100 rules (exact, prefix, suffix, equals-ignore-case, wildcard, anything-but, numeric
  ranges, exists, cidr, $or, nested) with queue targets plus one catch-all lake rule
  writing Parquet to a temporary folder — events/s and the ratio to the baseline;
* match-only events/s per operator family (20 rules of one family each).

Run: .venv/bin/python bench/bench_bus.py [events]
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.bus.definition import parse_definition  # noqa: E402
from app.bus.local import LocalBus  # noqa: E402
from app.bus.patterns import PatternIndex, compile_pattern  # noqa: E402

SOURCES = [f"verticals.dept{i}" for i in range(10)]
TYPES = ["OrderPlaced", "OrderShipped", "PaymentFailed", "StockOut", "CampaignLaunched", "TicketOpened"]


def family_patterns(family: str, i: int) -> dict:
    source = SOURCES[i % len(SOURCES)]
    return {
        "exact": {"source": [source], "detail-type": [TYPES[i % len(TYPES)]]},
        "prefix": {"detail-type": [{"prefix": TYPES[i % len(TYPES)][:5]}], "source": [source]},
        "suffix": {"detail": {"sku": [{"suffix": f"-{i % 7}"}]}},
        "ignore-case": {"detail": {"region": [{"equals-ignore-case": "EU-NORTH"}]}, "source": [source]},
        "wildcard": {"detail": {"sku": [{"wildcard": f"SKU-*{i % 10}*"}]}},
        "anything-but": {"source": [{"anything-but": [source]}], "detail-type": [TYPES[i % len(TYPES)]]},
        "numeric": {"detail": {"amount": [{"numeric": [">=", i * 5, "<", i * 5 + 50]}]}},
        "exists": {"detail": {"coupon": [{"exists": True}]}, "source": [source]},
        "cidr": {"detail": {"ip": [{"cidr": f"10.{i % 8}.0.0/16"}]}},
        "$or": {"$or": [{"source": [source]}, {"detail": {"amount": [{"numeric": [">", 990]}]}}]},
        "arrays": {"detail": {"tags": [f"t{i % 12}"]}},
    }[family]


FAMILIES = ["exact", "prefix", "suffix", "ignore-case", "wildcard", "anything-but", "numeric", "exists",
            "cidr", "$or", "arrays"]


def events(n: int, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for k in range(n):
        detail = {"amount": round(rng.uniform(0, 1000), 2), "sku": f"SKU-{rng.randrange(10_000)}-{rng.randrange(7)}",
                  "region": rng.choice(["eu-north", "us-east", "EU-North"]),
                  "ip": f"10.{rng.randrange(16)}.{rng.randrange(256)}.{rng.randrange(256)}",
                  "tags": [f"t{rng.randrange(12)}" for _ in range(3)]}
        if rng.random() < 0.2:
            detail["coupon"] = "SPRING"
        out.append({"version": "0", "id": f"e{k}", "detail-type": rng.choice(TYPES), "source": rng.choice(SOURCES),
                    "account": "123456789012", "time": f"2026-11-20T10:{k // 600 % 60:02d}:{k // 10 % 60:02d}Z",
                    "region": "us-east-1", "resources": [], "detail": detail})
    return out


def mixed_definition(lake_rule: bool) -> dict:
    rules = [{"name": f"r{i:03d}", "pattern": family_patterns(FAMILIES[i % len(FAMILIES)], i),
              "targets": [{"id": "q", "kind": "queue", "queue": f"q{i}"}]} for i in range(99 if lake_rule else 100)]
    if lake_rule:
        rules.append({"name": "lake", "pattern": {"source": [{"prefix": "verticals."}]},
                      "targets": [{"id": "lake", "kind": "lake"}]})
    return {"bus": "bench", "rules": rules}


def baseline_definition() -> dict:
    return {"bus": "bench", "rules": [{"name": "one", "pattern": {"source": [SOURCES[0]]},
                                       "targets": [{"id": "q", "kind": "queue", "queue": "q"}]}]}


def delivered_rate(definition: dict, batch: list[dict], batch_size: int = 10_000) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        bus = LocalBus(parse_definition(definition), Path(tmp) / "lake")
        started = time.perf_counter()
        for i in range(0, len(batch), batch_size):
            bus.publish(batch[i:i + batch_size], virtual_time=True)
        elapsed = time.perf_counter() - started
        deliveries = sum(t.received for t in bus.targets.values() if hasattr(t, "received"))
    return len(batch) / elapsed, deliveries


def match_rate(family: str, batch: list[dict], rules: int = 20) -> float:
    index = PatternIndex()
    for i in range(rules):
        index.add(f"{family}-{i}", compile_pattern(family_patterns(family, i)))
    started = time.perf_counter()
    for event in batch:
        index.match(event)
    return len(batch) / (time.perf_counter() - started)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    batch = events(n)
    baseline, _ = delivered_rate(baseline_definition(), batch)
    mixed, deliveries = delivered_rate(mixed_definition(lake_rule=True), batch)
    print(f"events: {n:,}")
    print(f"baseline (1 exact rule, queue target):          {baseline:>10,.0f} events/s")
    print(f"100 mixed rules, queue targets + lake (Parquet): {mixed:>10,.0f} events/s "
          f"({mixed / baseline:.2f}x baseline; {deliveries / n:.1f} queue deliveries per event)")
    sample = batch[:20_000]
    print("match only, 20 rules of one family:")
    for family in FAMILIES:
        print(f"  {family:<14} {match_rate(family, sample):>10,.0f} events/s")


if __name__ == "__main__":
    main()
