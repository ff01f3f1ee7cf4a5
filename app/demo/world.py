"""The enterprise's fixed facts: sales regions, product lines, the calendar of demand.

Expected orders of a region on a day are

    base · region share · weekday · season(day of year) · trend · holiday · Π(1 + campaign lift)

and the simulation draws a Poisson count around that, so the noise is what it would be for
independent customers and nothing more.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import numpy as np

EPOCH = date(1970, 1, 1)


def epoch_day(day: date) -> int:
    return (day - EPOCH).days


def from_epoch_day(number: int) -> date:
    return EPOCH + timedelta(days=int(number))


@dataclass(frozen=True)
class Region:
    name: str
    share: float  # of all orders
    warehouse: int  # index into WAREHOUSES
    promise_days: int  # delivery promised this many days after the order
    distance: float  # scales carriers' transit times


REGIONS: tuple[Region, ...] = (
    Region("east", 0.30, 0, 3, 1.0),
    Region("west", 0.24, 2, 3, 1.0),
    Region("central", 0.20, 1, 3, 1.1),
    Region("south", 0.16, 1, 4, 1.3),
    Region("north", 0.10, 0, 4, 1.5),
)
REGION_NAMES = tuple(r.name for r in REGIONS)
REGION_SHARES = np.array([r.share for r in REGIONS])
WAREHOUSES = ("WH-EAST", "WH-CENTRAL", "WH-WEST")


@dataclass(frozen=True)
class ProductLine:
    name: str
    code: str
    share: float  # of orders
    price: float  # typical unit price
    quantity_p: float  # quantity ~ Geometric(p), capped at MAX_QUANTITY
    capacity_margin: float  # planned capacity / mean daily demand in units (below the Q4 peak)
    scrap_rate: float

    @property
    def line_id(self) -> str:
        return f"LINE-{self.code}"


MAX_QUANTITY = 8
PRODUCT_LINES: tuple[ProductLine, ...] = (
    ProductLine("chairs", "CHR", 0.30, 140.0, 0.60, 1.16, 0.025),
    ProductLine("desks", "DSK", 0.20, 380.0, 0.85, 1.10, 0.020),
    ProductLine("lamps", "LMP", 0.22, 55.0, 0.55, 1.20, 0.035),
    ProductLine("shelves", "SHF", 0.16, 160.0, 0.75, 1.06, 0.030),
    ProductLine("sofas", "SFA", 0.12, 950.0, 0.95, 1.12, 0.015),
)
LINE_SHARES = np.array([p.share for p in PRODUCT_LINES])


def mean_quantity(line: ProductLine) -> float:
    """E[min(Geometric(p), MAX_QUANTITY)] = Σ_{k<MAX} (1-p)^k."""
    return sum((1 - line.quantity_p) ** k for k in range(MAX_QUANTITY))


# Monday..Sunday: people shop for furniture at the weekend.
WEEKDAY_FACTORS = np.array([0.93, 0.90, 0.92, 0.95, 1.00, 1.13, 1.17])
WEEKDAY_FACTORS = WEEKDAY_FACTORS / WEEKDAY_FACTORS.mean()
SEASON_AMPLITUDE = 0.14  # yearly cycle, peak in mid-December, trough in mid-June
SEASON_PEAK_DAY_OF_YEAR = 345
TREND_PER_YEAR = 0.08  # gentle growth
# UTC hour weights of order times (a US shop: evenings are after midnight UTC).
HOUR_WEIGHTS = np.array(
    [
        6.0,
        5.5,
        4.5,
        3.0,
        1.8,
        1.0,
        0.6,
        0.5,
        0.6,
        0.9,
        1.4,
        2.2,
        3.0,
        3.8,
        4.4,
        4.8,
        5.0,
        5.0,
        5.1,
        5.2,
        5.4,
        5.6,
        5.9,
        6.1,
    ]
)
HOUR_WEIGHTS = HOUR_WEIGHTS / HOUR_WEIGHTS.sum()


@dataclass(frozen=True)
class Holiday:
    day: date
    name: str
    factor: float

    def to_truth(self) -> dict:
        return {"date": self.day.isoformat(), "name": self.name, "factor": self.factor}


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th ``weekday`` (Mon=0) of the month; n=-1 is the last one."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


@lru_cache(maxsize=256)  # years
def holidays_of_year(year: int) -> tuple[Holiday, ...]:
    thanksgiving = _nth_weekday(year, 11, 3, 4)
    return (
        Holiday(date(year, 1, 1), "New Year's Day", 0.55),
        Holiday(_nth_weekday(year, 2, 0, 3), "Presidents' Day sale", 1.35),
        Holiday(_nth_weekday(year, 5, 0, -1), "Memorial Day sale", 1.45),
        Holiday(date(year, 7, 4), "Independence Day", 0.70),
        Holiday(_nth_weekday(year, 9, 0, 1), "Labor Day sale", 1.35),
        Holiday(thanksgiving, "Thanksgiving", 0.65),
        Holiday(thanksgiving + timedelta(days=1), "Black Friday", 2.10),
        Holiday(thanksgiving + timedelta(days=4), "Cyber Monday", 1.80),
        Holiday(date(year, 12, 24), "Christmas Eve", 0.70),
        Holiday(date(year, 12, 25), "Christmas Day", 0.45),
        Holiday(date(year, 12, 26), "Boxing Day sale", 1.30),
        Holiday(date(year, 12, 31), "New Year's Eve", 0.80),
    )


def holidays_between(first: date, last: date) -> list[Holiday]:
    found = [h for year in range(first.year, last.year + 1) for h in holidays_of_year(year)]
    return [h for h in found if first <= h.day <= last]


@dataclass(frozen=True)
class Calendar:
    """Demand factors shared by every region: weekday, season, trend, holidays."""

    start_day: int  # epoch day the trend counts from

    def factor(self, day: int) -> float:
        when = from_epoch_day(day)
        season = 1 + SEASON_AMPLITUDE * math.cos(
            2 * math.pi * (when.timetuple().tm_yday - SEASON_PEAK_DAY_OF_YEAR) / 365.25
        )
        trend = 1 + TREND_PER_YEAR * (day - self.start_day) / 365
        return float(WEEKDAY_FACTORS[when.weekday()] * season * trend * self.holiday_factor(when))

    @staticmethod
    def holiday_factor(when: date) -> float:
        for holiday in holidays_of_year(when.year):
            if holiday.day == when:
                return holiday.factor
        return 1.0


@dataclass(frozen=True)
class Catalog:
    """SKUs of every product line: names, unit prices and popularity."""

    skus: np.ndarray  # object: sku names, line-major (line * SKUS_PER_LINE + i)
    prices: np.ndarray  # float unit prices, same order
    popularity_cdf: np.ndarray  # cumulative popularity of the i-th SKU within a line


SKUS_PER_LINE = 12


def build_catalog(rng: np.random.Generator) -> Catalog:
    names: list[str] = []
    prices: list[float] = []
    for line in PRODUCT_LINES:
        factors = rng.lognormal(0.0, 0.3, SKUS_PER_LINE)
        prices.extend(np.floor(line.price * factors) + 0.99)
        names.extend(f"{line.code}-{i:03d}" for i in range(1, SKUS_PER_LINE + 1))
    popularity = 1.0 / np.arange(1, SKUS_PER_LINE + 1) ** 0.8  # a few best sellers
    return Catalog(np.array(names, dtype=object), np.array(prices), np.cumsum(popularity / popularity.sum()))
