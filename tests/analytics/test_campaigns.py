"""Campaign lift on synthetic regional orders with planted lifts and lags (known truth)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from app.analytics import campaigns as lift
from tests.analytics.synthetic import Planted, campaign_frame, regional_orders

# Large regions: a 3-week campaign's lift is then known to about ±1 point, so the
# estimator's own logic (not Poisson noise) decides whether these pass.
BIG = {"north": 4000.0, "south": 3000.0, "east": 2500.0, "west": 2000.0}


def estimate(plants: list[Planted], seed: int = 0, regions=BIG, **settings) -> pd.DataFrame:
    orders = regional_orders(plants, seed=seed, regions=regions)
    return lift.estimate_campaign_effects(
        orders, campaign_frame(plants), lift.LiftSettings(**settings)
    ).set_index("campaign_id")


@pytest.mark.parametrize(
    "plant",
    [
        pytest.param(Planted("c", "north", "2025-04-01", 21, 0.15, 3), id="15pct-lag3"),
        pytest.param(Planted("c", "west", "2025-06-10", 14, 0.25, 0), id="25pct-lag0-small-region"),
        pytest.param(Planted("c", "east", "2025-09-01", 28, 0.08, 7), id="8pct-lag7"),
        pytest.param(Planted("c", "south", "2025-11-20", 10, 0.30, 5), id="30pct-over-christmas-shape"),
    ],
)
def test_planted_lift_and_lag_are_recovered(plant):
    row = estimate([plant]).loc["c"]
    assert row["lift_low"] <= plant.lift <= row["lift_high"]
    assert abs(row["lift"] - plant.lift) <= 0.02
    assert row["lag_days"] == plant.lag
    assert row["flags"] == []


def test_zero_effect_campaign_is_reported_as_none():
    row = estimate([Planted("idle", "east", "2025-05-01", 21, 0.0, 4)]).loc["idle"]
    assert row["lift_low"] < 0 < row["lift_high"]
    assert row["lag_days"] is None
    assert lift.FLAG_NO_EFFECT in row["flags"]


def test_incremental_orders_revenue_and_roi_follow_the_lift():
    plant = Planted("c", "north", "2025-04-01", 21, 0.20, 2, spend_per_day=2000.0)
    orders = regional_orders([plant], regions=BIG)
    row = lift.estimate_campaign_effects(orders, campaign_frame([plant])).iloc[0]
    window = orders[
        (orders["region"] == "north")
        & orders["date"].between(
            plant.start_date + pd.Timedelta(days=2), plant.end_date + pd.Timedelta(days=2)
        )
    ]
    expected_orders = window["orders"].sum() * (1 - 1 / (1 + row["lift"]))
    assert row["incremental_orders"] == pytest.approx(expected_orders, rel=1e-9)
    assert row["incremental_orders_low"] < row["incremental_orders"] < row["incremental_orders_high"]
    assert row["incremental_revenue"] == pytest.approx(window["revenue"].sum() * 0.2 / 1.2, rel=0.25)
    assert row["roi"] == pytest.approx(row["incremental_revenue"] / (2000.0 * 21))


def test_overlapping_campaigns_are_separated_and_flagged():
    plants = [
        Planted("base", "north", "2025-05-01", 21, 0.15, 2),
        Planted("partner", "north", "2025-05-12", 14, 0.10, 5),
    ]
    table = estimate(plants)
    for plant in plants:
        row = table.loc[plant.campaign_id]
        assert lift.FLAG_OVERLAP in row["flags"]
        assert row["lift_low"] <= plant.lift <= row["lift_high"]
        assert abs(row["lift"] - plant.lift) <= 0.02
        assert row["lag_days"] == plant.lag


def test_all_regions_at_once_falls_back_to_own_history_and_says_so():
    plants = [Planted(f"all-{r}", r, "2025-03-10", 14, 0.12, 2) for r in BIG]
    table = estimate(plants)
    for plant in plants:
        row = table.loc[plant.campaign_id]
        assert lift.FLAG_NO_CONTROL in row["flags"]
        assert row["method"].startswith("own history")
        assert row["controls"] == []


def test_control_regions_with_their_own_campaigns_are_modelled_not_used_raw():
    # The east campaign runs while west has one too: west's days must not count as clean control.
    plants = [
        Planted("east", "east", "2025-07-01", 21, 0.10, 1),
        Planted("west", "west", "2025-07-05", 21, 0.30, 0),
    ]
    row = estimate(plants).loc["east"]
    assert abs(row["lift"] - 0.10) <= 0.02
    assert row["lag_days"] == 1


@pytest.mark.parametrize(
    "start, flag",
    [
        pytest.param("2025-12-10", lift.FLAG_INCOMPLETE, id="effect-runs-past-the-data"),
        pytest.param("2025-12-20", lift.FLAG_TOO_EARLY, id="started-too-recently-to-judge"),
    ],
)
def test_campaigns_at_the_end_of_the_data_are_flagged(start, flag):
    row = estimate([Planted("late", "north", start, 21, 0.2, 3)]).loc["late"]
    assert flag in row["flags"]
    if flag == lift.FLAG_TOO_EARLY:
        assert np.isnan(row["lift"])


def test_intervals_cover_planted_lifts_at_their_stated_rate():
    # Many small, noisy campaigns: the 95% interval should hold the truth about 95% of the time.
    small = {"north": 150.0, "south": 120.0, "east": 100.0, "west": 80.0}
    inside = []
    for seed in range(12):
        rng = np.random.default_rng(seed)
        plants = [
            Planted(
                f"c{i}",
                region,
                f"2025-0{3 + 2 * i}-0{1 + i}",
                14,
                float(rng.uniform(0.05, 0.3)),
                int(rng.integers(0, 8)),
            )
            for i, region in enumerate(small)
        ]
        table = estimate(plants, seed=seed, regions=small)
        inside += [
            table.loc[p.campaign_id, "lift_low"] <= p.lift <= table.loc[p.campaign_id, "lift_high"]
            for p in plants
        ]
    assert 0.85 <= np.mean(inside) <= 1.0


@pytest.mark.parametrize("groups", [pytest.param(1, id="one-effect"), pytest.param(2, id="two-way")])
def test_demean_matches_dense_least_squares(groups):
    rng = np.random.default_rng(groups)
    n = 60
    codes = [rng.integers(0, 5, n), rng.integers(0, 9, n)][:groups]
    weights = rng.uniform(0.5, 2.0, n)
    vector = rng.normal(size=n)
    dense = np.column_stack([np.eye(c.max() + 1)[c] for c in codes])
    root = np.sqrt(weights)
    coef = np.linalg.lstsq(dense * root[:, None], vector * root, rcond=None)[0]
    assert lift.demean(vector, codes, weights) == pytest.approx(vector - dense @ coef, abs=1e-8)


def test_lagged_correlation_peaks_at_the_response_lag():
    days = pd.date_range("2025-01-01", periods=200)
    rng = np.random.default_rng(3)
    spend = pd.Series(rng.gamma(2.0, 1.0, 200), index=days)
    response = spend.shift(4).fillna(0) * 10 + rng.normal(0, 1, 200)
    table = lift.lagged_correlation(spend, response, max_lag=10)
    assert table.loc[table["correlation"].idxmax(), "lag"] == 4


def test_counterfactual_sits_below_the_actual_by_the_lift_during_the_effect():
    plant = Planted("c", "north", "2025-04-01", 21, 0.2, 3)
    orders = regional_orders([plant], regions=BIG)
    frame = lift.counterfactual(orders, campaign_frame([plant]), "c")
    effect = frame[frame["in_effect"]]
    assert effect["date"].min() == plant.start_date + pd.Timedelta(days=3)
    assert len(effect) == plant.days
    ratio = effect["actual"].sum() / effect["counterfactual"].sum()
    assert ratio == pytest.approx(1.2, abs=0.02)
    assert (frame["low"] < frame["counterfactual"]).all() and (frame["counterfactual"] < frame["high"]).all()
    before = frame[~frame["in_effect"]]
    assert (before["actual"] / before["counterfactual"]).mean() == pytest.approx(1.0, abs=0.01)


def test_no_campaigns_gives_an_empty_table_with_the_columns():
    orders = regional_orders([], regions=BIG, days=60)
    table = lift.estimate_campaign_effects(orders, campaign_frame([]))
    assert table.empty and list(table.columns) == lift.RESULT_COLUMNS


@pytest.mark.parametrize(
    "columns, expected",
    [
        pytest.param(1, stats.t.ppf(0.975, 400), id="one-lag-is-the-t-quantile"),
        pytest.param(-15, stats.t.ppf(0.975, 400), id="identical-lags-search-nothing"),
        pytest.param(
            15,
            stats.t.ppf(stats.norm.cdf(stats.norm.ppf(1 - (1 - 0.95 ** (1 / 15)) / 2)), 400),
            id="independent-lags-are-sidak",
        ),
    ],
)
def test_search_critical_value(columns, expected):
    # columns > 0: that many orthogonal lag dummies; < 0: that many copies of one dummy.
    base = np.eye(60)[: abs(columns)] if columns > 0 else np.ones((-columns, 60))
    value = lift.search_critical_value(list(base), 0.95, 400, 20_000)
    assert value == pytest.approx(expected, rel=0.02)


def test_idle_campaigns_are_significant_at_the_stated_rate_despite_the_lag_search():
    # Picking the best of 15 lags with a single-lag t-quantile called ~22% of these significant.
    regions = {"north": 300.0, "south": 250.0, "east": 200.0, "west": 400.0}
    significant = []
    for seed in range(40):
        rng = np.random.default_rng(1000 + seed)
        plant = Planted(
            "idle",
            "north",
            f"2025-0{4 + seed % 5}-1{seed % 9}",
            int(rng.integers(7, 22)),
            0.0,
            int(rng.integers(0, 8)),
        )
        row = estimate([plant], seed=seed, regions=regions).loc["idle"]
        significant.append(lift.FLAG_NO_EFFECT not in row["flags"])
    assert np.mean(significant) <= 0.10


def test_critical_values_are_simulated_from_the_same_fixed_seed_draws_every_time():
    draws = lift.standard_normal_draws(1000, 4)
    np.testing.assert_array_equal(draws, np.random.default_rng(0).standard_normal((1000, 4)))
    assert lift.standard_normal_draws(1000, 4) is draws and not draws.flags.writeable
