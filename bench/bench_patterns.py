"""Throughput of the event-pattern matcher (app/bus/patterns/).

Run: .venv/bin/python bench/bench_patterns.py [--seconds S]

Prints
* events/s through PatternIndex.match with 100 rules of mixed operators, against a
  brute-force baseline (every pattern tried on every event) measured in the same run;
* pattern evaluations/s (Pattern.matches calls) for each operator family.

Events are EventBridge envelopes with a ``detail`` of about ten fields; the rule set is
built so that most events match 0-3 rules (the distribution is printed).  Everything is
seeded, so two runs on one machine differ only by timing noise.  Takes about 30 s.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.bus.patterns import Pattern, PatternIndex, compile_pattern

SEED = 20240611
SOURCES = [
    f"com.example.{team}"
    for team in (
        "orders",
        "payments",
        "shipping",
        "catalog",
        "users",
        "search",
        "reviews",
        "returns",
        "billing",
        "ads",
        "inventory",
        "support",
        "auth",
        "media",
        "pricing",
        "loyalty",
    )
]
DETAIL_TYPES = ["Created", "Updated", "Deleted", "Failed", "Completed", "Started"]
STATES = ["pending", "running", "stopped", "failed", "done", "initializing"]
CURRENCIES = ["EUR", "USD", "GBP", "JPY", "eur", "usd"]
COUNTRIES = ["DE", "FR", "US", "GB", "JP", "BR", "IN"]
EXTENSIONS = [".png", ".jpg", ".PNG", ".csv", ".json"]
FAMILIES = [
    "exact",
    "prefix/suffix",
    "equals-ignore-case",
    "wildcard",
    "anything-but",
    "numeric",
    "exists",
    "cidr",
    "$or",
    "arrays of objects",
]


# ---------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------


def make_event(rng: random.Random, number: int) -> dict:
    source = rng.choice(SOURCES)
    return {
        "version": "0",
        "id": f"{number:08x}-b491-4cf7-a9f1-bf3703467718",
        "detail-type": f"{source.rsplit('.', 1)[1].title()} {rng.choice(DETAIL_TYPES)}",
        "source": source,
        "account": "111122223333",
        "time": f"2024-06-{rng.randint(1, 30):02d}T{rng.randint(0, 23):02d}:48:00Z",
        "region": rng.choice(["us-east-1", "eu-west-1", "eu-central-1"]),
        "resources": [f"arn:aws:s3:::bucket-{rng.randint(1, 50)}"],
        "detail": make_detail(rng),
    }


def make_detail(rng: random.Random) -> dict:
    detail = {
        "state": rng.choice(STATES),
        "amount": round(rng.uniform(0, 1000), 2),
        "count": rng.randint(0, 50),
        "currency": rng.choice(CURRENCIES),
        "country": rng.choice(COUNTRIES),
        "customer": f"cust-{rng.randint(1, 9999)}",
        "file": f"uploads/{rng.choice(['img', 'doc', 'tmp'])}-{rng.randint(1, 99)}{rng.choice(EXTENSIONS)}",
        "source-ip": f"10.{rng.randint(0, 3)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
        "priority": rng.random() < 0.3,
    }
    if rng.random() < 0.5:
        detail["coupon"] = rng.choice(["SUMMER", "WINTER", None])
    if rng.random() < 0.4:
        detail["items"] = [
            {"sku": f"sku-{rng.randint(1, 20)}", "qty": rng.randint(1, 5)} for _ in range(rng.randint(1, 4))
        ]
    return detail


# ---------------------------------------------------------------------------
# Rules: ten of each family.  Nine name a source and detail-type, as most EventBridge
# rules do; the tenth cuts across sources (a detail-type suffix such as " Failed"), and
# the anything-but family's tenth has no selective field at all, so PatternIndex has
# to try it on every event.
# ---------------------------------------------------------------------------

CROSS_CUTTING = [" Failed", " Deleted", " Started"]


def envelope(rng: random.Random, family: str, cross_cutting: bool) -> dict:
    if cross_cutting and family == "anything-but":
        return {"source": [{"prefix": "com.example."}]}
    if cross_cutting:
        return {"detail-type": [{"suffix": rng.choice(CROSS_CUTTING)}]}
    source = rng.choice(SOURCES)
    team = source.rsplit(".", 1)[1].title()
    return {"source": [source], "detail-type": [f"{team} {rng.choice(DETAIL_TYPES)}"]}


def family_rule(rng: random.Random, family: str, cross_cutting: bool) -> dict:
    rule = envelope(rng, family, cross_cutting)
    rule.update(FAMILY_BODIES[family](rng))
    return rule


FAMILY_BODIES = {
    "exact": lambda rng: {"detail": {"state": rng.sample(STATES, 2), "country": [rng.choice(COUNTRIES)]}},
    "prefix/suffix": lambda rng: {
        "detail": {
            "customer": [{"prefix": f"cust-{rng.randint(1, 9)}"}],
            "file": [{"suffix": rng.choice(EXTENSIONS)}, {"suffix": {"equals-ignore-case": ".png"}}],
        }
    },
    "equals-ignore-case": lambda rng: {
        "detail": {
            "currency": [{"equals-ignore-case": rng.choice(["eur", "usd"])}],
            "file": [{"prefix": {"equals-ignore-case": "UPLOADS/IMG"}}],
        }
    },
    "wildcard": lambda rng: {"detail": {"file": [{"wildcard": f"uploads/*-{rng.randint(1, 9)}*.png"}]}},
    "anything-but": lambda rng: {
        "detail": {
            "state": [{"anything-but": rng.sample(STATES, 3)}],
            "country": [{"anything-but": {"prefix": rng.choice(["D", "F", "U"])}}],
        }
    },
    "numeric": lambda rng: {
        "detail": {
            "amount": [{"numeric": [">", rng.randint(0, 400), "<=", rng.randint(500, 1000)]}],
            "count": [{"numeric": [">=", rng.randint(0, 40)]}],
        }
    },
    "exists": lambda rng: {
        "detail": {"coupon": [{"exists": rng.random() < 0.5}], "priority": [{"exists": True}]}
    },
    "cidr": lambda rng: {
        "detail": {"source-ip": [{"cidr": f"10.{rng.randint(0, 3)}.0.0/{rng.choice([16, 17])}"}]}
    },
    "$or": lambda rng: {
        "$or": [
            {"detail": {"state": [rng.choice(STATES)]}},
            {"detail": {"amount": [{"numeric": [">", rng.randint(700, 990)]}]}},
        ]
    },
    "arrays of objects": lambda rng: {
        "detail": {
            "items": {"sku": [f"sku-{rng.randint(1, 20)}"], "qty": [{"numeric": [">=", rng.randint(1, 5)]}]}
        }
    },
}


def make_rules(rng: random.Random, per_family: int = 10) -> dict[str, list[tuple[str, dict]]]:
    """Ten rules per family, as (name, pattern given as Python data)."""
    return {
        family: [(f"{family}-{n}", family_rule(rng, family, cross_cutting=n == 0)) for n in range(per_family)]
        for family in FAMILIES
    }


def aimed_at(rng: random.Random, event: dict, rule: dict) -> dict:
    """The event, with the source and detail-type the rule asks for, so that the rule's
    operators (not just its envelope) get evaluated."""
    event = dict(event)
    for field in ("source", "detail-type"):
        wanted = rule.get(field, [None])[0]
        if isinstance(wanted, str):
            event[field] = wanted
        elif isinstance(wanted, dict) and "suffix" in wanted:
            event[field] = event[field].rsplit(" ", 1)[0] + wanted["suffix"]
    return event


# ---------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------


def rate(run, items: int, seconds: float) -> float:
    """items/s of run() (which processes `items` things): the best of the rounds that fit
    in about `seconds`, as timeit does, since other processes only ever slow a round down."""
    run()  # warm-up
    best, deadline = math.inf, time.perf_counter() + seconds
    while True:
        started = time.perf_counter()
        run()
        finished = time.perf_counter()
        best = min(best, finished - started)
        if finished >= deadline:
            return items / best


def events_rate(match, events: list[dict], seconds: float, chunks: int = 20, size: int = 100) -> float:
    """events/s of match(): the best time of each of `chunks` fixed runs of `size` events,
    summed.  Short rounds, best kept, because on a shared machine long rounds are always
    interrupted by other work; the same for every figure, so ratios stay fair."""
    step = max(size, len(events) // chunks)
    runs = [events[start : start + size] for start in range(0, len(events), step)][:chunks]
    per_run = seconds / len(runs)
    total_time = sum(size / rate(lambda run=run: [match(e) for e in run], size, per_run) for run in runs)
    return len(runs) * size / total_time


def brute_force(patterns: list[tuple[str, Pattern]], event: dict) -> list[str]:
    return [name for name, pattern in patterns if pattern.matches(event)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    args = parser.parse_args()

    rng = random.Random(SEED)
    by_family = make_rules(rng)
    compiled = {
        family: [(name, compile_pattern(rule)) for name, rule in rules] for family, rules in by_family.items()
    }
    all_rules = [rule for family in FAMILIES for rule in compiled[family]]
    events = [make_event(rng, n) for n in range(4000)]
    index = PatternIndex(all_rules)

    check_same_answers(index, all_rules, events)
    print_match_distribution(index, events)

    sample = events[:500]
    index_rate = events_rate(index.match, events, args.seconds * 2)
    brute_rate = events_rate(lambda e: brute_force(all_rules, e), events, args.seconds * 2)
    print(f"\n{len(all_rules)} rules, {len(events)} distinct events")
    print(f"  PatternIndex.match : {index_rate:>10,.0f} events/s")
    print(f"  brute force        : {brute_rate:>10,.0f} events/s  (every pattern on every event)")
    print(f"  speed-up           : {index_rate / brute_rate:>10.1f}x")

    print("\nPer operator family: 10 rules, each tried on 50 events aimed at its source/detail-type")
    print(f"  {'family':<20} {'Pattern.matches/s':>18} {'index events/s':>15} {'hit rate':>9}")
    for family in FAMILIES:
        print_family(rng, family, by_family[family], compiled[family], sample, args.seconds / 2)


def print_family(rng, family, rules, compiled, sample, seconds) -> None:
    """Each rule against 50 events aimed at it: Pattern.matches/s, then those 500 events
    through an index of the family's 10 rules alone."""
    pairs = [
        (pattern, aimed_at(rng, event, rule))
        for (_, rule), (_, pattern) in zip(rules, compiled, strict=True)
        for event in sample[:50]
    ]
    aimed = [event for _, event in pairs]
    family_index = PatternIndex(compiled)
    matches_rate = rate(lambda: [p.matches(e) for p, e in pairs], len(pairs), seconds)
    events_rate = rate(lambda: [family_index.match(e) for e in aimed], len(aimed), seconds)
    hits = sum(p.matches(e) for p, e in pairs) / len(pairs)
    print(f"  {family:<20} {matches_rate:>18,.0f} {events_rate:>15,.0f} {hits:>9.1%}")


def check_same_answers(index: PatternIndex, rules: list[tuple[str, Pattern]], events: list[dict]) -> None:
    for event in events:
        if index.match(event) != brute_force(rules, event):
            raise SystemExit(f"PatternIndex disagrees with brute force on {event}")


def print_match_distribution(index: PatternIndex, events: list[dict]) -> None:
    counts = Counter(len(index.match(event)) for event in events)
    shown = ", ".join(f"{n} rules: {counts[n] / len(events):.0%}" for n in sorted(counts))
    print(f"matches per event: {shown}")


if __name__ == "__main__":
    main()
