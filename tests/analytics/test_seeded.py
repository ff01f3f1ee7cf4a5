"""The analytics end to end on lakes the simulated enterprise seeded: SQL through DuckDB,
the estimators, the CLI; and their accuracy against ground_truth.json, which only these
tests read.

Accuracy runs on three seeds at two scales:

* a year each at the default scale (12,000 events a day, about 2,000 orders), as in the
  demo: the forecasts' backtests, and campaign estimates as precise as their stated standard
  errors (1-3 points there: Poisson noise, so ±2 points cannot hold for every campaign);
* half a year each at 20 times that (about 40,000 orders a day): there every campaign's
  estimate must be within ±2 points of its planted lift, with its exact lag.

The lakes take 15 s (a year, default scale) and about 90 s (half a year, 20×) each to
write; set ``VERTICALS_ANALYTICS_LAKES`` to a folder to keep them between runs.
"""

from __future__ import annotations

import fcntl
import json
import os
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from app.__main__ import main
from app.analytics import campaigns as lift
from app.analytics import forecast as fc
from app.analytics.campaigns import FLAG_NO_EFFECT, FLAG_TOO_EARLY
from app.engines.duckdb_engine import DuckDBEngine
from app.services import analytics_data as data
from tests.analytics.lakes import END, ground_truth, seed_analytics_lake
from tests.stats_bounds import LEVEL, max_abs_z, max_misses, share_band

# Under `pytest -n 2 --dist loadgroup` these share one worker, so the session fixtures
# (seeded lakes, estimates) are computed once.
pytestmark = pytest.mark.xdist_group("analytics-seeded-lakes")

SEEDS = (7, 11, 23)
YEAR = {"days": 365, "events_per_day": 12_000}
LARGE = {"days": 180, "events_per_day": 240_000}  # 20x the demo's volume, about 40,000 orders a day


