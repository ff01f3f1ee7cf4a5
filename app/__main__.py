"""``python -m app``: the command line for scripts, checks and the demo.

Every command takes ``--lake PATH`` (default: the ``VERTICALS_LAKE`` setting). A bad
argument or setting prints one line naming the problem and exits with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from app.settings import SettingsError, load_settings

# Command groups that live in their own modules: (module, function adding the subcommands).
COMMAND_GROUPS = (
    ("app.cli_query", "add_query_commands"),
    ("app.cli_analyze", "add_analyze_commands"),
    ("app.cli_infra", "add_infra_commands"),
    ("app.cli_bus", "add_bus_commands"),
)


class CliError(Exception):
    """A user error: printed as one line, exit status 2."""


def lake_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lake", type=Path, default=None, help="lake folder (default: the VERTICALS_LAKE setting, data/lake)"
    )


def resolve_lake(args: argparse.Namespace) -> Path:
    return Path(args.lake).resolve() if args.lake else load_settings().lake


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def _print_progress(done: int, total: int, events: int) -> None:
    width = 30
    filled = int(width * done / total)
    sys.stderr.write(
        f"\rseeding [{'#' * filled}{'.' * (width - filled)}] {done}/{total} days, {events:,} events"
    )
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def cmd_demo_seed(args: argparse.Namespace) -> int:
    from app.demo.seed import lake_is_seeded, seed_lake

    lake = resolve_lake(args)
    if args.if_empty and lake_is_seeded(lake):
        print(f"lake already seeded at {lake}")
        return 0
    report = seed_lake(
        lake,
        days=args.days,
        events_per_day=args.events_per_day,
        seed=args.seed,
        end=args.end,
        progress=None if args.quiet else _print_progress,
    )
    rate = report.events / report.seconds if report.seconds else 0
    print(
        f"seeded {report.events:,} events over {report.days} days into {lake} "
        f"in {report.seconds:.1f} s ({rate:,.0f} events/s)"
    )
    return 0


def add_demo_commands(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser("demo", help="the simulated enterprise").add_subparsers(
        dest="demo_command", required=True
    )
    seed = demo.add_parser("seed", help="fill the local lake with simulated history")
    lake_argument(seed)
    seed.add_argument("--days", type=_positive, default=365)
    seed.add_argument("--events-per-day", type=_positive, default=12_000)
    seed.add_argument("--seed", type=int, default=7)
    seed.add_argument("--end", type=date.fromisoformat, default=None, help="last day (default: today, UTC)")
    seed.add_argument("--if-empty", action="store_true", help="do nothing when the lake is already seeded")
    seed.add_argument("--quiet", action="store_true", help="no progress bar")
    seed.set_defaults(handler=cmd_demo_seed)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app", description="Verticals command line")
    commands = parser.add_subparsers(dest="command", required=True)
    add_demo_commands(commands)
    for module_name, function in COMMAND_GROUPS:
        getattr(importlib.import_module(module_name), function)(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args) or 0
    except (CliError, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
