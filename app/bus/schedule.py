"""EventBridge schedule expressions: parse ``rate(...)`` / ``cron(...)`` and compute fire times.

Pure: no clock, no I/O. Every function takes the instants it needs; all are UTC.

Sources (the reference, https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html
and eb-rate-expressions.html; localstack's AWS-validated ``test_events_schedule.py``):

* ``rate(value unit)``: a positive whole number and ``minute|minutes|hour|hours|day|days``,
  singular for 1 and plural above; nothing else (no spaces inside the parentheses, no upper
  case, no seconds or years). "A rate expression starts when you create the scheduled event
  rule": it fires at ``anchor + k * interval`` for k = 1, 2, …
* ``cron(minutes hours day-of-month month day-of-week year)``, in UTC, Quartz's syntax as the
  reference describes it: ``,`` lists, ``-`` ranges, ``*`` all, ``/`` increments (not in
  day-of-week), ``?`` in exactly one of day-of-month and day-of-week, ``L`` and ``W`` in
  day-of-month, ``L`` and ``#`` in day-of-week, ``JAN``-``DEC`` and ``SUN``-``SAT``
  (day-of-week 1 is Sunday), years 1970-2199.

Every invalid expression is EventBridge's one message: ``Parameter ScheduleExpression is not
valid.`` (:data:`INVALID`).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

INVALID = "Parameter ScheduleExpression is not valid."
MAX_LENGTH = 256  # the API reference's length constraint on ScheduleExpression
SCHEDULED_SOURCE, SCHEDULED_DETAIL_TYPE = "aws.events", "Scheduled Event"

RATE = re.compile(r"^rate\(([0-9]+) (minute|minutes|hour|hours|day|days)\)\Z")
CRON = re.compile(r"^cron\(([^ ()]+(?: [^ ()]+)*)\)\Z")
UNITS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
MAX_RATE_VALUE = 2**31 - 1  # a Java int, as EventBridge's service reads it (our bound)
MONTH_NAMES = {"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6}
MONTH_NAMES |= {"JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12}
DAY_NAMES = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
FIRST_YEAR, LAST_YEAR = 1970, 2199


class ScheduleError(ValueError):
    """An expression EventBridge refuses; its message is always :data:`INVALID`."""

    def __init__(self) -> None:
        super().__init__(INVALID)


@dataclass(frozen=True)
class Rate:
    interval: timedelta

    def next_after(self, after: datetime, anchor: datetime) -> datetime | None:
        """The first instant ``anchor + k * interval`` (k >= 1) later than ``after``."""
        k = max(1, (after - anchor) // self.interval + 1)
        return _shifted(anchor, self.interval, k)

    def latest_due(self, after: datetime, now: datetime, anchor: datetime) -> datetime | None:
        """The last instant (k >= 1) in ``(after, now]``, or None."""
        k = (now - anchor) // self.interval
        latest = _shifted(anchor, self.interval, k) if k >= 1 else None
        return latest if latest is not None and latest > after else None


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: DaySpec | None  # day-of-month (None: "?")
    months: frozenset[int]
    weekdays: DaySpec | None  # day-of-week, 1 = Sunday (None: "?")
    years: frozenset[int]

    def next_after(self, after: datetime, anchor: datetime | None = None) -> datetime | None:
        """The first firing strictly later than ``after`` (None: there is none before 2200)."""
        start = after.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        day, first = start.date(), (start.hour, start.minute)
        while day.year <= LAST_YEAR:
            if day.year not in self.years:
                day, first = date(day.year + 1, 1, 1), (0, 0)
                continue
            if day.month not in self.months:
                day, first = _next_month(day), (0, 0)
                continue
            if self._day_matches(day):
                at = self._first_time(first)
                if at is not None:
                    return datetime.combine(day, at, UTC)
            day, first = day + timedelta(days=1), (0, 0)
        return None

    def latest_due(self, after: datetime, now: datetime, anchor: datetime | None = None) -> datetime | None:
        """The last firing in ``(after, now]``, looked for in growing windows back from now
        (a long outage of an every-minute schedule does not walk every missed minute)."""
        for window in (timedelta(days=1), timedelta(days=32), timedelta(days=400), None):
            since = after if window is None else max(after, now - window)
            latest, at = None, self.next_after(since)
            while at is not None and at <= now:
                latest, at = at, self.next_after(at)
            if latest is not None or since == after:
                return latest
        return None

    def _first_time(self, first: tuple[int, int]) -> time | None:
        for hour in sorted(h for h in self.hours if h >= first[0]):
            floor = first[1] if hour == first[0] else 0
            minute = min((m for m in self.minutes if m >= floor), default=None)
            if minute is not None:
                return time(hour, minute)
        return None

    def _day_matches(self, day: date) -> bool:
        spec = self.days or self.weekdays
        return spec is not None and spec.matches(day)


@dataclass(frozen=True)
class DaySpec:
    """Day-of-month or day-of-week: a set of values, or one of L, LW, nW, nL, n#k."""

    field: str  # "dom" or "dow"
    values: frozenset[int] = frozenset()
    special: str = ""  # "L", "LW", "W", "nL", "#"
    number: int = 0  # nW's day, nL's weekday, n#k's weekday
    nth: int = 0  # n#k's k

    def matches(self, day: date) -> bool:
        last = calendar.monthrange(day.year, day.month)[1]
        weekday = (day.weekday() + 1) % 7 + 1  # Python's Monday=0 → EventBridge's Sunday=1
        if self.special == "":
            return (day.day if self.field == "dom" else weekday) in self.values
        if self.special == "L":
            return day.day == last if self.field == "dom" else weekday == 7
        if self.special == "LW":
            return day == _nearest_weekday(day.replace(day=last))
        if self.special == "W":
            # nW in a month shorter than n: no day, as a plain "31" skips short months
            return self.number <= last and day == _nearest_weekday(day.replace(day=self.number))
        if self.special == "nL":
            return weekday == self.number and day.day + 7 > last
        return weekday == self.number and (day.day - 1) // 7 + 1 == self.nth  # "#"


