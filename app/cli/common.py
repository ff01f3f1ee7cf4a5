"""What every command group shares: the ``--lake`` argument, number argument types, the query
timeout and the user error."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from app.settings import load_settings


def positive_int(text: str) -> int:
    """An argparse ``type``: a whole number above 0 (a count, a number of days)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def positive_float(text: str) -> float:
    """An argparse ``type``: a finite number above 0 (seconds, a rate)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number greater than 0, got {text}")
    return value


def port_number(text: str) -> int:
    """An argparse ``type``: a TCP port, 0 (any free port) to 65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if not 0 <= value <= 65_535:
        raise argparse.ArgumentTypeError(f"must be a port from 0 to 65535, got {text}")
    return value


class CliError(Exception):
    """A user error: printed as one line, exit status 2."""


def lake_path(text: str) -> Path:
    """``--lake``'s value: a folder, ``~`` expanded as the shell does not after ``=``."""
    if not text.strip():
        raise argparse.ArgumentTypeError("give a folder (leave --lake out for the default, data/lake)")
    return Path(text).expanduser()


def lake_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lake",
        type=lake_path,
        default=None,
        help="lake folder (default: the VERTICALS_LAKE setting, data/lake)",
    )


def resolve_lake(args: argparse.Namespace) -> Path:
    return Path(args.lake).resolve() if args.lake else load_settings().lake


def query_timeout() -> float:
    """Seconds a local query may run: the ``VERTICALS_QUERY_TIMEOUT`` setting."""
    return float(load_settings().query_timeout)
