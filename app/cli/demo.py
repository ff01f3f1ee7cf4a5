"""``python -m app demo seed``: fill the lake with the simulated enterprise's history — the
local lake, or with ``--backend aws`` the stack's S3 lake (app/demo/seed_aws.py)."""

from __future__ import annotations

import argparse
import sys
from datetime import date

from app.cli.common import CliError, lake_argument, positive_int, resolve_lake


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
    from app.demo.seed import SeedRefused, lake_is_seeded, seed_lake

    if args.backend == "aws":
        from app.cli.demo_aws import cmd_demo_seed_aws

        return cmd_demo_seed_aws(args, _print_progress)
    if args.stack or args.region or args.profile:
        raise CliError("--stack, --region and --profile are for --backend aws")
    lake = resolve_lake(args)
    if args.if_empty and lake_is_seeded(lake):
        print(f"lake already seeded at {lake}")
        return 0
    try:
        report = seed_lake(
            lake,
            days=args.days,
            events_per_day=args.events_per_day,
            seed=args.seed,
            end=args.end,
            force=args.force,
            progress=None if args.quiet else _print_progress,
        )
    except SeedRefused as refused:
        raise CliError(str(refused)) from None
    rate = report.events / report.seconds if report.seconds else 0
    days = f"{report.days} day{'s' if report.days != 1 else ''}"
    print(
        f"seeded {report.events:,} events over {days} into {lake} "
        f"in {report.seconds:.1f} s ({rate:,.0f} events/s)"
    )
    return 0


def add_demo_commands(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser("demo", help="the simulated enterprise").add_subparsers(
        dest="demo_command", required=True
    )
    seed = demo.add_parser("seed", help="fill the lake (local, or the stack's on aws) with simulated history")
    seed.add_argument(
        "--backend",
        choices=("local", "aws"),
        default="local",
        help="local: the lake folder; aws: the stack's S3 lake, written with awswrangler",
    )
    lake_argument(seed)
    seed.add_argument("--days", type=positive_int, default=365)
    seed.add_argument("--events-per-day", type=positive_int, default=12_000)
    seed.add_argument("--seed", type=int, default=7)
    seed.add_argument("--end", type=date.fromisoformat, default=None, help="last day (default: today, UTC)")
    seed.add_argument("--if-empty", action="store_true", help="do nothing when the lake is already seeded")
    seed.add_argument(
        "--force",
        action="store_true",
        help="replace the data there: local, the lake and the bus's state beside it; aws, the days "
        "seeded (other days are kept)",
    )
    seed.add_argument("--stack", default=None, help="aws: stack name (default: VERTICALS_STACK)")
    seed.add_argument("--region", default=None, help="aws: AWS region (default: VERTICALS_REGION)")
    seed.add_argument("--profile", default=None, help="aws: AWS profile (default: VERTICALS_AWS_PROFILE)")
    seed.add_argument("--quiet", action="store_true", help="no progress bar")
    seed.set_defaults(handler=cmd_demo_seed)