Schedule = Rate | Cron


def parse_schedule(text: Any) -> Schedule:
    """A ScheduleExpression, or ScheduleError (the one message EventBridge gives)."""
    if not isinstance(text, str):
        raise ScheduleError()
    rate = RATE.match(text)
    if rate:
        return _rate(int(rate.group(1)), rate.group(2))
    cron = CRON.match(text)
    if cron:
        return _cron(cron.group(1).split(" "))
    raise ScheduleError()


def _rate(value: int, unit: str) -> Rate:
    if not 1 <= value <= MAX_RATE_VALUE or (value == 1) != (not unit.endswith("s")):
        raise ScheduleError()
    return Rate(UNITS[unit.rstrip("s")] * value)


def _cron(fields: list[str]) -> Cron:
    if len(fields) != 6:
        raise ScheduleError()
    minute, hour, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):  # exactly one of them is "?"
        raise ScheduleError()
    return Cron(
        minutes=_values(minute, 0, 59),
        hours=_values(hour, 0, 23),
        days=_day_of_month(dom),
        months=_values(month, 1, 12, MONTH_NAMES),
        weekdays=_day_of_week(dow),
        years=_values(year, FIRST_YEAR, LAST_YEAR),
    )


def _day_of_month(text: str) -> DaySpec | None:
    if text == "?":
        return None
    if text in ("L", "LW"):
        return DaySpec("dom", special=text)
    if text.endswith("W"):
        return DaySpec("dom", special="W", number=_number(text[:-1], 1, 31))
    return DaySpec("dom", _values(text, 1, 31))


