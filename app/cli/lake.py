"""``python -m app lake check|quarantine``: find the lake files readers cannot use (corrupt,
foreign, stray) and move them aside into ``<lake>/_quarantine/``, never deleting one."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from app.cli.common import CliError, lake_argument, resolve_lake
from app.lake.check import NotALake, run_check, run_quarantine


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
