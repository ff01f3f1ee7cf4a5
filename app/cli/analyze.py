"""``python -m app analyze …``: campaign effects and demand forecasts, for scripts and checks.

* ``analyze campaigns [--lake PATH] [--days N] [--format table|json]`` — per campaign:
  ``campaign_id``, ``lift`` (0.15 = +15% orders), ``lift_low``, ``lift_high`` (95%),
  ``lag_days``, ``incremental_orders``, ``incremental_revenue``, ``roi`` and ``flags``.
* ``analyze forecast [--lake PATH] [--days N] [--horizon DAYS] [--format table|json]`` —
  per product line: the chosen model, the backtest ``wape``, ``mase``, ``smape``,
  ``coverage_80``, ``coverage_95``, and the days demand is expected to exceed capacity.

Both read the last ``--days`` days (default 365) of the lake, ending on its last day.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from app.cli.common import lake_argument, positive_int, query_timeout, resolve_lake
from app.lake.check import NotALake, validate_lake

if TYPE_CHECKING:
    from app.engines.duckdb_engine import DuckDBEngine

CAMPAIGN_FIELDS = [
    "campaign_id",
    "region",
    "channel",
    "start_date",
    "end_date",
    "spend",
    "lift",
    "lift_low",
    "lift_high",
    "lag_days",
    "incremental_orders",
    "incremental_revenue",
    "roi",
    "flags",
]
CAMPAIGN_TABLE = [
    "campaign_id",
    "region",
    "lift",
    "lift_low",
    "lift_high",
    "lag_days",
    "incremental_orders",
    "incremental_revenue",
    "roi",
    "flags",
]
FORECAST_FIELDS = [
    "product_line",
    "model",
    "wape",
    "mase",
    "smape",
    "coverage_80",
    "coverage_95",
    "rel_mae",
    "shortfall_days",
    "at_risk_days",
    "note",
]


def _common(parser: argparse.ArgumentParser) -> None:
    lake_argument(parser)
    parser.add_argument(
        "--days", type=positive_int, default=365, help="days of history to analyse (default 365)"
    )
    parser.add_argument("--format", choices=("table", "json"), default="table")


def add_analyze_commands(commands: argparse._SubParsersAction) -> None:
    analyze = commands.add_parser("analyze", help="campaign effects and demand forecasts")
    kinds = analyze.add_subparsers(dest="analyze_command", required=True)
    campaigns = kinds.add_parser(
        "campaigns", help="each campaign's lift, lag and ROI against a counterfactual"
    )
    _common(campaigns)
    campaigns.set_defaults(handler=cmd_analyze_campaigns)
    forecast = kinds.add_parser("forecast", help="demand forecast per product line, backtest and shortfalls")
    _common(forecast)
    forecast.add_argument("--horizon", type=positive_int, default=28, help="days to forecast (default 28)")
    forecast.set_defaults(handler=cmd_analyze_forecast)


class NoData(Exception):
    """Nothing to analyse: the message says what to do."""


def open_lake(args: argparse.Namespace) -> tuple[DuckDBEngine, date, date]:
    """(engine, first day, last day) of the lake the arguments name."""
    from app.engines.duckdb_engine import DuckDBEngine
    from app.services.analytics_data import default_range

    lake = resolve_lake(args)
    if not Path(lake).is_dir():
        raise NoData(f"no lake at {lake}: seed one with `python -m app demo seed --lake {lake}`")
    try:
        validate_lake(lake)
    except NotALake as exc:
        raise NoData(str(exc)) from None
    engine = DuckDBEngine(lake, timeout_s=query_timeout())
    found = default_range(engine, args.days)
    if found is None:
        raise NoData(
            f"the lake at {lake} has no orders: seed it with `python -m app demo seed --lake {lake}`"
        )
    first_day, last_day = found
    return engine, first_day, last_day


def cmd_analyze_campaigns(args: argparse.Namespace) -> int:
    from app.services.analytics_data import campaign_report

    return _guarded(lambda: _print_campaigns(campaign_report(*open_lake(args)).effects, args.format))


def cmd_analyze_forecast(args: argparse.Namespace) -> int:
    from app.services.analytics_data import forecast_report

    return _guarded(
        lambda: _print_forecast(forecast_report(*open_lake(args), horizon=args.horizon).summary, args.format)
    )


def _guarded(action) -> int:
    try:
        action()
    except NoData as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _print_campaigns(effects: pd.DataFrame, fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(records(effects[CAMPAIGN_FIELDS]), indent=2))
        return
    table = effects[CAMPAIGN_TABLE].copy()
    table["lag_days"] = table["lag_days"].map(
        lambda lag: "-" if lag is None or pd.isna(lag) else str(int(lag))
    )
    table["flags"] = table["flags"].map(lambda flags: ",".join(flags) or "-")
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.3f}", na_rep="-"))


def _print_forecast(summary: pd.DataFrame, fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(records(summary[FORECAST_FIELDS]), indent=2))
        return
    table = summary[FORECAST_FIELDS].copy()
    for column in ("shortfall_days", "at_risk_days"):
        table[column] = table[column].map(len)
    print(table.drop(columns="note").to_string(index=False, float_format=lambda v: f"{v:.3f}", na_rep="-"))
    for note in summary["note"]:
        if note:
            print(note)


def records(frame: pd.DataFrame) -> list[dict]:
    """Rows as JSON-ready dicts: dates as ISO text, NaN as null, numpy scalars as Python."""
    return [{key: _plain(value) for key, value in row.items()} for row in frame.to_dict(orient="records")]


def _plain(value):
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
