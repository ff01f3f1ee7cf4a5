"""Marketing campaigns with planted effects on their region's orders.

Each campaign runs 1-4 weeks in one sales region and multiplies that region's expected
orders by ``1 + lift`` from ``start + lag_days`` to ``end + lag_days``; the other regions
are untouched (they are the controls). Campaigns follow one another across regions (about
one start every two weeks), so that at any time most regions are untouched, and one
region's campaigns are three weeks or more apart after the effect ends, so their effects
never touch — except for the 1-2 overlapping pairs planted per year on purpose, whose
effects multiply. Every year also has a campaign that does nothing (lift 0). A window
shorter than a year gets one idle campaign and, from a quarter on, one overlapping pair.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

import numpy as np

from app.demo.rows import DAY, HOUR, MINUTE, Rows, make_rows
from app.demo.world import REGION_NAMES, from_epoch_day

CHANNELS = ("search", "social", "email", "tv", "display")
CHANNEL_SHARES = (0.30, 0.28, 0.14, 0.10, 0.18)
BUDGET_RANGE = {  # at the default scale (12,000 events, about 2,000 orders a day)
    "search": (30_000, 120_000),
    "social": (20_000, 90_000),
    "email": (5_000, 20_000),
    "tv": (150_000, 400_000),
    "display": (15_000, 60_000),
}
COST_PER_MILLE = {"search": 12.0, "social": 8.0, "email": 1.5, "tv": 30.0, "display": 4.0}
CLICK_RATE = {"search": 0.035, "social": 0.012, "email": 0.025, "tv": 0.0005, "display": 0.004}
THEMES = (
    "New Year",
    "Winter",
    "Spring",
    "Spring",
    "Summer",
    "Summer",
    "Summer",
    "Back to School",
    "Autumn",
    "Autumn",
    "Holiday",
    "Holiday",
)

FIRST_START_AFTER = (14, 30)  # days after the simulation starts: a pre-period to compare with
START_SPACING_DAYS = (8, 23)  # between one campaign's start and the next (any region): ~24 a year
REGION_GAP_DAYS = (21, 50)  # between a campaign's effect end and the next start in its region
DURATION_DAYS = (7, 28)
LIFT_RANGE = (0.08, 0.30)
PARTNER_LIFT_RANGE = (0.08, 0.20)
MAX_LAG_DAYS = 7


@dataclass(frozen=True)
class Campaign:
    campaign_id: str
    name: str
    channel: str
    region: str
    start: date
    end: date
    budget: float
    lift: float
    lag_days: int
    overlaps: tuple[str, ...]
    spend: tuple[float, ...]  # per day, start to end
    impressions: tuple[int, ...]
    clicks: tuple[int, ...]

    @property
    def start_day(self) -> int:
        return (self.start - date(1970, 1, 1)).days

    @property
    def end_day(self) -> int:
        return (self.end - date(1970, 1, 1)).days

    def acts_on(self, day: int) -> bool:
        """Whether the campaign lifts its region's orders on this epoch day."""
        return self.start_day + self.lag_days <= day <= self.end_day + self.lag_days

    def to_truth(self) -> dict:
        return {
            "campaign_id": self.campaign_id,
            "name": self.name,
            "region": self.region,
            "channel": self.channel,
            "start_date": self.start.isoformat(),
            "end_date": self.end.isoformat(),
            "budget": self.budget,
            "lift": self.lift,
            "lag_days": self.lag_days,
            "overlaps": list(self.overlaps),
        }


@dataclass(frozen=True)
class _Draft:
    region: int
    start_day: int
    duration: int
    lag: int
    lift: float

    @property
    def end_day(self) -> int:
        return self.start_day + self.duration - 1


