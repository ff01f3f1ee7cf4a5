"""Demand forecasting: backtest design, calibration, metrics, and a whole line on synthetic demand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from app.analytics import forecast as fc
from app.analytics.calendar import holiday_regressors
from app.demo.world import WEEKDAY_FACTORS
from tests.analytics.synthetic import line_demand
from tests.stats_bounds import share_band


@pytest.mark.parametrize(
    "days, horizon",
    [
        pytest.param(365, 28, id="year-4-weeks"),
        pytest.param(365, 7, id="year-1-week"),
        pytest.param(200, 14, id="200-days-2-weeks"),
    ],
)
def test_calibration_targets_end_before_the_first_test_origin(days, horizon):
    design = fc.BacktestDesign(horizon=horizon)
    calibration, test = design.origins(days)
    assert len(test) == design.test_origins and test[-1] + horizon == days  # last target = last day
    assert calibration[-1] + horizon <= test[0]  # calibration never sees a test target
    assert calibration[0] >= design.min_train or days < design.required_days
    assert np.all(np.diff(np.r_[calibration, test]) >= 1)


def test_short_history_shrinks_the_calibration_first():
    design = fc.shrink_to(180, fc.BacktestDesign(horizon=28))
    assert design.fits(180)
    assert design.calibration_origins < 56 and design.test_origins == 28


def test_seasonal_naive_repeats_the_same_weekday_of_the_last_week():
    y = np.arange(30, dtype=float)
    paths = fc.SeasonalNaive(7).fit(y, None).paths(y, None, np.array([20]), 10)
    assert paths.mean[0].tolist() == [13, 14, 15, 16, 17, 18, 19, 13, 14, 15]


@pytest.mark.parametrize(
    "actual, predicted, expected",
    [
        pytest.param([10, 20], [10, 20], {"wape": 0.0, "mase": 0.0, "smape": 0.0}, id="perfect"),
        pytest.param(
            [10, 30],
            [20, 20],
            {"wape": 0.5, "mase": 2.0, "smape": (2 * 10 / 30 + 2 * 10 / 50) / 2},
            id="off-by-10",
        ),
    ],
)
def test_accuracy_figures(actual, predicted, expected):
    figures = fc.accuracy(np.array(actual, float), np.array(predicted, float), scale=5.0)
    for name, value in expected.items():
        assert figures[name] == pytest.approx(value)


def test_mase_scale_is_the_mean_absolute_weekly_difference():
    units = np.array([10, 10, 10, 10, 10, 10, 10, 12, 8, 10, 10, 10, 10, 10], float)
    assert fc.naive_scale(units) == pytest.approx(4 / 7)


def test_sliding_calibration_only_uses_errors_known_at_the_origin():
    origins = np.arange(100)
    errors = np.random.default_rng(0).normal(size=(100, 7))
    errors[60:] = 50.0  # forecasts made at origin 60 or later: their errors are not known before 67
    calibration = fc.sliding_calibration(errors, origins, at=67, window=56)
    low, high = calibration.z[0.8]
    assert -2 < low[0] < -0.8 and 0.8 < high[0] < 2
    later = fc.sliding_calibration(errors, origins, at=100, window=56)
    assert later.z[0.8][1][0] == pytest.approx(50.0)


@pytest.mark.parametrize("model_class", [fc.ETS, fc.RegressionARIMA], ids=["ets", "sarimax"])
@pytest.mark.parametrize("seed", [1, 2])
def test_every_origins_forecast_at_once_equals_statsmodels_one_origin_at_a_time(model_class, seed):
    demand = line_demand({"lamps": 300.0}, days=240, seed=seed)
    daily = demand.set_index("date")["units"]
    dates = pd.date_range(daily.index.min(), periods=len(daily))
    series = fc.make_series(daily, 0, holiday_regressors(dates, dates[:120]))
    y, exog = series.log, series.past_exog
    assert exog.shape[1] > fc.WEEKDAY_COLUMNS  # holidays: time-varying intercepts are exercised
    model = model_class().fit(y[:120], exog[:120])
    if isinstance(model, fc.ETS):
        y = model._adjusted(y, exog)  # what ETS.paths hands its filter
    origins = np.arange(120, len(y) - 27)
    together = fc.StateSpaceModel.paths(model, y, exog, origins, 28)
    one_by_one = model.paths_one_by_one(y, exog, origins, 28)
    np.testing.assert_allclose(together.mean, one_by_one.mean, rtol=0, atol=1e-10)
    np.testing.assert_allclose(together.sd, one_by_one.sd, rtol=1e-10, atol=0)
    if isinstance(model, fc.ETS):  # no regressors: forecasts may run past the data, as statsmodels' do
        late = fc.StateSpaceModel.paths(model, y[:-5], None, origins[-3:], 28)
        reference = model.paths_one_by_one(y[:-5], None, origins[-3:], 28)
        np.testing.assert_allclose(late.mean, reference.mean, rtol=0, atol=1e-10)
        np.testing.assert_allclose(late.sd, reference.sd, rtol=1e-10, atol=0)
    else:  # regressors stop with the data: said, not an IndexError
        with pytest.raises(ValueError, match="regressors"):
            fc.StateSpaceModel.paths(model, y[:-5], exog[:-5], origins[-3:], 28)


@pytest.mark.parametrize("spoil", [False, True], ids=["stacked", "one-by-one"])
def test_sliding_bounds_stacked_equal_one_origin_at_a_time(spoil):
    rng = np.random.default_rng(5)
    origins, design = np.arange(40, 152), fc.BacktestDesign(horizon=28, calibration_origins=56)
    errors = rng.standard_t(4, size=(len(origins), 28))
    if spoil:
        errors[3, 5] = np.nan  # a non-finite error: the stacked path declines
    paths = fc.Paths(origins, rng.normal(5, 0.1, errors.shape), rng.uniform(0.05, 0.2, errors.shape))
    test_origins = origins[-28:]
    assert (fc.sliding_quantiles(errors, origins, test_origins, 56) is None) == spoil
    found = fc.sliding_bounds(paths, errors, test_origins, design)
    reference = fc.bounds_one_by_one(paths, errors, test_origins, design)
    for level in fc.LEVELS:
        for got, expected in zip(found[level], reference[level], strict=True):
            np.testing.assert_array_equal(got, expected)


@pytest.fixture(scope="module")
def chairs() -> fc.LineForecast:
    demand = line_demand({"chairs": 600.0}, days=365, seed=1)
    daily = demand.set_index("date")["units"]
    dates = pd.date_range(daily.index.min(), periods=len(daily) + 28)
    train = fc.BacktestDesign().origins(len(daily))[0][0]
    return fc.forecast_line("chairs", daily, 28, holiday_regressors(dates, dates[:train]))


def test_a_year_of_line_demand_is_backtested_and_forecast(chairs):
    assert chairs.note == ""
    assert set(chairs.backtest["model"]) == {"seasonal_naive", "ets", "sarimax", "ets+sarimax"}
    assert chairs.backtest["chosen"].sum() == 1 and chairs.model != "seasonal_naive"
    metrics = chairs.metrics
    assert metrics["mase"] <= 0.8  # days 1-7 ahead, 28 rolling origins
    # One line, days 1-7 after 28 origins: 34 distinct days (forecasts of one day share its
    # outcome). Binomial, normal approximation, two-sided at LEVEL: 80% ± 23 points, 95% − 12
    # points (was 70-90% and at least 85%). 34 days cannot check calibration more closely;
    # tests/analytics/test_seeded.py does, over 140 origins and 15 lines.
    low_80, high_80 = share_band(0.80, n=34)
    assert low_80 <= metrics["coverage_80"] <= high_80 and metrics["coverage_95"] >= share_band(0.95, n=34)[0]
    assert list(chairs.accuracy_by_week["days"]) == ["1-7", "8-14", "15-21", "22-28", "1-28"]


def test_forecast_frame_has_ordered_bounds_for_every_day(chairs):
    frame = chairs.forecast
    assert len(frame) == 28 and frame["date"].iloc[0] == chairs.history["date"].iloc[-1] + pd.Timedelta(
        days=1
    )
    assert (frame["low_95"] <= frame["low_80"]).all() and (frame["low_80"] <= frame["forecast"]).all()
    assert (frame["forecast"] <= frame["high_80"]).all() and (frame["high_80"] <= frame["high_95"]).all()
    assert len(chairs.weekly) == 4
    assert chairs.weekly["forecast"].sum() == pytest.approx(frame["forecast"].sum())


def test_black_friday_is_forecast_from_last_years_black_friday(chairs):
    # The synthetic year ends on Thanksgiving 2026: Black Friday is tomorrow, at 2.1x.
    frame = chairs.forecast.set_index("date")["forecast"]
    black_friday, next_friday = frame[pd.Timestamp("2026-11-27")], frame[pd.Timestamp("2026-12-04")]
    assert black_friday > 1.6 * next_friday


def test_test_window_rows_are_the_chosen_models_backtest(chairs):
    window = chairs.test_window
    assert len(window) == 28 * 28
    inside = (window["actual"] >= window["low_80"]) & (window["actual"] <= window["high_80"])
    assert inside.mean() == pytest.approx(chairs.metrics["coverage_80_all"])


def test_the_ets_level_keeps_moving_where_the_likelihood_would_freeze_it():
    from statsmodels.tsa.statespace.exponential_smoothing import ExponentialSmoothing

    rng = np.random.default_rng(3)
    calm = (
        5 + np.tile(np.log(WEEKDAY_FACTORS), 14) + rng.normal(0, 0.05, 98)
    )  # three calm months: a flat level and noise
    free = ExponentialSmoothing(
        calm, trend=True, damped_trend=True, seasonal=7, initialization_method="heuristic"
    ).fit(disp=False)
    assert free.model.param_names[0] == "smoothing_level"
    assert free.params[0] < fc.LEVEL_SMOOTHING_FLOOR  # unbounded, the level would freeze
    assert fc.ETS().fit(calm, None).result.params[0] >= fc.LEVEL_SMOOTHING_FLOOR - 1e-9


def test_too_short_a_history_says_so_and_still_forecasts():
    demand = line_demand({"sofas": 200.0}, days=60, seed=2)
    result = fc.forecast_line("sofas", demand.set_index("date")["units"], 14)
    assert "backtest needs" in result.note and result.backtest.empty
    assert len(result.forecast) == 14 and result.model == "seasonal_naive"


def test_campaign_regressor_spreads_the_region_share_over_the_possible_lags():
    dates = pd.date_range("2025-01-01", periods=30)
    campaigns = pd.DataFrame(
        {
            "campaign_id": ["c"],
            "region": ["east"],
            "start_date": [pd.Timestamp("2025-01-05")],
            "end_date": [pd.Timestamp("2025-01-10")],
        }
    )
    values = fc.campaign_regressor(dates, campaigns, {"east": 0.4}, lag_weights=np.array([0.5, 0.5]))
    assert values[pd.Timestamp("2025-01-04")] == 0
    assert values[pd.Timestamp("2025-01-05")] == pytest.approx(0.2)
    assert values[pd.Timestamp("2025-01-08")] == pytest.approx(0.4)
    assert values[pd.Timestamp("2025-01-11")] == pytest.approx(0.2)


def test_a_flat_history_still_gives_the_regression_arima_a_spread():
    """A line selling at most a unit a day is a constant 0 in log units: the concentrated
    likelihood's variance is then 0, and a zero sd makes every standardised error 0/0 or
    x/0 (the backtest's coverage 0, its intervals NaN)."""
    days = 90
    exog = fc.weekday_dummies(pd.date_range("2025-01-01", periods=days))
    flat = np.zeros(days)
    model = fc.RegressionARIMA().fit(flat[:60], exog[:60])
    assert model.result.params[-1] > 0  # sigma2
    later = flat.copy()
    later[60:] = np.log(np.random.default_rng(0).integers(1, 6, days - 60))
    paths = model.paths(later, exog, np.arange(60, 80), 7)
    errors = (fc.target_matrix(later, paths.origins, 7) - paths.mean) / paths.sd
    assert (paths.sd > 0).all() and np.isfinite(errors).all()
