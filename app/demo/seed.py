"""Seed a local lake: the simulated enterprise publishes its history through the local bus.

Each simulated day goes through :meth:`LocalBus.publish` in virtual time, so rules,
targets, retries, the consumer's outages and the metrics all happen at the events' own
times. The planted truth is written beside the lake as ``ground_truth.json``.
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
from app.lake.rollups import refresh_rollups

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
    rollups: bool = True,
) -> SeedReport:
    lake = Path(lake)
    if fresh:
        for folder in (lake, lake.parent / "bus"):
            shutil.rmtree(folder, ignore_errors=True)
    lake.mkdir(parents=True, exist_ok=True)
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
    return SeedReport(days, total, monotonic() - began)


def lake_is_seeded(lake: Path) -> bool:
    return (Path(lake).parent / "ground_truth.json").exists() and any((Path(lake) / "events").glob("dt=*"))
