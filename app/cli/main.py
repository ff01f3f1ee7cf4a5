"""``python -m app``: the command line for scripts, checks and the demo.

Every command takes ``--lake PATH`` (default: the ``VERTICALS_LAKE`` setting). A bad
argument or setting prints one line naming the problem and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from app.cli.analyze import add_analyze_commands
from app.cli.bus import add_bus_commands
from app.cli.common import CliError
from app.cli.demo import add_demo_commands
from app.cli.infra import add_infra_commands
from app.cli.lake import add_lake_commands
from app.cli.query import add_query_commands
from app.lake.paths import LakePathError
from app.settings import SettingsError

# The command groups, in the order ``--help`` lists them.
COMMAND_GROUPS = (
    add_demo_commands,
    add_query_commands,
    add_analyze_commands,
    add_infra_commands,
    add_bus_commands,
    add_lake_commands,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app", description="Verticals command line")
    commands = parser.add_subparsers(dest="command", required=True)
    for add_commands in COMMAND_GROUPS:
        add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args) or 0
    except (CliError, SettingsError, LakePathError) as exc:  # a path the lake refuses: one sentence
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: one line, not a traceback (128 + SIGINT, as shells say)
        print("interrupted", file=sys.stderr)
        return 130
