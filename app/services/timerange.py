"""The time range every page shows, and how it lives in the URL.

A range is either a preset relative to now (``?range=7d``) or whole days picked by the user
(``?from=2026-10-01&to=2026-10-31``, both days included, in the settings' time zone), so a
link reproduces the view. Queries get the range as UTC instants plus the ``dt`` partition
bounds that make every engine prune by date.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

PRESETS: dict[str, tuple[str, timedelta]] = {
    "24h": ("Last 24 hours", timedelta(hours=24)),
    "7d": ("Last 7 days", timedelta(days=7)),
    "30d": ("Last 30 days", timedelta(days=30)),
    "90d": ("Last 90 days", timedelta(days=90)),
    "365d": ("Last 365 days", timedelta(days=365)),
}
CUSTOM = "custom"
DEFAULT_PRESET = "30d"
# A relative range ends at now rounded up to this step: the range (and so every cache key
# built from it) stays the same for a few minutes instead of changing on every rerun.
NOW_STEP = timedelta(minutes=5)
# Days a link may ask for: the years the lake can hold. A date outside them (9999-12-31) is
# a mistake, and the sentence says so instead of a traceback from date arithmetic.
EARLIEST_DAY = date(1970, 1, 1)
LATEST_DAY = date(2199, 12, 31)
DEFAULT_MAX_DAYS = 3660  # the default of the max_range_days setting: about ten years


@dataclass(frozen=True)
class TimeRange:
    start: datetime  # UTC, included
    end: datetime  # UTC, excluded
    preset: str  # a key of PRESETS, or CUSTOM
    label: str

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    @property
    def dt_from(self) -> str:
        """First ``dt`` partition (UTC day) the range touches."""
        return self.start.astimezone(UTC).date().isoformat()

    @property
    def dt_to(self) -> str:
        """Last ``dt`` partition the range touches (``end`` itself is excluded)."""
        return (self.end.astimezone(UTC) - timedelta(microseconds=1)).date().isoformat()

    @property
    def bucket(self) -> str:
        """Time bucket for charts over this range: about 24–400 points per series."""
        if self.duration <= timedelta(days=8):
            return "hour"
        if self.duration <= timedelta(days=120):
            return "day"
        return "week"

    def params(self) -> dict[str, Any]:
        """Query parameters: ``dt`` partition bounds and the exact instants."""
        return {"dt_from": self.dt_from, "dt_to": self.dt_to, "t_from": self.start, "t_to": self.end}

    def previous(self) -> TimeRange:
        """The period of equal length just before this one (for period-over-period deltas)."""
        return TimeRange(
            self.start - self.duration, self.start, CUSTOM, f"previous {self.duration.days or 1}-day period"
        )

    def whole_days(self) -> TimeRange | None:
        """The UTC days wholly inside the range (None if there is none): day-grained
        analyses leave out a day under way and a day the range starts in the middle of."""
        start = ceil_to(self.start, timedelta(days=1))
        end = datetime.fromtimestamp(self.end.timestamp() // 86_400 * 86_400, UTC)
        if end <= start:
            return None
        return TimeRange(start, end, CUSTOM, f"{(end - start).days} whole days")

    def widened(self, start: datetime) -> TimeRange:
        """The same end, starting earlier (history a forecast needs)."""
        return TimeRange(min(start, self.start), self.end, CUSTOM, self.label)


def ceil_to(moment: datetime, step: timedelta) -> datetime:
    epoch = moment.astimezone(UTC).timestamp()
    seconds = step.total_seconds()
    return datetime.fromtimestamp(-(-epoch // seconds) * seconds, UTC)


def preset_range(key: str, now: datetime) -> TimeRange:
    label, length = PRESETS[key]
    end = ceil_to(now, NOW_STEP)
    return TimeRange(end - length, end, key, label)


def custom_range(first: date, last: date, timezone: str = "UTC") -> TimeRange:
    """Whole days ``first``..``last`` (both included) in ``timezone``."""
    if last < first:
        first, last = last, first
    zone = ZoneInfo(timezone)
    start = datetime.combine(first, time(), zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(), zone).astimezone(UTC)
    return TimeRange(start, end, CUSTOM, f"{first:%d %b %Y} – {last:%d %b %Y}")


def so_far(rng: TimeRange, now: datetime) -> TimeRange:
    """``rng`` ending at now (rounded up to NOW_STEP, as a preset ends) when it runs past
    it. Days picked up to today would otherwise compare today so far, and the hours of it
    still to come, with a whole previous period: every delta would read as a fall."""
    end = ceil_to(now, NOW_STEP)
    if not rng.start < end < rng.end:
        return rng
    return TimeRange(rng.start, end, rng.preset, f"{rng.label} (so far)")


def _one(value: Any) -> str:
    """A query parameter's value (Streamlit gives the last one for repeated keys)."""
    if isinstance(value, (list, tuple)):
        return str(value[-1]) if value else ""
    return str(value)