def _lift(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return round(float(rng.uniform(*bounds)), 3)


def _drafts(rng: np.random.Generator, first: int, last: int) -> list[_Draft]:
    """Campaigns one after the other, every ``START_SPACING_DAYS``, each in a region that is
    free by then: so at any time most regions are untouched controls."""
    drafts: list[_Draft] = []
    free_from = np.full(len(REGION_NAMES), first)
    start = first + int(rng.integers(*FIRST_START_AFTER))
    while start <= last:
        start = max(start, int(free_from.min()))
        region = int(rng.choice(np.flatnonzero(free_from <= start)))
        draft = _Draft(
            region,
            start,
            int(rng.integers(DURATION_DAYS[0], DURATION_DAYS[1] + 1)),
            int(rng.integers(0, MAX_LAG_DAYS + 1)),
            _lift(rng, LIFT_RANGE),
        )
        drafts.append(draft)
        free_from[region] = draft.end_day + draft.lag + int(rng.integers(*REGION_GAP_DAYS))
        start += int(rng.integers(*START_SPACING_DAYS))
    return [d for d in drafts if d.start_day <= last]


def _partner(rng: np.random.Generator, base: _Draft) -> _Draft:
    """A second campaign in the base's region that starts while the base runs and ends
    (effect included) soon after it, before the region's next campaign."""
    start = base.start_day + int(rng.integers(2, max(3, base.duration - 4)))
    duration = min(int(rng.integers(7, 15)), base.end_day + 3 - start + 1)
    lag = int(rng.integers(0, min(MAX_LAG_DAYS, base.lag + 3) + 1))
    return _Draft(base.region, start, duration, lag, _lift(rng, PARTNER_LIFT_RANGE))


def _pairs_for(rng: np.random.Generator, block_days: int) -> int:
    """Overlapping pairs to plant in a block: 1-2 a year; one in a quarter; none in less."""
    if block_days >= 180:
        return int(rng.integers(1, 3))
    return 1 if block_days >= 75 else 0


def _plant_block(rng: np.random.Generator, drafts: list[_Draft], block_days: int) -> list[_Draft]:
    """One campaign of the block does nothing; some others get an overlapping partner."""
    if not drafts:
        return []
    drafts = list(drafts)
    idle = int(rng.integers(len(drafts)))
    drafts[idle] = replace(drafts[idle], lift=0.0)
    others = [i for i in range(len(drafts)) if i != idle]
    pairs = min(len(others), _pairs_for(rng, block_days))
    bases = rng.choice(others, size=pairs, replace=False) if pairs else np.zeros(0, dtype=int)
    return drafts + [_partner(rng, drafts[int(i)]) for i in sorted(bases)]


def _campaign_ids(drafts: list[_Draft]) -> list[str]:
    counters: dict[int, int] = {}
    ids = []
    for draft in drafts:
        year = from_epoch_day(draft.start_day).year
        counters[year] = counters.get(year, 0) + 1
        ids.append(f"CMP-{year}-{counters[year]:03d}")
    return ids


def _overlaps(drafts: list[_Draft], ids: list[str]) -> list[tuple[str, ...]]:
    return [
        tuple(
            ids[j]
            for j, other in enumerate(drafts)
            if j != i
            and other.region == d.region
            and other.start_day <= d.end_day
            and d.start_day <= other.end_day
        )
        for i, d in enumerate(drafts)
    ]


def _finish(
    rng: np.random.Generator, draft: _Draft, campaign_id: str, overlaps: tuple[str, ...], budget_scale: float
) -> Campaign:
    channel = CHANNELS[int(rng.choice(len(CHANNELS), p=CHANNEL_SHARES))]
    budget = round(float(rng.uniform(*BUDGET_RANGE[channel])) * budget_scale, -2)
    weights = rng.lognormal(0.0, 0.25, draft.duration)
    spend = np.round(budget * rng.uniform(0.92, 1.0) * weights / weights.sum(), 2)
    impressions = np.round(spend / COST_PER_MILLE[channel] * 1000 * rng.lognormal(0, 0.1, draft.duration))
    clicks = rng.binomial(impressions.astype(np.int64), CLICK_RATE[channel])
    start = from_epoch_day(draft.start_day)
    region = REGION_NAMES[draft.region]
    return Campaign(
        campaign_id,
        f"{THEMES[start.month - 1]} {channel} push, {region}",
        channel,
        region,
        start,
        from_epoch_day(draft.end_day),
        budget,
        draft.lift,
        draft.lag,
        overlaps,
        tuple(spend.tolist()),
        tuple(int(x) for x in impressions),
        tuple(int(x) for x in clicks),
    )


def schedule_campaigns(
    rng: np.random.Generator, first: int, last: int, blocks: list[tuple[int, int]], budget_scale: float = 1.0
) -> list[Campaign]:
    """Campaigns starting between epoch days ``first`` and ``last``; each block
    ``[a, b)`` of days gets one idle campaign and (a year's block) 1-2 overlapping pairs.
    ``BUDGET_RANGE`` fits the default scale; ``budget_scale`` multiplies the budgets (and so
    the impressions and clicks) for a larger or smaller enterprise."""
    drafts = _drafts(rng, first, last)
    planted = []
    for a, b in blocks:
        block = sorted((d for d in drafts if a <= d.start_day < b), key=lambda d: (d.start_day, d.region))
        planted.extend(_plant_block(rng, block, b - a))
    planted.sort(key=lambda d: (d.start_day, d.region))
    ids = _campaign_ids(planted)
    return [
        _finish(rng, d, i, o, budget_scale)
        for d, i, o in zip(planted, ids, _overlaps(planted, ids), strict=True)
    ]


def lift_factors(campaigns: list[Campaign], day: int) -> np.ndarray:
    """Per region: the product of (1 + lift) of the campaigns acting on it that day."""
    factors = np.ones(len(REGION_NAMES))
    for campaign in campaigns:
        if campaign.acts_on(day):
            factors[REGION_NAMES.index(campaign.region)] *= 1 + campaign.lift
    return factors


def _column(campaigns: list[Campaign], value) -> np.ndarray:
    values = [value(c) for c in campaigns]
    return np.array(values, dtype=object if values and isinstance(values[0], str) else None)


def _described(campaigns: list[Campaign]) -> dict[str, np.ndarray]:
    return {
        "campaign_id": _column(campaigns, lambda c: c.campaign_id),
        "name": _column(campaigns, lambda c: c.name),
        "channel": _column(campaigns, lambda c: c.channel),
        "region": _column(campaigns, lambda c: c.region),
        "budget": _column(campaigns, lambda c: c.budget),
        "start_date": _column(campaigns, lambda c: c.start.isoformat()),
        "end_date": _column(campaigns, lambda c: c.end.isoformat()),
    }


def campaign_rows(rng: np.random.Generator, campaigns: list[Campaign], day: int) -> list[Rows]:
    """The day's marketing events: launches in the morning, each running campaign's spend
    late in the evening, and the ends (with totals) after that."""
    running = [c for c in campaigns if c.start_day <= day <= c.end_day]
    launched = [c for c in running if c.start_day == day]
    ended = [c for c in running if c.end_day == day]
    rows = []
    if launched:
        rows.append(
            make_rows(
                rng,
                "CampaignLaunched",
                day * DAY + 8 * HOUR + rng.integers(0, HOUR, len(launched)),
                _described(launched),
            )
        )
    if running:
        k = [day - c.start_day for c in running]
        rows.append(
            make_rows(
                rng,
                "CampaignSpend",
                day * DAY + 23 * HOUR + rng.integers(0, 30 * MINUTE, len(running)),
                {key: values for key, values in _described(running).items() if key != "budget"}
                | {
                    "spend": np.array([c.spend[i] for c, i in zip(running, k, strict=True)]),
                    "impressions": np.array(
                        [c.impressions[i] for c, i in zip(running, k, strict=True)], dtype=np.int64
                    ),
                    "clicks": np.array(
                        [c.clicks[i] for c, i in zip(running, k, strict=True)], dtype=np.int64
                    ),
                },
            )
        )
    if ended:
        rows.append(
            make_rows(
                rng,
                "CampaignEnded",
                day * DAY + 23 * HOUR + 45 * MINUTE + rng.integers(0, 600, len(ended)),
                {
                    **_described(ended),
                    "spend": np.round(np.array([sum(c.spend) for c in ended]), 2),
                    "impressions": np.array([sum(c.impressions) for c in ended], dtype=np.int64),
                    "clicks": np.array([sum(c.clicks) for c in ended], dtype=np.int64),
                },
            )
        )
    return rows
