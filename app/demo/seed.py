"""Seed a local lake: the simulated enterprise publishes its history through the local bus.

Each simulated day goes through :meth:`LocalBus.publish` in virtual time, so rules,
targets, retries, the consumer's outages and the metrics all happen at the events' own
times. The planted truth is written beside the lake as ``ground_truth.json``.

Seeding a fresh lake deletes the lake folder and the local bus's state beside it
(``<lake>/../bus``). Only what is recognisably theirs is deleted, and data only when asked
(:func:`check_replaceable`): ``--lake ~/Documents`` is refused, not emptied.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from time import monotonic

from app import clock
from app.bus.definition import BusDefinition, load_definition
from app.bus.local import LocalBus
from app.demo.enterprise import DemoConfig, Enterprise, write_ground_truth
from app.events import format_time
from app.lake.rollups import ROLLUP_TABLES, refresh_rollups
from app.lake.tables import TABLES

Progress = Callable[[int, int, int], None]  # (days done, days total, events so far)


@dataclass(frozen=True)
class SeedReport:
    days: int
    events: int
    seconds: float


def demo_transport(enterprise: Enterprise, definition: BusDefinition):
    """HTTP consumers answered in-process by the simulation, at the simulated moment."""
    consumer_of_url = {e.url: name for name, e in definition.endpoints.items()}

    def send(url: str, event: dict, at: datetime) -> int:
        consumer = consumer_of_url.get(url, url)
        return 503 if enterprise.consumer_is_down(consumer, at) else 200

    return send


SEEDING = "_seeding"  # in the lake while it is seeded: a seed stopped half way may be redone


class SeedRefused(Exception):
    """Seeding would delete what is not a lake's or the bus's, or data without ``force``
    (locally; on aws, a lake that already holds data): one sentence."""


# What the local bus keeps in its state folder (app/bus: journal, rules, buses, schedules,
# connections, archives and replays, tags and policies, dead-letter queues, log targets).
BUS_STATE = frozenset(
    {
        "journal.jsonl",
        "rules.json",
        "buses.json",
        "buses",
        "schedules.json",
        "connections.json",
        "archives.json",
        "archives",
        "replays.json",
        "tags.json",
        "policies.json",
        "dlq",
        "logs",
    }
)


def _entries(folder: Path) -> list[str]:
    if folder.exists() and not folder.is_dir():
        raise SeedRefused(f"{folder} is a file where a folder goes: move it, or give --lake another folder")
    try:
        return sorted(entry.name for entry in folder.iterdir())
    except FileNotFoundError:
        return []


def _foreign(names: list[str], known: Callable[[str], bool]) -> str | None:
    return next((name for name in names if not known(name)), None)


def _is_lake_entry(name: str) -> bool:
    """A lake table folder or the lake's own state (``_rollups``, ``_bus_metrics``, …)."""
    return name in TABLES or name in ROLLUP_TABLES or name.startswith("_")


def check_replaceable(lake: Path, *, force: bool = False) -> None:
    """Raise :class:`SeedRefused` unless a fresh seed may delete ``lake`` and the bus state
    beside it: each missing or empty, or holding only a lake's or the bus's own entries,
    and then only with ``force`` when they hold any (events, queues, a journal)."""
    lake, bus = Path(lake), Path(lake).parent / "bus"
    in_lake, in_bus = _entries(lake), _entries(bus)
    stranger = _foreign(in_lake, _is_lake_entry)
    if stranger is not None:
        raise SeedRefused(
            f"{lake} holds {stranger!r}, which is not part of a lake: give --lake a new or empty folder"
        )
    stranger = _foreign(in_bus, BUS_STATE.__contains__)
    if stranger is not None:
        raise SeedRefused(
            f"{bus} (where the local bus keeps its state, beside the lake) holds {stranger!r}, "
            "which is not the bus's: move it, or put the lake in another folder"
        )
    interrupted = (lake / SEEDING).exists()  # a seed stopped half way: nothing else was there
    if (in_lake or in_bus) and not (force or interrupted):
        raise SeedRefused(
            f"{lake} already holds a lake (or {bus} a bus's state): pass --force to replace them, "
            "or --if-empty to keep them"
        )


def seed_lake(
    lake: Path,
    *,
    days: int = 365,
    events_per_day: int = 12_000,
    seed: int = 7,
    end: date | None = None,
    definition: BusDefinition | None = None,
    progress: Progress | None = None,
    fresh: bool = True,
    force: bool = False,
    rollups: bool = True,
) -> SeedReport:
    """Publish ``days`` of the simulated enterprise into ``lake``; ``fresh``: into an empty
    lake and bus, replacing any there only with ``force`` (:func:`check_replaceable`)."""
    lake = Path(lake)
    if fresh:
        check_replaceable(lake, force=force)
        for folder in (lake, lake.parent / "bus"):
            shutil.rmtree(folder, ignore_errors=True)
    lake.mkdir(parents=True, exist_ok=True)
    if fresh:
        (lake / SEEDING).touch()
    started, began = clock.now(), monotonic()
    definition = definition or load_definition()
    enterprise = Enterprise(DemoConfig(days=days, events_per_day=events_per_day, seed=seed, end=end))
    last_day = end or clock.today()
    # The seeded history is kept by the lake; archives record what goes through `bus serve`.
    bus = LocalBus(
        definition,
        lake,
        transport=demo_transport(enterprise, definition),
        seed=seed,
        archive=False,
        metrics_now=datetime.combine(last_day + timedelta(days=1), time(), UTC),
    )
    # History stops at this moment: the simulation of today runs to midnight, but events
    # after now have not happened yet (the live publisher sends them as their time comes).
    cutoff = format_time(started)
    total = 0
    for done, batch in enumerate(enterprise.day_batches(), start=1):
        events = (
            [e for e in batch.events if e["time"] <= cutoff] if batch.date >= started.date() else batch.events
        )
        bus.publish(events, virtual_time=True)
        total += len(events)
        if done % 7 == 0:
            bus.flush()
        if progress:
            progress(done, days, total)
    bus.flush()
    if rollups:  # every day closed by now: pages read them from rollups
        refresh_rollups(lake, now=started)
    write_ground_truth(enterprise, lake)
    (lake / SEEDING).unlink(missing_ok=True)
    return SeedReport(days, total, monotonic() - began)


def lake_is_seeded(lake: Path) -> bool:
    """Seeded to the end: events, the truth beside them, and no seed under way or stopped
    half way (whose ``ground_truth.json`` may be an earlier seed's)."""
    lake = Path(lake)
    return (
        (lake.parent / "ground_truth.json").exists()
        and not (lake / SEEDING).exists()
        and any((lake / "events").glob("dt=*"))
    )