def from_query(
    query: Mapping[str, Any], now: datetime, timezone: str = "UTC"
) -> tuple[TimeRange, str | None]:
    """The range a URL asks for, or the default and a sentence saying what was wrong."""
    if "from" in query or "to" in query:
        try:
            first = date.fromisoformat(_one(query.get("from", query.get("to"))))
            last = date.fromisoformat(_one(query.get("to", query.get("from"))))
        except ValueError:
            return preset_range(DEFAULT_PRESET, now), (
                f"The link's from/to dates are not YYYY-MM-DD; showing {PRESETS[DEFAULT_PRESET][0].lower()}."
            )
        outside = [d for d in (first, last) if not EARLIEST_DAY <= d <= LATEST_DAY]
        if outside:
            return preset_range(DEFAULT_PRESET, now), (
                f"The link's date {outside[0].isoformat()} is outside the years "
                f"{EARLIEST_DAY.year}–{LATEST_DAY.year}; showing {PRESETS[DEFAULT_PRESET][0].lower()}."
            )
        return custom_range(first, last, timezone), None
    key = _one(query.get("range", DEFAULT_PRESET))
    if key not in PRESETS:
        return preset_range(DEFAULT_PRESET, now), (
            f"The link asks for an unknown range {key!r} (known: {', '.join(PRESETS)}); "
            f"showing {PRESETS[DEFAULT_PRESET][0].lower()}."
        )
    return preset_range(key, now), None


def clip(rng: TimeRange, max_days: int, timezone: str = "UTC") -> tuple[TimeRange, str | None]:
    """``rng``, or its last ``max_days`` days when it is longer, and a sentence saying so.

    Every page reads the whole range: a 200-year range would keep the server busy for
    minutes. The clipped range keeps the asked end, in whole days of ``timezone``."""
    if rng.duration <= timedelta(days=max_days):
        return rng, None
    _, last = local_days(rng, timezone)
    clipped = custom_range(last - timedelta(days=max_days - 1), last, timezone)
    return clipped, (
        f"The range asked for spans {rng.duration.days:,} days, more than the {max_days:,} a page "
        f"reads; showing its last {max_days:,} days."
    )


def to_query(rng: TimeRange, timezone: str = "UTC") -> dict[str, str]:
    """The URL parameters that reproduce ``rng``."""
    if rng.preset in PRESETS:
        return {"range": rng.preset}
    zone = ZoneInfo(timezone)
    first = rng.start.astimezone(zone).date()
    last = (rng.end.astimezone(zone) - timedelta(microseconds=1)).date()
    return {"from": first.isoformat(), "to": last.isoformat()}


def local_days(rng: TimeRange, timezone: str = "UTC") -> tuple[date, date]:
    """First and last day of the range as the user sees them (for a date picker)."""
    zone = ZoneInfo(timezone)
    return rng.start.astimezone(zone).date(), (rng.end.astimezone(zone) - timedelta(microseconds=1)).date()


def period_seconds(rng: TimeRange) -> int:
    """The metrics period for charts over ``rng``, one of CloudWatch's standard periods."""
    return {"hour": 3600 if rng.duration > timedelta(days=2) else 300, "day": 86_400, "week": 86_400}[
        rng.bucket
    ]
