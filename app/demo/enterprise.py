"""The simulated enterprise: eight departments publishing EventBridge events, day by day.

Everything is drawn from the seed: each day has its own random stream (seed, day), from
which that day's orders and *all* their consequences are drawn at once (a "cohort"), even
those that happen days later. A day's events are therefore the union of the pieces of the
last ``MAX_CHAIN_DAYS`` cohorts that fall on it, which is what both :meth:`Enterprise.day_batches`
(walking forward, each cohort drawn once) and :meth:`Enterprise.events_between` (drawing
the cohorts a window needs) assemble — the same events either way. The simulation starts
on ``config.end - days + 1`` (no order before it, so every child has its parent) and goes
on past ``config.end`` for a live publisher.

What the analytics should find — campaign lifts and lags, production capacities, consumer
outages, holidays — is planted here and written beside the lake by :func:`write_ground_truth`.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

from app import clock
from app.demo.campaigns import Campaign, campaign_rows, lift_factors, schedule_campaigns
from app.demo.orders import (
    MAX_CHAIN_DAYS,
    ORDER_CHAIN_TYPES,
    OrderChain,
    draw_carts,
    draw_orders,
    simulate_orders,
    stock_plan,
)
from app.demo.outages import PLANS, Outages, schedule_outages
from app.demo.production import DOWNTIME_P, SHIFT_START_HOURS, line_arns, simulate_production
from app.demo.rows import DAY, Rows, merge_events
from app.demo.world import (
    PRODUCT_LINES,
    REGION_SHARES,
    REGIONS,
    Calendar,
    build_catalog,
    epoch_day,
    from_epoch_day,
    holidays_between,
    mean_quantity,
)
from app.events import format_time

# Independent random streams: (seed, stream, ...) never collide between purposes.
COHORT, CAMPAIGNS, OUTAGES, CATALOG, CALIBRATION = range(1, 6)
FUTURE_DAYS = 365  # campaigns keep being scheduled this long past the window
CALIBRATION_ORDERS = 20_000
KEPT_DAYS = 3  # events_between remembers the cohorts behind windows shorter than this


@dataclass(frozen=True)
class DemoConfig:
    days: int = 365
    events_per_day: int = 12_000  # mean events a day; orders a day follow from it
    seed: int = 7
    end: date | None = None  # last simulated day (inclusive); None: today (UTC)
    account: str = "123456789012"
    region: str = "us-east-1"
    # Only these detail types are drawn (None: all). The others are still *planned* — the
    # volume, campaigns and capacities do not change — and the kept events are the very
    # ones the whole simulation publishes; without an order's consequences among them the
    # order chain is not drawn at all, which is what makes a large analytics lake cheap.
    detail_types: frozenset[str] | None = None


@dataclass(frozen=True)
class DayBatch:
    date: date
    events: list[dict]


def stream(seed: int, *key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, *key])))


def _seconds(moment: datetime) -> int:
    """Epoch seconds, rounded up: events have whole-second times, so ``t >= moment`` is
    ``t >= ceil(moment)`` and ``t < moment`` is ``t < ceil(moment)``."""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return math.ceil(moment.timestamp())


def _iso(seconds: int) -> str:
    return format_time(datetime.fromtimestamp(seconds, UTC))


def _blocks(first: int, days: int, horizon_end: int) -> list[tuple[int, int]]:
    """The window cut into equal blocks of at most a year, then yearly blocks past it."""
    count = math.ceil(days / 365)
    edges = [first + round(i * days / count) for i in range(count + 1)]
    while edges[-1] <= horizon_end:
        edges.append(edges[-1] + 365)
    return list(itertools.pairwise(edges))


class Enterprise:
    def __init__(self, config: DemoConfig):
        self.config = config
        self.end = config.end or clock.today()
        self.start = self.end - timedelta(days=config.days - 1)
        self.first_day, self.last_day = epoch_day(self.start), epoch_day(self.end)
        self.calendar = Calendar(self.first_day)
        self.catalog = build_catalog(stream(config.seed, CATALOG))
        horizon_end = self.last_day + FUTURE_DAYS
        self.campaigns: list[Campaign] = schedule_campaigns(
            stream(config.seed, CAMPAIGNS),
            self.first_day,
            horizon_end,
            _blocks(self.first_day, config.days, horizon_end),
            # Marketing spends in proportion to the business: a 20x enterprise is no
            # better a return on the same budget.
            budget_scale=config.events_per_day / DemoConfig.events_per_day,
        )
        self.outages = self._schedule_outages()
        self.arns = line_arns(config.region, config.account)
        self.events_per_order = self._calibrate()
        self.mean_demand = float(
            np.mean([self._demand_factor(d) for d in range(self.first_day, self.last_day + 1)])
        )
        self.orders_per_day = self._orders_per_day()  # at a demand factor of 1
        self.capacities = self._plan_capacities()
        wanted = config.detail_types
        self.draws_order_chain = wanted is None or bool((wanted - {"OrderPlaced"}) & ORDER_CHAIN_TYPES)
        self._cohorts: dict[int, tuple[int, dict[int, list[Rows]]]] = {}  # see _cohort_parts

    # --- planning ---------------------------------------------------------------------------

    def _schedule_outages(self) -> Outages:
        start, end = self.first_day * DAY, (self.last_day + 1) * DAY
        return Outages(
            {
                consumer: schedule_outages(stream(self.config.seed, OUTAGES, i), plan, start, end)
                for i, (consumer, plan) in enumerate(PLANS.items())
            }
        )

    def _calibrate(self) -> float:
        """Events per order (carts included), measured on a large sample of the same chain."""
        rng = stream(self.config.seed, CALIBRATION)
        expected = CALIBRATION_ORDERS * REGION_SHARES
        orders = draw_orders(rng, self.first_day, expected, self.catalog)
        rows = OrderChain(rng, self.first_day, orders, stock_plan(expected)).run()
        rows.append(draw_carts(rng, self.first_day, expected))
        return sum(len(r) for r in rows) / len(orders)

    def _demand_factor(self, day: int) -> float:
        """All regions' expected orders on ``day`` relative to a day with factor 1."""
        return float(self.calendar.factor(day) * (REGION_SHARES * lift_factors(self.campaigns, day)).sum())

    def _fixed_events_per_day(self) -> float:
        production = len(PRODUCT_LINES) * (1 + len(SHIFT_START_HOURS) * (2 + DOWNTIME_P))
        marketing = 0
        for c in self.campaigns:
            running = min(c.end_day, self.last_day) - max(c.start_day, self.first_day) + 1
            marketing += (
                max(0, running)
                + (self.first_day <= c.start_day <= self.last_day)
                + (self.first_day <= c.end_day <= self.last_day)
            )
        return production + marketing / self.config.days

    def _orders_per_day(self) -> float:
        """Orders a day at demand factor 1 so that the window averages ``events_per_day``."""
        from_orders = max(self.config.events_per_day - self._fixed_events_per_day(), self.events_per_order)
        return from_orders / self.events_per_order / self.mean_demand

    def _plan_capacities(self) -> np.ndarray:
        """Units per day per line: the line's mean demand over the window times its margin."""
        orders = self.orders_per_day * self.mean_demand
        return np.array(
            [round(orders * p.share * mean_quantity(p) * p.capacity_margin) for p in PRODUCT_LINES]
        )

    def expected_orders(self, day: int, with_campaigns: bool = True) -> np.ndarray:
        """Mean orders per region on an epoch day."""
        base = self.orders_per_day * REGION_SHARES * self.calendar.factor(day)
        return base * lift_factors(self.campaigns, day) if with_campaigns else base

    # --- drawing ----------------------------------------------------------------------------

    def simulate_day(self, day: int) -> list[Rows]:
        """Everything rooted in epoch ``day``: its production, marketing, orders and their
        consequences (some fall on later days). Nothing before the simulation starts."""
        if day < self.first_day:
            return []
        rng = stream(self.config.seed, COHORT, day)
        wanted = self.config.detail_types
        rows = (
            simulate_production(rng, day, self.capacities, self.arns)
            + campaign_rows(rng, self.campaigns, day)
            + simulate_orders(
                rng,
                day,
                self.expected_orders(day),
                self.expected_orders(day, False),
                self.catalog,
                consequences=self.draws_order_chain,
            )
        )
        return rows if wanted is None else [r for r in rows if r.detail_type in wanted]

    def _cohort_parts(self, cohort: int, first: int, keep: bool) -> dict[int, list[Rows]]:
        """The cohort's rows split by the day they fall on (only days from ``first`` on are
        needed). With ``keep``, cohorts are remembered from call to call: a live publisher
        asks for the last minutes again and again, and each of its days needs the
        ``MAX_CHAIN_DAYS`` cohorts before it."""
        kept = self._cohorts.get(cohort)
        if kept and kept[0] <= first:
            return kept[1]
        parts: dict[int, list[Rows]] = defaultdict(list)
        for rows in self.simulate_day(cohort):
            for day, part in rows.split_by_day().items():
                if day >= first:
                    parts[day].append(part)
        if keep:
            self._cohorts[cohort] = (first, parts)
        return parts

    def _days(self, first: int, last: int, keep: bool = False) -> Iterator[tuple[int, list[Rows]]]:
        """(epoch day, its rows) for ``first..last``; each cohort is drawn once and split by day."""
        if keep:
            self._cohorts = {c: v for c, v in self._cohorts.items() if first - MAX_CHAIN_DAYS <= c <= last}
        pending: dict[int, list[Rows]] = defaultdict(list)
        for cohort in range(max(self.first_day, first - MAX_CHAIN_DAYS), last + 1):
            for day, parts in self._cohort_parts(cohort, first, keep).items():
                if day <= last:
                    pending[day].extend(parts)
            if cohort >= first:
                yield cohort, pending.pop(cohort, [])

    # --- the API ----------------------------------------------------------------------------

    def day_batches(self) -> Iterator[DayBatch]:
        """One batch per simulated day, oldest first, each in time order."""
        for day, rows in self._days(self.first_day, self.last_day):
            yield DayBatch(from_epoch_day(day), merge_events(rows, self.config.account, self.config.region))

    def events_between(self, start: datetime, end: datetime) -> list[dict]:
        """The events with ``start <= time < end``, in time order (past ``config.end`` too)."""
        low, high = _seconds(start), _seconds(end)
        if high <= low:
            return []
        first, last = low // DAY, (high - 1) // DAY
        rows = [r for _, day in self._days(first, last, keep=last - first < KEPT_DAYS) for r in day]
        return merge_events([r.between(low, high) for r in rows], self.config.account, self.config.region)

    def consumer_is_down(self, consumer: str, at: datetime) -> bool:
        moment = at if at.tzinfo else at.replace(tzinfo=UTC)
        return self.outages.is_down(consumer, moment.timestamp())

    def ground_truth(self) -> dict:
        window = (self.first_day * DAY, (self.last_day + 1) * DAY)
        return {
            "seed": self.config.seed,
            "days": self.config.days,
            "events_per_day": self.config.events_per_day,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "campaigns": [c.to_truth() for c in self.campaigns if c.start <= self.end],
            "capacities": {
                p.line_id: {"product_line": p.name, "base_capacity_units": int(units)}
                for p, units in zip(PRODUCT_LINES, self.capacities, strict=True)
            },
            "outages": {
                consumer: [[_iso(a), _iso(b)] for a, b in self.outages.between(consumer, *window)]
                for consumer in PLANS
            },
            "holidays": [h.to_truth() for h in holidays_between(self.start, self.end)],
            "regions": {r.name: r.share for r in REGIONS},
            "product_lines": {p.name: p.share for p in PRODUCT_LINES},
            "orders_per_day": round(self.orders_per_day * self.mean_demand, 1),
        }


def write_ground_truth(enterprise: Enterprise, lake_dir: Path) -> Path:
    """Write ``ground_truth.json`` beside the lake (``lake_dir``'s parent), atomically."""
    path = Path(lake_dir).parent / "ground_truth.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(enterprise.ground_truth(), indent=2) + "\n")
    os.replace(temporary, path)
    return path
