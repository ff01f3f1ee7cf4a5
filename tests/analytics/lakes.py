"""Seeded lakes for the analytics: the simulated enterprise's events, written by the lake
writer, restricted to the detail types the analytics read (orders placed, marketing,
production). The enterprise still plans everything at the asked-for scale, but draws only
those events (the very ones the full simulation publishes), so that a year at the default
scale is written in well under a minute. The estimators never see ``ground_truth.json``;
tests read it to compare."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from app.demo.enterprise import DemoConfig, Enterprise, write_ground_truth
from app.lake.writer import LakeWriter

ANALYTICS_DETAIL_TYPES = frozenset(
    {
        "OrderPlaced",
        "CampaignLaunched",
        "CampaignSpend",
        "CampaignEnded",
        "CapacityPlanned",
        "BatchStarted",
        "BatchCompleted",
        "MachineDowntime",
    }
)
END = date(2026, 11, 26)


def seed_analytics_lake(root: Path, *, days: int, events_per_day: int, seed: int, end: date = END) -> Path:
    """Write the lake under ``root/lake`` (once: an existing one with its truth is reused)."""
    lake = Path(root) / "lake"
    if (Path(root) / "ground_truth.json").exists():
        return lake
    enterprise = Enterprise(
        DemoConfig(
            days=days, events_per_day=events_per_day, seed=seed, end=end, detail_types=ANALYTICS_DETAIL_TYPES
        )
    )
    writer = LakeWriter(lake)
    for batch in enterprise.day_batches():
        writer.write(batch.events)
    write_ground_truth(enterprise, lake)
    return lake


def ground_truth(lake: Path) -> dict:
    return json.loads((Path(lake).parent / "ground_truth.json").read_text())
