"""Matched-and-delivered events/s through the local bus's batch path (``LocalBus.publish``).

The workload is the simulated enterprise's own envelopes (app/demo: 25 detail types of 8
departments, in their real proportions) through 100 rules of mixed operators. Each rule
names a source and detail-type, as EventBridge rules do, and most add a condition on
``detail`` from one operator family; most events match 0-3 of them. Rules deliver to
queue targets; the lake line adds the catch-all rule that writes every event to the
Parquet lake (raw and typed tables), as ``bus serve`` and the seed do.

Rates are events per CPU second of this process (``time.process_time``), best of
``--rounds`` with a fresh bus each round: on a machine shared with other work, wall time
measures the queue for the CPU more than the bus.

Prints, all measured in this run:
* the baseline: the same events through one exact rule and a queue target;
* 100 mixed rules, queue targets; then with the lake; events/s, ratio to the baseline,
  deliveries per event and how many rules an event matches;
* heavy fan-out: synthetic events that match ~11 of 100 rules each (a stress case);
* match only (PatternIndex.match), 20 rules of one operator family each.

Run: .venv/bin/python bench/bench_bus.py [--events 100000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.bus.definition import parse_definition
from app.bus.local import LocalBus
from app.bus.patterns import PatternIndex, compile_pattern
from app.demo.enterprise import DemoConfig, Enterprise
from app.departments import DETAIL_TYPES, SOURCE_OF_DETAIL_TYPE

# -- the realistic workload ----------------------------------------------------------------

REALISTIC_FAMILIES = {
    "exact": lambda i: {},
    "prefix": lambda i: {"detail": {"product_line": [{"prefix": "s"}]}},
    "suffix": lambda i: {"detail": {"sku": [{"suffix": f"-00{i % 3 + 1}"}]}},
    "equals-ignore-case": lambda i: {"detail": {"warehouse": [{"equals-ignore-case": "wh-east"}]}},
    "wildcard": lambda i: {"detail": {"order_id": [{"wildcard": f"ORD-*-00{i % 10}*"}]}},
    "anything-but": lambda i: {"detail": {"currency": [{"anything-but": ["EUR"]}]}},
    "numeric": lambda i: {"detail": {"amount": [{"numeric": [">=", 50 * (i % 5), "<", 50 * (i % 5) + 300]}]}},
    "exists": lambda i: {"detail": {"reason": [{"exists": i % 2 == 0}]}},
    "$or": lambda i: {
        "$or": [{"detail": {"region": ["east", "north"]}}, {"detail": {"amount": [{"numeric": [">", 900]}]}}]
    },
    "arrays": lambda i: {"resources": [{"prefix": "arn:aws:iot"}]},
}


def realistic_rules() -> list[dict]:
    """100 rules: rule k routes detail type k mod 25 (4 rules per type, of 4 families)."""
    families = list(REALISTIC_FAMILIES)
    rules = []
    for k in range(100):
        detail_type = DETAIL_TYPES[k % len(DETAIL_TYPES)]
        family = families[(k * 3 + k // len(DETAIL_TYPES)) % len(families)]
        pattern = {
            "source": [SOURCE_OF_DETAIL_TYPE[detail_type]],
            "detail-type": [detail_type],
            **REALISTIC_FAMILIES[family](k),
        }
        rules.append(
            {
                "name": f"{family.strip('$')}-{k:03d}",
                "pattern": pattern,
                "targets": [{"id": "q", "kind": "queue", "queue": f"q{k}"}],
            }
        )
    return rules


LAKE_RULE = {
    "name": "lake-archive",
    "pattern": {"source": [{"prefix": "verticals."}]},
    "targets": [{"id": "lake", "kind": "lake"}],
}


def demo_events(n: int) -> list[dict]:
    days = max(2, n // 11_000 + 2)
    enterprise = Enterprise(DemoConfig(days=days, events_per_day=12_000, seed=11, end=date(2026, 11, 20)))
    events = [e for batch in enterprise.day_batches() for e in batch.events]
    return events[:n]


# -- the heavy fan-out stress case (synthetic events) -------------------------------------------

SOURCES = [f"verticals.dept{i}" for i in range(10)]
TYPES = ["OrderPlaced", "OrderShipped", "PaymentFailed", "StockOut", "CampaignLaunched", "TicketOpened"]
FAMILIES = [
    "exact",
    "prefix",
    "suffix",
    "ignore-case",
    "wildcard",
    "anything-but",
    "numeric",
    "exists",
    "cidr",
    "$or",
    "arrays",
]


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


def synthetic_events(n: int, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for k in range(n):
        detail = {
            "amount": round(rng.uniform(0, 1000), 2),
            "sku": f"SKU-{rng.randrange(10_000)}-{rng.randrange(7)}",
            "region": rng.choice(["eu-north", "us-east", "EU-North"]),
            "ip": f"10.{rng.randrange(16)}.{rng.randrange(256)}.{rng.randrange(256)}",
            "tags": [f"t{rng.randrange(12)}" for _ in range(3)],
        }
        if rng.random() < 0.2:
            detail["coupon"] = "SPRING"
        out.append(
            {
                "version": "0",
                "id": f"e{k}",
                "detail-type": rng.choice(TYPES),
                "source": rng.choice(SOURCES),
                "account": "123456789012",
                "time": f"2026-11-20T10:{k // 600 % 60:02d}:{k // 10 % 60:02d}Z",
                "region": "us-east-1",
                "resources": [],
                "detail": detail,
            }
        )
    return out


def fanout_rules() -> list[dict]:
    return [
        {
            "name": f"r{i:03d}",
            "pattern": family_patterns(FAMILIES[i % len(FAMILIES)], i),
            "targets": [{"id": "q", "kind": "queue", "queue": f"q{i}"}],
        }
        for i in range(99)
    ] + [LAKE_RULE]


# -- measurements ----------------------------------------------------------------------------


def delivered_rate(
    rules: list[dict], events: list[dict], rounds: int, batch_size: int = 10_000
) -> tuple[float, int]:
    """Best events/s over ``rounds`` fresh buses; and the queue deliveries of one round."""
    definition = parse_definition({"bus": "bench", "rules": rules})
    best = float("inf")
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            bus = LocalBus(definition, Path(tmp) / "lake")
            started = time.process_time()
            for i in range(0, len(events), batch_size):
                bus.publish(events[i : i + batch_size], virtual_time=True)
            best = min(best, time.process_time() - started)
            deliveries = sum(t.received for t in bus.targets.values() if hasattr(t, "received"))
    return len(events) / best, deliveries


def match_distribution(rules: list[dict], events: list[dict]) -> str:
    index = PatternIndex((r["name"], r["pattern"]) for r in rules)
    counts = Counter(min(len(index.match(e)), 4) for e in events)
    return ", ".join(f"{'4+' if n == 4 else n}: {counts[n] / len(events):.0%}" for n in sorted(counts))


def match_rate(family: str, events: list[dict], rules: int = 20) -> float:
    index = PatternIndex((f"{family}-{i}", compile_pattern(family_patterns(family, i))) for i in range(rules))
    index.match(events[0])
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        for event in events:
            index.match(event)
        best = min(best, time.process_time() - started)
    return len(events) / best


def line(label: str, rate: float, baseline: float, extra: str = "") -> None:
    print(f"  {label:<44} {rate:>10,.0f} events/s  {rate / baseline:5.2f}x baseline{extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    events = demo_events(args.events)
    rules = realistic_rules()
    n = len(events)
    print(f"{n:,} envelopes of the simulated enterprise; batches of 10,000; best of {args.rounds} rounds")
    print(
        "rules an event matches (100 mixed rules, without the lake rule): "
        f"{match_distribution(rules, events)}"
    )
    baseline, _ = delivered_rate(
        [
            {
                "name": "one",
                "pattern": {"source": ["verticals.shop"]},
                "targets": [{"id": "q", "kind": "queue", "queue": "q"}],
            }
        ],
        events,
        args.rounds,
    )
    mixed, mixed_deliveries = delivered_rate(rules, events, args.rounds)
    with_lake, _ = delivered_rate([*rules, LAKE_RULE], events, args.rounds)
    print(f"  {'baseline: 1 exact rule, queue target':<44} {baseline:>10,.0f} events/s")
    line(
        "100 mixed rules, queue targets", mixed, baseline, f"  ({mixed_deliveries / n:.2f} deliveries/event)"
    )
    line(
        "100 mixed rules + lake rule (Parquet)",
        with_lake,
        baseline,
        f"  ({mixed_deliveries / n + 1:.2f} deliveries/event)",
    )

    synthetic = synthetic_events(n)
    fanout, fanout_deliveries = delivered_rate(fanout_rules(), synthetic, max(1, args.rounds - 1))
    line(
        "heavy fan-out: 100 synthetic rules + lake",
        fanout,
        baseline,
        f"  ({fanout_deliveries / n + 1:.1f} deliveries/event)",
    )

    sample = synthetic[:20_000]
    print("match only (PatternIndex.match), 20 rules of one operator family, synthetic events:")
    for family in FAMILIES:
        print(f"  {family:<14} {match_rate(family, sample):>10,.0f} events/s")


if __name__ == "__main__":
    main()
