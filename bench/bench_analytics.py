"""Benchmark of the analytics (issue 5): speed on a year at the default scale, and accuracy
against the planted truth.

    .venv/bin/python bench/bench_analytics.py [--seeds 7 11 23] [--cache DIR] [--horizon 28]
                                              [--long-origins 140] [--large]

For each seed, a year (365 days × 12,000 events a day, ending 2026-11-26) is seeded once
into ``--cache`` (orders, marketing and production events only: see
tests/analytics/lakes.py) and then analysed through DuckDB as the CLI does. Printed:

* speed — wall and CPU seconds of the data queries (the baseline), the campaign analysis
  and the forecast with its backtests, and each as a multiple of the baseline;
* per line — the chosen model, MASE / WAPE / sMAPE / coverage for days 1-7 ahead and for
  the whole horizon, over 28 rolling origins;
* per campaign — planted and estimated lift, the error in points, the interval, the lag;
* with ``--long-origins N``: each line's interval coverage (days 1-7 ahead) over N rolling
  origins, and how far it swings between the 28-origin windows inside them;
* with ``--large``: the campaign table again on half a year at 20 times the scale
  (240,000 events a day, about 40,000 orders), where Poisson noise is √20 times smaller.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.analytics import campaigns as lift
from app.analytics import forecast as fc
from app.engines.duckdb_engine import DuckDBEngine
from app.services import analytics_data as data
from tests.analytics.lakes import END, ground_truth, seed_analytics_lake


def timed(action: Callable[[], object]) -> tuple[object, float, float]:
    """(result, wall seconds, CPU seconds of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = action()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def speed(lake: Path, horizon: int) -> tuple[pd.DataFrame, data.ForecastReport, pd.DataFrame]:
    engine = DuckDBEngine(lake)
    first, last = data.default_range(engine, 365, today=END)

    def read_all():
        return (
            data.daily_orders(engine, first, last),
            data.campaigns(engine, first, last),
            data.daily_demand(engine, first, last),
            data.daily_production(engine, first, last),
        )

    (orders, found, _demand, _production), read_wall, read_cpu = timed(read_all)
    effects, lift_wall, lift_cpu = timed(lambda: lift.estimate_campaign_effects(orders, found))
    report, fc_wall, fc_cpu = timed(lambda: data.forecast_report(engine, first, last, horizon=horizon))
    _, all_wall, all_cpu = timed(
        lambda: (
            data.campaign_report(engine, first, last),
            data.forecast_report(engine, first, last, horizon=horizon),
        )
    )
    rows = [
        ("data queries (baseline)", read_wall, read_cpu),
        ("campaign effects", lift_wall, lift_cpu),
        ("forecast + backtest + capacity (queries included)", fc_wall, fc_cpu),
        ("both reports, end to end", all_wall, all_cpu),
    ]
    table = pd.DataFrame(rows, columns=["step", "wall_s", "cpu_s"])
    table["x_baseline_cpu"] = table["cpu_s"] / read_cpu
    return table, report, effects


def forecast_table(report: data.ForecastReport) -> pd.DataFrame:
    rows = []
    for line, outlook in report.lines.items():
        m = outlook.forecast.metrics
        rows.append(
            {
                "line": line,
                "model": outlook.forecast.model,
                "mase_1_7": m["mase"],
                "wape_1_7": m["wape"],
                "smape_1_7": m["smape"],
                "cov80_1_7": m["coverage_80"],
                "cov95_1_7": m["coverage_95"],
                "mase_all": m["mase_all"],
                "cov80_all": m["coverage_80_all"],
                "cov95_all": m["coverage_95_all"],
                "short_days": int(outlook.daily["short"].sum()),
                "at_risk_days": int(outlook.daily["at_risk"].sum()),
            }
        )
    return pd.DataFrame(rows)


def lift_table(effects: pd.DataFrame, lake: Path) -> pd.DataFrame:
    truth = pd.DataFrame(ground_truth(lake)["campaigns"])[["campaign_id", "lift", "lag_days"]]
    table = effects.merge(
        truth.rename(columns={"lift": "planted", "lag_days": "planted_lag"}), on="campaign_id"
    )
    table["error_pts"] = (table["lift"] - table["planted"]) * 100
    table["inside"] = (table["lift_low"] <= table["planted"]) & (table["planted"] <= table["lift_high"])
    table["lag_ok"] = table["lag_days"] == table["planted_lag"]
    return table[
        [
            "campaign_id",
            "region",
            "planted",
            "lift",
            "error_pts",
            "lift_low",
            "lift_high",
            "inside",
            "planted_lag",
            "lag_days",
            "lag_ok",
            "flags",
        ]
    ]


def lift_summary(table: pd.DataFrame) -> dict:
    judged = table[table["lift"].notna()]
    effect = judged[judged["planted"] > 0]
    return {
        "campaigns": len(table),
        "estimated": len(judged),
        "inside_95": judged["inside"].mean(),
        "within_2pts": (judged["error_pts"].abs() <= 2).mean(),
        "mean_error_pts": judged["error_pts"].mean(),
        "mean_abs_error_pts": judged["error_pts"].abs().mean(),
        "lag_exact": effect["lag_ok"].mean(),
    }


def long_coverage(lake: Path, origins: int, horizon: int) -> pd.DataFrame:
    """Per line: 80% / 95% coverage of days 1-7 over ``origins`` rolling origins, and the
    lowest and highest 80% coverage of the 28-origin windows among them."""
    engine = DuckDBEngine(lake)
    design = fc.BacktestDesign(horizon=horizon, test_origins=origins)
    report = data.forecast_report(
        engine, *data.default_range(engine, 365, today=END), horizon=horizon, design=design
    )
    rows = []
    for line, outlook in report.lines.items():
        window = outlook.forecast.test_window
        window = window[window["step"] <= 7]
        inside = (
            ((window["actual"] >= window["low_80"]) & (window["actual"] <= window["high_80"]))
            .groupby(window["origin"])
            .mean()
        )
        per_28 = inside.rolling(28).mean().dropna()
        m = outlook.forecast.metrics
        rows.append(
            {
                "line": line,
                "model": outlook.forecast.model,
                "cov80": m["coverage_80"],
                "cov95": m["coverage_95"],
                "cov80_28_min": per_28.min(),
                "cov80_28_max": per_28.max(),
                "mase_1_7": m["mase"],
            }
        )
    return pd.DataFrame(rows)


def large_campaigns(cache: Path, seeds: list[int]) -> None:
    pooled = []
    for seed in seeds:
        lake, wall, _ = timed(
            partial(
                seed_analytics_lake, cache / f"large-seed{seed}", days=180, events_per_day=240_000, seed=seed
            )
        )
        engine = DuckDBEngine(lake)
        report, lift_wall, _ = timed(
            lambda engine=engine: data.campaign_report(engine, *data.default_range(engine, 180, today=END))
        )
        print(
            f"\n=== seed {seed}, 20x scale, 180 days: lake ready in {wall:.1f} s, "
            f"campaigns in {lift_wall:.1f} s"
        )
        table = lift_table(report.effects, lake)
        print(table.round(3).to_string(index=False))
        pooled.append(table.assign(seed=seed))
    all_seeds = pd.concat(pooled)
    print(
        "\n=== 20x, all seeds:",
        {k: round(float(v), 3) for k, v in lift_summary(all_seeds).items()},
        "max |error| pts:",
        round(float(all_seeds["error_pts"].abs().max()), 2),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[7])
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "verticals-bench-analytics"
    )
    parser.add_argument("--horizon", type=int, default=28)
    parser.add_argument(
        "--long-origins", type=int, default=0, help="also score coverage over this many origins"
    )
    parser.add_argument("--large", action="store_true", help="also estimate the campaigns at 20x the scale")
    args = parser.parse_args()
    pd.set_option("display.width", 200)
    pooled = []
    for seed in args.seeds:
        root = args.cache / f"seed{seed}"
        lake, wall, _ = timed(partial(seed_analytics_lake, root, days=365, events_per_day=12_000, seed=seed))
        print(f"\n=== seed {seed}: lake {lake} (ready in {wall:.1f} s)")
        timing, report, effects = speed(lake, args.horizon)
        print(timing.round(2).to_string(index=False))
        lines = forecast_table(report)
        print(f"\nforecast, horizon {args.horizon} days, 28 rolling origins (days 1-7 and all days ahead):")
        print(lines.round(3).to_string(index=False))
        print(
            f"pooled coverage 80%: days 1-7 {lines['cov80_1_7'].mean():.3f}, "
            f"all {lines['cov80_all'].mean():.3f}"
        )
        table = lift_table(effects, lake)
        print("\ncampaigns (lift as a fraction; error in percentage points):")
        print(table.round(3).to_string(index=False))
        summary = lift_summary(table)
        print({k: round(float(v), 3) for k, v in summary.items()})
        pooled.append(table.assign(seed=seed))
        if args.long_origins:
            print(
                f"\nforecast intervals over {args.long_origins} rolling origins (days 1-7 ahead), "
                "and the range of 80% coverage over the 28-origin windows inside them:"
            )
            print(long_coverage(lake, args.long_origins, args.horizon).round(3).to_string(index=False))
    if len(pooled) > 1:
        print("\n=== all seeds:", {k: round(float(v), 3) for k, v in lift_summary(pd.concat(pooled)).items()})
    if args.large:
        large_campaigns(args.cache, args.seeds)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
