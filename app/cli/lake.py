"""``python -m app lake check|quarantine``: find the lake files readers cannot use (corrupt,
foreign, stray) and move them aside into ``<lake>/_quarantine/``, never deleting one."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date

from app.cli.common import CliError, lake_argument, resolve_lake
from app.lake.check import NotALake, run_check, run_quarantine, validate_lake


def _run(action: Callable[..., tuple[str, int]], args: argparse.Namespace) -> int:
    try:
        text, status = action(resolve_lake(args))
    except NotALake as exc:
        raise CliError(str(exc)) from None
    print(text)
    return status


def add_lake_commands(commands: argparse._SubParsersAction) -> None:
    lake = commands.add_parser("lake", help="find lake files readers cannot use, and move them aside")
    actions = lake.add_subparsers(dest="action", required=True)
    check = actions.add_parser("check", help="list problem files (exit status 1 when there are any)")
    lake_argument(check)
    check.set_defaults(handler=lambda args: _run(run_check, args))
    quarantine = actions.add_parser(
        "quarantine", help="move problem files to <lake>/_quarantine/ (never deletes)"
    )
    lake_argument(quarantine)
    quarantine.set_defaults(handler=lambda args: _run(run_quarantine, args))
    add_rollup_command(actions)


def _rollups(args: argparse.Namespace) -> int:
    from app.lake.rollups import rebuild_rollups, refresh_rollups

    try:
        lake = validate_lake(resolve_lake(args))
    except NotALake as exc:
        raise CliError(str(exc)) from None
    report = refresh_rollups(lake) if args.refresh else rebuild_rollups(lake, args.since)
    print(f"{report.days_built} day(s) rolled up, {report.days_removed} removed in {report.seconds:.1f} s")
    return 0


def add_rollup_command(actions: argparse._SubParsersAction) -> None:
    rollups = actions.add_parser(
        "rollups", help="rebuild the rollup tables from raw events (every closed day, or from --since)"
    )
    lake_argument(rollups)
    rollups.add_argument("--since", type=date.fromisoformat, default=None, help="first day (YYYY-MM-DD)")
    rollups.add_argument(
        "--refresh", action="store_true", help="only days not rolled up yet, and those late events dirtied"
    )
    rollups.set_defaults(handler=_rollups)
