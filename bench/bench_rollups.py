"""Overview, Event rates, Campaigns and Demand forecast from the rollups against the same
pages from raw events.

For each range: the page's data call with ``rollups=True`` (whole hours of rolled-up days
from app/lake/rollups.py, the rest raw) and ``rollups=False`` (every raw event), cold (a
fresh engine, as after a restart) and warm (the same call again on it, as the app pays
before its own cache hits), alternating so that a change in machine load hits both alike;
medians of ``--rounds`` and their ratios. Also: the
time to rebuild every day's rollups from raw, a refresh with nothing to do, the rollups'
size, and the load average while it ran.

    .venv/bin/python bench/bench_rollups.py --lake /tmp/ru-lake/lake [--ranges 7d 30d 365d] [--rounds 5]
        [--pages Campaigns "Demand forecast"] [--now 2026-12-05T12:00:00+00:00] [--skip-rebuild]

Campaigns and Demand forecast read ``orders_daily`` for their daily orders and demand;
their analytics (the same in both) is most of their time.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.engines.duckdb_engine import DuckDBEngine
from app.lake import rollups
from app.services import event_rates, overview
from app.services.context import Context
from app.services.timerange import TimeRange, preset_range
from app.settings import load_settings
from bench.bench_pages import _campaigns, _forecast

PAGES: dict[str, Callable[..., object]] = {
    "Overview": overview.department_overview,
    "Event rates": event_rates.event_rates,
    "Campaigns": _campaigns,
    "Demand forecast": _forecast,
}


def _context(lake: Path) -> Context:
    settings = load_settings({}).replace(lake=str(lake))
    return Context(settings, DuckDBEngine(lake), None, None, "local", str(lake), ())  # type: ignore[arg-type]


def _timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _measure(lake: Path, page: Callable[..., object], rng: TimeRange, rounds: int) -> list[float]:
    """Medians of: raw cold, rollups cold, raw warm, rollups warm."""
    times: list[list[float]] = [[], [], [], []]
    for _ in range(rounds):
        for i, use in enumerate((False, True)):
            ctx = _context(lake)  # a fresh engine: building its views is not page data time
            call = functools.partial(page, ctx, rng, rollups=use)
            times[i].append(_timed(call))
            times[i + 2].append(_timed(call))
    return [statistics.median(t) for t in times]


def _size(lake: Path) -> int:
    return sum(f.stat().st_size for t in rollups.ROLLUP_TABLES for f in (lake / t).rglob("*.parquet"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lake", type=Path, required=True)
    parser.add_argument("--ranges", nargs="+", default=["7d", "30d", "365d"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--skip-rebuild", action="store_true")
    parser.add_argument("--pages", nargs="+", default=list(PAGES), choices=list(PAGES))
    parser.add_argument("--now", type=datetime.fromisoformat, default=None, help="the ranges' end (ISO)")
    args = parser.parse_args()
    lake = args.lake.resolve()
    print(f"lake {lake}; load average before {os.getloadavg()[0]:.1f}")
    if not args.skip_rebuild:
        started, cpu = time.perf_counter(), time.process_time()
        report = rollups.rebuild_rollups(lake)
        print(
            f"rebuild_rollups: {report.days_built} days in {time.perf_counter() - started:.1f} s "
            f"({time.process_time() - cpu:.1f} s CPU in Python; DuckDB threads not counted)"
        )
    print(f"refresh with nothing to do: {_timed(lambda: rollups.refresh_rollups(lake)):.3f} s")
    print(f"rollups on disk: {_size(lake) / 1e6:.1f} MB, {len(rollups.clean_days(lake))} days")
    now = args.now or datetime.now(UTC)
    print(f"{'':21}{'cold (fresh engine)':^32}{'warm (same engine again)':^32}")
    print(f"{'page data call':16}{'range':>5}" + f"{'raw':>10}{'rollups':>10}{'raw/rollups':>12}" * 2)
    for key in args.ranges:
        rng = preset_range(key, now)
        for name in args.pages:
            page = PAGES[name]
            raw, rolled, raw_warm, rolled_warm = _measure(lake, page, rng, args.rounds)
            print(
                f"{name:16}{key:>5}{raw:>9.2f}s{rolled:>9.2f}s{raw / rolled:>11.1f}x"
                f"{raw_warm:>9.2f}s{rolled_warm:>9.2f}s{raw_warm / rolled_warm:>11.1f}x"
            )
    print(f"load average after {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
