"""``python -m app query …``: list and run the saved queries of ``queries/``.

* ``query list [--format table|json]`` — name, audience, title and parameters (with
  their defaults) of every saved query.
* ``query run NAME [--param key=value …] [--format table|csv|json] [--lake PATH]
  [--today YYYY-MM-DD] [--max-rows N]`` — run one over the local lake with DuckDB and print
  the rows, then the time it took and the files and bytes it scanned (``table``: below the
  rows; ``csv``: on stderr, so stdout stays a CSV file; ``json``: in the document). CSV
  text cells that a spreadsheet would run as a formula start with ``'`` (app/exports.py).

A date range takes ``2026-03-01..2026-03-07``, one date, or a phrase such as ``last 7
days``; a multi-choice takes ``east,west`` or ``all``. Relative dates count from today
(UTC) unless ``--today`` says otherwise. A bad value, an unknown query or a missing lake
prints one line and exits with status 2; a query that fails in the engine exits with 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from app import clock
from app.catalog import (
    CatalogError,
    ParamError,
    SavedQuery,
    bind,
    describe_default,
    load_catalog,
    resolve_params,
)
from app.cli.common import lake_argument, positive_int, query_timeout, resolve_lake
from app.display import terminal_text
from app.engines.base import QueryError, QueryResult
from app.exports import neutralise_formulas
from app.lake.check import NotALake, validate_lake

USAGE_ERROR = 2
QUERY_FAILED = 1


class UsageError(Exception):
    """Bad input on the command line: one line, exit status 2."""


def add_query_commands(commands: argparse._SubParsersAction) -> None:
    query = commands.add_parser("query", help="list and run saved queries")
    actions = query.add_subparsers(dest="query_command", required=True)
    listing = actions.add_parser("list", help="the saved queries and their parameters")
    listing.add_argument("--format", choices=("table", "json"), default="table")
    listing.set_defaults(handler=cmd_query_list)
    run = actions.add_parser("run", help="run a saved query over the local lake")
    run.add_argument("name", help="saved query name (see `query list`)")
    run.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a parameter value; repeat for each parameter (defaults fill the rest)",
    )
    run.add_argument("--format", choices=("table", "csv", "json"), default="table")
    run.add_argument(
        "--today",
        type=_iso_date,
        default=None,
        help="the day relative dates count from (default: today, UTC)",
    )
    run.add_argument(
        "--max-rows", type=positive_int, default=200, help="table format: rows shown (default 200)"
    )
    run.add_argument(
        "--show-sql", action="store_true", help="print the query's Athena SQL and its parameters (on stderr)"
    )
    lake_argument(run)
    run.set_defaults(handler=cmd_query_run)


def cmd_query_list(args: argparse.Namespace) -> int:
    return _guarded(lambda: print(format_listing(load_catalog().values(), args.format)))


def cmd_query_run(args: argparse.Namespace) -> int:
    return _guarded(lambda: _run(args))


def _guarded(action) -> int:
    try:
        action()
    except (UsageError, ParamError, CatalogError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except QueryError as exc:
        print(f"error: the query failed: {exc}", file=sys.stderr)
        return QUERY_FAILED
    return 0


def _run(args: argparse.Namespace) -> None:
    query = find_query(args.name)
    raw = parse_param_args(args.param)
    lake = _existing_lake(args)
    today = args.today or clock.today()
    sql, params = bind(query, resolve_params(query, raw, today))
    result = _engine(lake).run(sql, params)
    if args.show_sql:
        print(format_sql(sql, params), file=sys.stderr)
    shown = format_result(
        result,
        args.format,
        query=query.name,
        params=params,
        max_rows=args.max_rows,
        terminal=sys.stdout.isatty(),
    )
    print(shown)
    if args.format == "csv":
        print(format_figures(result), file=sys.stderr)


def find_query(name: str) -> SavedQuery:
    catalog = load_catalog()
    if name not in catalog:
        raise UsageError(f"unknown query {name!r}; known: {', '.join(sorted(catalog))}")
    return catalog[name]


def parse_param_args(pairs: Sequence[str]) -> dict[str, str]:
    """``["period=last 7 days", "regions=east,west"]`` as a mapping; each key once."""
    raw: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--param {pair!r} must look like key=value")
        if key in raw:
            raise UsageError(f"--param {key} is given twice")
        raw[key] = value
    return raw


def _existing_lake(args: argparse.Namespace) -> Path:
    lake = resolve_lake(args)
    if not lake.is_dir():
        raise UsageError(f"no lake at {lake}: seed one with `python -m app demo seed --lake {lake}`")
    try:
        return validate_lake(lake)
    except NotALake as exc:
        raise UsageError(str(exc)) from None


def _engine(lake: Path):
    from app.engines.duckdb_engine import DuckDBEngine

    return DuckDBEngine(lake, timeout_s=query_timeout())


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a date YYYY-MM-DD, got {text!r}") from None


# --- output ------------------------------------------------------------------------------


def format_listing(queries, fmt: str = "table") -> str:
    rows = [
        {
            "name": q.name,
            "audience": q.audience,
            "title": q.title,
            "params": ", ".join(f"{p.name}:{p.type}={describe_default(p)}" for p in q.params),
        }
        for q in sorted(queries, key=lambda q: q.name)
    ]
    if fmt == "json":
        return json.dumps(rows, indent=2)
    return text_table(rows)


def text_table(rows: list[dict[str, str]]) -> str:
    """Left-aligned columns (pandas right-aligns text, which reads badly for names)."""
    if not rows:
        return "(none)"
    widths = {key: max(len(key), *(len(str(r[key])) for r in rows)) for key in rows[0]}
    lines = ["  ".join(key.ljust(w) for key, w in widths.items())]
    lines += ["  ".join(str(r[key]).ljust(w) for key, w in widths.items()) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def format_result(
    result: QueryResult,
    fmt: str,
    *,
    query: str,
    params: dict[str, Any],
    max_rows: int,
    terminal: bool = False,
) -> str:
    """The rows as ``fmt`` says. ``terminal``: printed to a terminal, where CSV spells its
    cells' control characters ``\\xNN`` as the table does (to a file or a pipe it keeps
    the data as it is)."""
    if fmt == "csv":
        # Safe to open in a spreadsheet, like the dashboard's downloads (app/exports.py).
        frame = neutralise_formulas(result.frame)
        if terminal:
            frame = _terminal_cells(frame)
        return frame.to_csv(index=False).rstrip("\n")
    if fmt == "json":
        return json.dumps(
            {"query": query, "params": params, **figures(result), "rows": records(result.frame)}, indent=2
        )
    head = _terminal_cells(result.frame.head(max_rows))
    shown = head.to_string(index=False, na_rep="-") if result.rows else "(no rows)"
    more = (
        f"\n… {result.rows - max_rows} more rows (use --format csv for all)" if result.rows > max_rows else ""
    )
    return f"{shown}{more}\n\n{format_figures(result)}"


def _terminal_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells and names as a terminal should print them, not as escape sequences."""
    return frame.rename(columns=terminal_text).apply(
        lambda column: column.map(lambda v: terminal_text(v) if isinstance(v, str) else v)
    )


def format_sql(sql: str, params: dict[str, Any]) -> str:
    """The query's Athena SQL (``:name`` placeholders, lists expanded), then each value bound."""
    values = "\n".join(f"--   {name} = {value!r}" for name, value in sorted(params.items()))
    return f"{sql.strip()}\n-- parameters:\n{values}" if params else sql.strip()


def figures(result: QueryResult) -> dict[str, Any]:
    return {
        "rows_returned": result.rows,
        "elapsed_s": round(result.elapsed_s, 4),
        "files_scanned": result.files_scanned,
        "bytes_scanned": result.bytes_scanned,
    }


def format_figures(result: QueryResult) -> str:
    return (
        f"{result.rows:,} rows in {result.elapsed_s:.3f} s; scanned {result.files_scanned} files, "
        f"{_size(result.bytes_scanned)}"
    )


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts: times as ISO text, missing as null."""
    return json.loads(frame.to_json(orient="records", date_format="iso", date_unit="s"))


def _size(count: int) -> str:
    size = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{count} B"
