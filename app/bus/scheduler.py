"""``bus serve``'s scheduler: fires every enabled scheduled rule on time (:mod:`app.bus.schedule`).

Each firing is one Scheduled Event, journaled like an accepted PutEvents entry and delivered
to that rule's targets only. Per bus, ``<bus state>/schedules.json`` keeps each scheduled
rule's timer: its expression, its anchor (when the rule was created, for ``rate``) and
``done_until``, the last instant fired (or passed over while the rule was disabled).

A restart neither loses a due firing silently nor fires one instant twice:

1. a firing is journaled (fsynced) first, then ``done_until`` is saved, then it is delivered;
2. at start, the Scheduled Events the journal still holds undelivered are delivered again
   by the journal's recovery, and move their rule's ``done_until`` up to their instant
   (:meth:`Scheduler.recovered`), so a crash between 1's steps cannot fire them again;
3. instants missed while the server was down (or the loop stalled) are not backfilled,
   (EventBridge keeps no backlog to catch up on): the latest missed instant fires once, late, with its own
   ``time``, and the log names the span passed over.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from app.bus.local import LocalBus
from app.bus.schedule import ScheduleError, fired_at, parse_schedule, scheduled_event

log = logging.getLogger("verticals.bus.scheduler")
FILE_NAME = "schedules.json"


@dataclass
class Timer:
    expression: str
    anchor: str  # ISO instants, UTC
    done_until: str

    def at(self, field: str) -> datetime:
        return datetime.fromisoformat(getattr(self, field))


class BusSchedules:
    """One bus's timers, kept in ``schedules.json`` beside its rules."""

    def __init__(self, bus: LocalBus):
        self.bus = bus
        self.path = Path(bus.state_dir) / FILE_NAME
        raw = json.loads(self.path.read_text()) if self.path.exists() else {}
        self.timers = {name: Timer(**timer) for name, timer in raw.items()}
        self.next_at: dict[str, tuple[tuple[str, str, str], datetime | None]] = {}

    def sync(self, now: datetime) -> None:
        """A timer for each scheduled rule (a new or changed expression starts at ``now``);
        none for the others. A disabled rule's instants pass by unfired."""
        stamp = _iso(now.replace(microsecond=0))
        changed = False
        for name in [n for n in self.timers if not self._scheduled(n)]:
            del self.timers[name]
            changed = True
        for name, rule in self.bus.rules.items():
            timer = self.timers.get(name)
            if rule.schedule and (timer is None or timer.expression != rule.schedule):
                self.timers[name] = Timer(rule.schedule, stamp, stamp)
                changed = True
            elif rule.schedule and rule.state != "ENABLED" and timer is not None:
                timer.done_until = max(timer.done_until, stamp, key=datetime.fromisoformat)
        if changed:
            self.save()

    def due(self, now: datetime) -> list[tuple[str, datetime, datetime]]:
        """(rule, the latest instant due, the first instant due) of each enabled rule."""
        out = []
        for name, timer in self.timers.items():
            rule = self.bus.rules.get(name)
            first = self._next(name, timer) if rule is not None and rule.state == "ENABLED" else None
            if first is None or first > now:
                continue
            latest = parse_schedule(timer.expression).latest_due(
                timer.at("done_until"), now, timer.at("anchor")
            )
            out.append((name, latest or first, first))
        return out

    def _next(self, name: str, timer: Timer) -> datetime | None:
        """The timer's first instant after ``done_until`` (computed again only when the timer
        changes: a cron that fires rarely or never costs one search, not one per tick)."""
        key = (timer.expression, timer.anchor, timer.done_until)
        cached = self.next_at.get(name)
        if cached is None or cached[0] != key:
            try:
                at = parse_schedule(timer.expression).next_after(timer.at("done_until"), timer.at("anchor"))
            except ScheduleError:  # a rules.json edited by hand: never fired
                at = None
            cached = self.next_at[name] = (key, at)
        return cached[1]

    def fired(self, name: str, at: datetime) -> bool:
        """Record ``at`` as fired (True), unless the timer is already past it."""
        timer = self.timers.get(name)
        if timer is None or at <= timer.at("done_until"):
            return False
        timer.done_until = _iso(at)
        return True

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("w") as out:
            json.dump({n: asdict(t) for n, t in self.timers.items()}, out, indent=1)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)

    def _scheduled(self, name: str) -> bool:
        rule = self.bus.rules.get(name)
        return rule is not None and bool(rule.schedule)


class Scheduler:
    """The timers of every bus. Its methods run under the server's lock."""

    def __init__(self, buses: Callable[[], list[LocalBus]], now: Callable[[], datetime]):
        self.buses, self.now = buses, now
        self.schedules: dict[int, BusSchedules] = {}

    def _of(self, bus: LocalBus) -> BusSchedules:
        found = self.schedules.get(id(bus))
        if found is None or found.bus is not bus:
            found = self.schedules[id(bus)] = BusSchedules(bus)
        return found

    def sync(self) -> None:
        """Start the timers of rules just made or changed (PutRule's time is their anchor)."""
        now = self.now()
        for bus in self.buses():
            self._of(bus).sync(now)

    def recovered(self, bus: LocalBus, events: Iterable[dict]) -> None:
        """Scheduled Events the journal re-delivers at start: their instants count as fired."""
        schedules = self._of(bus)
        arns = {bus.rule_arn(name): name for name in schedules.timers}
        changed = False
        for event in events:
            fired = fired_at(event)
            if fired is not None and fired[0] in arns:
                changed = schedules.fired(arns[fired[0]], fired[1]) or changed
        if changed:
            schedules.save()

    def tick(self) -> int:
        """Fire what is due now; the number of firings."""
        now = self.now()
        fired = 0
        for bus in self.buses():
            schedules = self._of(bus)
            schedules.sync(now)
            for name, at, first in schedules.due(now):
                if first < at:
                    log.warning(
                        "rule %s of bus %s missed its firings from %s to %s (the server was down "
                        "or busy): firing only the latest, %s, as EventBridge does not backfill",
                        name,
                        bus.name,
                        _iso(first),
                        _iso(at),
                        _iso(at),
                    )
                fired += self._fire(bus, schedules, name, at, now)
        return fired

    def _fire(self, bus: LocalBus, schedules: BusSchedules, name: str, at: datetime, now: datetime) -> int:
        event = scheduled_event(str(uuid.uuid4()), bus.rule_arn(name), bus.account, bus.region, at)
        if bus.journal is not None:
            try:
                bus.journal.accept([event], now.timestamp())
            except OSError as exc:  # not kept: retried at the next tick, not skipped
                log.error("rule %s: the firing of %s could not be journaled: %s", name, _iso(at), exc)
                return 0
        schedules.fired(name, at)
        schedules.save()
        bus.publish([event], ingested_at=now, only_rules={name}, now=now)
        return 1


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()