def _lakes_root(tmp_path_factory) -> Path:
    configured = os.environ.get("VERTICALS_ANALYTICS_LAKES")
    if configured:
        return Path(configured)
    base = tmp_path_factory.getbasetemp()
    return (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "verticals-analytics-lakes"


def _seeded_lakes(tmp_path_factory, name: str, scale: dict) -> dict[int, Path]:
    root = _lakes_root(tmp_path_factory)
    root.mkdir(parents=True, exist_ok=True)
    lakes = {}
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # xdist workers share one build
        for seed in SEEDS:
            lakes[seed] = seed_analytics_lake(root / f"{name}{seed}", seed=seed, **scale)
    return lakes


@pytest.fixture(scope="session")
def year_lakes(tmp_path_factory) -> dict[int, Path]:
    return _seeded_lakes(tmp_path_factory, "seed", YEAR)


@pytest.fixture(scope="session")
def large_lakes(tmp_path_factory) -> dict[int, Path]:
    return _seeded_lakes(tmp_path_factory, "large-seed", LARGE)


def year_range(engine) -> tuple[date, date]:
    return data.default_range(engine, 365, today=END)


# --- the data service and the CLI on the shared small lake ----------------------------------------


def test_daily_orders_count_every_order_placed_per_region_and_day(seeded_lake):
    engine = DuckDBEngine(seeded_lake)
    # The lake holds 60 days ending today; the default range stops at yesterday's whole day.
    first, last = data.default_range(engine, 59)
    orders = data.daily_orders(engine, first, last)
    direct = engine.run(
        "SELECT count(*) AS n, sum(amount) AS revenue FROM orders WHERE dt BETWEEN :a AND :b "
        "AND detail_type = 'OrderPlaced'",
        {"a": first.isoformat(), "b": last.isoformat()},
    ).frame
    assert orders["orders"].sum() == direct["n"].iloc[0]
    assert orders["revenue"].sum() == pytest.approx(direct["revenue"].iloc[0])
    assert orders["region"].nunique() == 5
    assert orders.groupby("region")["date"].nunique().eq((last - first).days + 1).all()


def test_campaigns_demand_and_production_frames(seeded_lake):
    engine = DuckDBEngine(seeded_lake)
    first, last = data.default_range(engine, 60)
    campaigns = data.campaigns(engine, first, last)
    assert not campaigns.empty and campaigns["campaign_id"].is_unique
    assert (campaigns["end_date"] >= campaigns["start_date"]).all() and (campaigns["spend"] >= 0).all()
    spend = data.campaign_spend(engine, first, last)
    totals = spend.groupby("campaign_id")["spend"].sum()
    assert totals.reindex(campaigns["campaign_id"]).fillna(0).to_numpy() == pytest.approx(
        campaigns["spend"].to_numpy()
    )
    demand = data.daily_demand(engine, first, last)
    assert demand["product_line"].nunique() == 5 and (demand["units"] >= demand["orders"]).all()
    production = data.daily_production(engine, first, last)
    assert (production["capacity_units"] > 0).all() and (production["downtime_minutes"] >= 0).all()


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_campaigns_json(seeded_lake, capsys):
    code, out, _ = run_cli(capsys, "analyze", "campaigns", "--lake", str(seeded_lake), "--format", "json")
    rows = json.loads(out)
    assert code == 0 and rows
    for key in (
        "campaign_id",
        "lift",
        "lift_low",
        "lift_high",
        "lag_days",
        "incremental_revenue",
        "roi",
        "flags",
    ):
        assert key in rows[0]


def test_cli_forecast_table_on_a_short_lake_says_why_there_is_no_backtest(seeded_lake, capsys):
    code, out, _ = run_cli(capsys, "analyze", "forecast", "--lake", str(seeded_lake), "--horizon", "14")
    assert code == 0
    assert "chairs" in out and "seasonal_naive" in out and "a backtest needs" in out


def test_cli_on_a_missing_lake_exits_2_with_what_to_do(tmp_path, capsys):
    code, _, err = run_cli(capsys, "analyze", "campaigns", "--lake", str(tmp_path / "nowhere"))
    assert code == 2 and "demo seed" in err


# --- accuracy against the planted truth -----------------------------------------------------------


def estimates_beside_truth(lakes: dict[int, Path], days: int) -> pd.DataFrame:
    """Every campaign of every seed: estimate beside the planted truth."""
    frames = []
    for seed, lake in lakes.items():
        engine = DuckDBEngine(lake)
        report = data.campaign_report(engine, *data.default_range(engine, days, today=END))
        # The standard error itself: the interval's width also holds the lag search's
        # critical value, which says nothing about how precise the point estimate is.
        _, estimates = lift.fit_all(report.orders, report.campaigns, report.settings)
        se = {cid: e.best.se for cid, e in estimates.items() if e is not None}
        effects = report.effects.assign(se=report.effects["campaign_id"].map(se))
        truth = pd.DataFrame(ground_truth(lake)["campaigns"])[["campaign_id", "lift", "lag_days"]]
        truth = truth.rename(columns={"lift": "planted", "lag_days": "planted_lag"})
        frames.append(effects.merge(truth, on="campaign_id").assign(seed=seed))
    table = pd.concat(frames, ignore_index=True)
    estimated = table[~table["flags"].map(lambda f: FLAG_TOO_EARLY in f)].copy()
    se = estimated["se"]
    estimated["z"] = (np.log1p(estimated["lift"]) - np.log1p(estimated["planted"])) / se
    estimated["se_points"] = se * (1 + estimated["planted"]) * 100
    estimated["error_points"] = (estimated["lift"] - estimated["planted"]) * 100
    estimated["signal"] = np.log1p(estimated["planted"]) / se
    return estimated


@pytest.fixture(scope="session")
def lift_table(year_lakes) -> pd.DataFrame:
    return estimates_beside_truth(year_lakes, YEAR["days"])


@pytest.fixture(scope="session")
def large_lift_table(large_lakes) -> pd.DataFrame:
    return estimates_beside_truth(large_lakes, LARGE["days"])


@pytest.mark.slow
def test_every_campaign_of_every_seed_is_estimated(lift_table, year_lakes):
    assert lift_table["lift"].notna().all()
    assert len(lift_table) >= 20 * len(year_lakes)


@pytest.mark.slow
def test_planted_lifts_lie_inside_the_intervals_at_their_stated_rate(lift_table):
    inside = (lift_table["lift_low"] <= lift_table["planted"]) & (
        lift_table["planted"] <= lift_table["lift_high"]
    )
    # A 95% interval misses with probability 0.05: misses ~ Binomial(n, 0.05), and at LEVEL
    # (0.001) at most its 0.999 quantile (n = 73: 10 misses, 86% inside; the old bound, 90%
    # inside, failed a valid estimator about one seed set in thirty).
    assert (~inside).sum() <= max_misses(len(lift_table), 0.05), lift_table.loc[~inside, COLUMNS]
    # None far outside: n z-scores all within Φ⁻¹(1 − LEVEL / 2n) (n = 73: 4.35; was 3.0).
    assert lift_table["z"].abs().max() <= max_abs_z(len(lift_table)), lift_table.loc[~inside, COLUMNS]


@pytest.mark.slow
def test_point_estimates_are_unbiased_and_as_close_as_their_precision_allows(lift_table):
    n, se = len(lift_table), lift_table["se_points"]
    # Unbiased: independent errors N(0, se_i²) average to N(0, sqrt(Σ se_i²) / n); two-sided
    # at LEVEL, |mean| ≤ Φ⁻¹(1 − LEVEL / 2) · sqrt(Σ se_i²) / n (was: 1 point).
    assert abs(lift_table["error_points"].mean()) <= max_abs_z(1) * np.sqrt((se**2).sum()) / n
    # Within ±2 points with p_i = 2Φ(2 / se_i) − 1 if errors are as wide as stated; the share
    # has sd sqrt(Σ p_i (1 − p_i)) / n, one-sided at LEVEL: Φ⁻¹(1 − LEVEL) of them below
    # (was: 0.1 below the expected share).
    p = 2 * stats.norm.cdf(2.0 / se) - 1
    within = (lift_table["error_points"].abs() <= 2.0).mean()
    assert within >= p.mean() - stats.norm.ppf(1 - LEVEL) * np.sqrt((p * (1 - p)).sum()) / n


@pytest.mark.slow
def test_lags_are_exact_where_the_effect_stands_out(lift_table):
    planted = lift_table[lift_table["planted"] > 0]
    exact = planted["lag_days"] == planted["planted_lag"]
    assert exact.mean() >= 0.85
    assert exact[planted["signal"] >= 8].mean() >= 0.95


COLUMNS = [
    "seed",
    "campaign_id",
    "planted",
    "lift",
    "lift_low",
    "lift_high",
    "planted_lag",
    "lag_days",
    "flags",
]


@pytest.mark.slow
def test_at_scale_every_estimate_is_within_two_points_of_the_planted_lift(large_lift_table):
    assert len(large_lift_table) >= 8 * len(SEEDS)
    close = large_lift_table["error_points"].abs() <= 2.0
    assert close.all(), large_lift_table.loc[~close, [*COLUMNS, "error_points"]]


@pytest.mark.slow
def test_at_scale_every_lag_is_exact(large_lift_table):
    planted = large_lift_table[large_lift_table["planted"] > 0]
    exact = planted["lag_days"] == planted["planted_lag"]
    assert exact.all(), planted.loc[~exact, COLUMNS]


@pytest.mark.slow
def test_at_scale_the_intervals_hold_the_planted_lifts_at_their_stated_rate(large_lift_table):
    # A valid 95% interval misses the truth one time in twenty, whatever the scale: over
    # ~37 campaigns "every one inside" would hold one time in six. The rate is what a
    # valid interval promises, and no miss may be far.
    inside = (large_lift_table["lift_low"] <= large_lift_table["planted"]) & (
        large_lift_table["planted"] <= large_lift_table["lift_high"]
    )
    # The same bounds as at the default scale (n = 35: at most 7 misses; max|z| ≤ 4.18; the
    # old bounds were 90% inside and 3.5).
    n = len(large_lift_table)
    assert (~inside).sum() <= max_misses(n, 0.05), large_lift_table.loc[~inside, COLUMNS]
    assert large_lift_table["z"].abs().max() <= max_abs_z(n), large_lift_table.loc[~inside, COLUMNS]


@pytest.mark.slow
def test_campaigns_without_effect_are_never_reported_with_confidence(lift_table):
    idle = lift_table[lift_table["planted"] == 0]
    assert len(idle) >= len(SEEDS)
    # The planted lift is 0: z is the estimate's own z-score, n of them within
    # Φ⁻¹(1 − LEVEL / 2n) (n = 3: 3.59; was 3). How often one is called significant is the
    # next test's binomial bound, over both scales.
    assert idle["z"].abs().max() <= max_abs_z(len(idle)), idle[COLUMNS]
    spans_zero = (idle["lift_low"] < 0) & (idle["lift_high"] > 0)
    assert (spans_zero == idle["flags"].map(lambda flags: FLAG_NO_EFFECT in flags)).all(), idle[COLUMNS]


@pytest.mark.slow
def test_campaigns_without_effect_are_reported_as_such_at_both_scales(lift_table, large_lift_table):
    idle = pd.concat([lift_table.assign(scale=1), large_lift_table.assign(scale=20)])
    idle = idle[idle["planted"] == 0]
    assert len(idle) >= 2 * len(SEEDS)  # every seed plants one (at 20x, within 2 points: see above)
    # At the 95% level, with the lag search accounted for, an idle campaign is called
    # significant 5% of the time: false calls ~ Binomial(n, 0.05), at LEVEL at most its
    # 0.999 quantile (n = 6: 3; the old bound, 1, failed a valid estimator one time in 30).
    spans_zero = (idle["lift_low"] < 0) & (idle["lift_high"] > 0)
    reported = idle["flags"].map(lambda flags: FLAG_NO_EFFECT in flags)
    assert (spans_zero == reported).all() and (idle.loc[reported, "lag_days"].isna()).all()
    assert (~reported).sum() <= max_misses(len(idle), 0.05), idle[[*COLUMNS, "scale"]]


@pytest.mark.slow
def test_at_scale_overlapping_campaigns_are_flagged_and_still_separated(large_lift_table):
    overlapping = large_lift_table[large_lift_table["flags"].map(lambda flags: "overlap" in flags)]
    assert len(overlapping) >= 2 * len(SEEDS)  # a pair per seed, planted from a quarter on
    assert (overlapping["error_points"].abs() <= 2.0).all(), overlapping[COLUMNS]


@pytest.fixture(scope="session")
def forecast_summaries(year_lakes) -> pd.DataFrame:
    frames = []
    for seed, lake in year_lakes.items():
        engine = DuckDBEngine(lake)
        frames.append(data.forecast_report(engine, *year_range(engine), horizon=28).summary.assign(seed=seed))
    return pd.concat(frames, ignore_index=True)


@pytest.mark.slow
def test_forecasts_beat_repeating_last_week_by_a_fifth_on_every_line(forecast_summaries):
    assert len(forecast_summaries) == 5 * len(SEEDS)
    assert (forecast_summaries["mase"] <= 0.8).all(), forecast_summaries[
        ["seed", "product_line", "model", "mase"]
    ]


@pytest.mark.slow
def test_forecast_intervals_hold_their_stated_share_on_every_seed(forecast_summaries):
    per_seed = forecast_summaries.groupby("seed")[["coverage_80", "coverage_95"]].mean()  # the 5 lines pooled
    # Days 1-7 after 28 consecutive origins cover 34 distinct days; forecasts of one day share
    # its outcome, so count 34 independent trials a line (conservative), 5 lines = 170 a seed.
    # Binomial, normal approximation, two-sided at LEVEL over the 3 seeds: ±3.59 sd, that is
    # 80% ± 11 points and 95% ± 6 points (was: 75-85% and at least 90%).
    low_80, high_80 = share_band(0.80, n=5 * distinct_days(28), k=len(per_seed))
    low_95, _ = share_band(0.95, n=5 * distinct_days(28), k=len(per_seed))
    assert per_seed["coverage_80"].between(low_80, high_80).all(), per_seed
    assert (per_seed["coverage_95"] >= low_95).all(), per_seed


LONG_BACKTEST = 140  # test origins: five 28-origin windows


def distinct_days(origins: int) -> int:
    """Distinct days that days 1-7 after ``origins`` consecutive origins forecast."""
    return origins + fc.BacktestDesign().headline_steps - 1


@pytest.fixture(scope="session")
def long_backtest_summaries(year_lakes) -> pd.DataFrame:
    """The same forecasts scored over 140 rolling origins instead of 28: coverage measured
    on 28 origins (whose 7-day targets overlap) swings by ±10 points from one window to
    the next, so a line's calibration shows only on a longer run."""
    frames = []
    for seed, lake in year_lakes.items():
        engine = DuckDBEngine(lake)
        design = fc.BacktestDesign(test_origins=LONG_BACKTEST)
        frames.append(
            data.forecast_report(engine, *year_range(engine), horizon=28, design=design).summary.assign(
                seed=seed
            )
        )
    return pd.concat(frames, ignore_index=True)


@pytest.mark.slow
def test_every_lines_intervals_hold_their_stated_share_over_a_long_backtest(long_backtest_summaries):
    summary = long_backtest_summaries[["seed", "product_line", "model", "coverage_80", "coverage_95"]]
    assert len(summary) == 5 * len(SEEDS)
    # 146 distinct days a line (see above), two-sided at LEVEL over the 15 lines: ±3.99 sd,
    # 80% ± 13 points and 95% − 7 points (was: 75-85% and 90-99%; a 95% range holding on
    # every day is no failure of calibration that 146 days can show).
    low_80, high_80 = share_band(0.80, n=distinct_days(LONG_BACKTEST), k=len(summary))
    low_95, _ = share_band(0.95, n=distinct_days(LONG_BACKTEST), k=len(summary))
    assert summary["coverage_80"].between(low_80, high_80).all(), summary
    assert (summary["coverage_95"] >= low_95).all(), summary


@pytest.mark.slow
def test_shortfalls_appear_where_capacity_is_planned_below_the_peak(year_lakes):
    # Capacity is planned at 1.00-1.12 times mean demand; the year ends in the Q4 peak.
    engine = DuckDBEngine(year_lakes[7])
    report = data.forecast_report(engine, *year_range(engine), horizon=28)
    assert report.summary["shortfall_days"].map(len).sum() > 0
    shelves = report.lines["shelves"]  # margin 1.00: short whenever demand is above its mean
    assert shelves.daily["short"].any() and shelves.weekly["short"].any()