def _day_of_week(text: str) -> DaySpec | None:
    if text == "?":
        return None
    if text == "L":
        return DaySpec("dow", special="L")
    if text.endswith("L"):
        return DaySpec("dow", special="nL", number=_number(text[:-1], 1, 7, DAY_NAMES))
    if "#" in text:
        weekday, _, nth = text.partition("#")
        return DaySpec("dow", special="#", number=_number(weekday, 1, 7, DAY_NAMES), nth=_number(nth, 1, 5))
    return DaySpec("dow", _values(text, 1, 7, DAY_NAMES, increments=False))


def _values(
    text: str, low: int, high: int, names: dict[str, int] | None = None, increments: bool = True
) -> frozenset[int]:
    """A field of ``,``-separated items: ``*``, ``a``, ``a-b``, and with ``/n`` after ``*``, ``a``
    or ``a-b`` (``a/n``: from a to the field's end)."""
    out: set[int] = set()
    for item in text.split(","):
        body, slash, step_text = item.partition("/")
        if slash and not increments:
            raise ScheduleError()
        step = _number(step_text, 1, high - low + 1) if slash else 1
        if body == "*":
            first, last = low, high
        elif "-" in body:
            start, _, end = body.partition("-")
            first, last = _number(start, low, high, names), _number(end, low, high, names)
            if first > last:  # wrap-around ranges: the reference is silent; refused here
                raise ScheduleError()
        else:
            first = _number(body, low, high, names)
            last = high if slash else first
        out.update(range(first, last + 1, step))
    return frozenset(out)


def _number(text: str, low: int, high: int, names: dict[str, int] | None = None) -> int:
    if names and text in names:
        return names[text]
    if not text.isascii() or not text.isdigit() or len(text) > 4 or not low <= int(text) <= high:
        raise ScheduleError()
    return int(text)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _nearest_weekday(day: date) -> date:
    """Quartz's ``nW``: the weekday nearest to ``day`` within its month."""
    if day.weekday() == 5:  # Saturday: the Friday before, or the Monday after on the 1st
        return day + timedelta(days=2) if day.day == 1 else day - timedelta(days=1)
    if day.weekday() == 6:  # Sunday: the Monday after, or the Friday before on the month's last day
        last = calendar.monthrange(day.year, day.month)[1]
        return day - timedelta(days=2) if day.day == last else day + timedelta(days=1)
    return day


def _shifted(anchor: datetime, interval: timedelta, k: int) -> datetime | None:
    try:
        return anchor + interval * k
    except OverflowError:  # past year 9999: never
        return None


# -- the Scheduled Event ------------------------------------------------------------------
def scheduled_event(event_id: str, rule_arn: str, account: str, region: str, at: datetime) -> dict:
    """EventBridge's Scheduled Event for one firing (the user guide's example; localstack's
    AWS snapshot ``tests_schedule_rate_target_sqs``): ``time`` is the scheduled instant."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": SCHEDULED_DETAIL_TYPE,
        "source": SCHEDULED_SOURCE,
        "account": account,
        "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


def scheduled_pattern(rule_arn: str) -> dict:
    """The pattern that routes a rule's own Scheduled Events to it (and to no other rule:
    PutEvents refuses ``aws.`` sources, and the ARN names one rule)."""
    return {"source": [SCHEDULED_SOURCE], "detail-type": [SCHEDULED_DETAIL_TYPE], "resources": [rule_arn]}


def rule_patterns(rule: Any, rule_arn: str) -> list[Any]:
    """What a rule is indexed by: its event pattern (a scheduled rule may have none), and
    for a scheduled rule the pattern of its own Scheduled Events."""
    patterns: list[Any] = [rule.pattern_source] if rule.matches_events else []
    return patterns + ([scheduled_pattern(rule_arn)] if rule.schedule else [])


def fired_at(event: dict) -> tuple[str, datetime] | None:
    """(rule ARN, scheduled instant) of a Scheduled Event; None for any other event."""
    if event.get("source") != SCHEDULED_SOURCE or event.get("detail-type") != SCHEDULED_DETAIL_TYPE:
        return None
    resources = event.get("resources") or [None]
    try:
        return str(resources[0]), datetime.strptime(str(event.get("time")), "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=UTC
        )
    except ValueError:
        return None
