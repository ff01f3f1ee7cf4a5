"""When the HTTP consumers of the bus are down: a planted schedule of outage windows.

The CRM webhook fails several times a year (20 minutes to 6 hours each, a few of them in
the last week, so that the ops page has something recent to show); the attribution API
rarely. Windows are half-open ``[start, end)`` in epoch seconds and never overlap.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

import numpy as np

from app.demo.rows import DAY, MINUTE


@dataclass(frozen=True)
class OutagePlan:
    per_year: tuple[float, float]  # how many outages a year (drawn once)
    minutes: tuple[float, float]  # shortest and longest outage
    recent: tuple[int, int]  # how many in the last 7 days of the window ([low, high))


PLANS: dict[str, OutagePlan] = {
    "crm-webhook": OutagePlan((6, 12), (20, 360), (2, 4)),
    "attribution-api": OutagePlan((1, 2), (10, 40), (0, 1)),
}
RECENT_DAYS = 7
FUTURE_DAYS = 365  # the schedule continues past the window for a live publisher


def _windows(
    rng: np.random.Generator, count: int, first: int, last: int, plan: OutagePlan
) -> list[tuple[int, int]]:
    """``count`` windows starting on whole minutes in ``[first, last)``; log-uniform lengths."""
    if count <= 0 or last <= first:
        return []
    starts = first + rng.integers(0, (last - first) // MINUTE, count) * MINUTE
    low, high = (math.log(m) for m in plan.minutes)
    lengths = np.round(np.exp(rng.uniform(low, high, count))) * MINUTE
    return [(int(s), int(s + n)) for s, n in zip(starts, lengths, strict=True)]


def _without_overlaps(windows: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted; a window that would run into the next one ends a minute before it."""
    windows = sorted(set(windows))
    kept = []
    for i, (start, planned_end) in enumerate(windows):
        end = min(planned_end, windows[i + 1][0] - MINUTE) if i + 1 < len(windows) else planned_end
        if end > start:
            kept.append((start, end))
    return kept


def schedule_outages(
    rng: np.random.Generator, plan: OutagePlan, start: int, end: int
) -> list[tuple[int, int]]:
    """Outages of one consumer for a window of epoch seconds ``[start, end)`` and the year after."""
    days = (end - start) / DAY
    recent_from = max(start, end - RECENT_DAYS * DAY)
    recent = int(rng.integers(*plan.recent))
    older = max(1, round(rng.uniform(*plan.per_year) * days / 365) - recent)
    future = round(sum(plan.per_year) / 2 * FUTURE_DAYS / 365)
    return _without_overlaps(
        _windows(rng, older, start, recent_from, plan)
        + _windows(rng, recent, recent_from, end - 6 * 3600, plan)
        + _windows(rng, future, end, end + FUTURE_DAYS * DAY, plan)
    )


@dataclass(frozen=True)
class Outages:
    windows: dict[str, list[tuple[int, int]]]  # consumer -> sorted windows

    def is_down(self, consumer: str, at: float) -> bool:
        windows = self.windows.get(consumer, [])
        i = bisect.bisect_right(windows, (at, math.inf)) - 1
        return i >= 0 and windows[i][0] <= at < windows[i][1]

    def between(self, consumer: str, start: int, end: int) -> list[tuple[int, int]]:
        return [w for w in self.windows.get(consumer, []) if w[0] < end and w[1] > start]
