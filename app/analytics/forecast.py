"""Demand forecasts per product line, chosen and calibrated by a rolling-origin backtest.

Models (all on log units, so that seasonality and campaign effects are multiplicative):

* ``seasonal_naive`` — tomorrow is the same weekday last week. The baseline MASE compares with.
* ``ets`` — additive Holt-Winters in state-space form (level, damped trend, weekly season),
  statsmodels ``statespace.ExponentialSmoothing``, on demand with the holiday and campaign
  effects taken out (and put back in the forecast).
* ``sarimax`` — regression with ARIMA(1,1,1) errors (statsmodels ``SARIMAX``): weekday
  dummies, retail holidays and the planned campaigns as regressors.
* ``ets+sarimax`` — the mean of the two.

Backtest design (see docs/analytics.md). With ``n`` days of history, horizon ``H``:

    | train (fit parameters once) | calibration origins | gap H | test origins (28) | H |

Every origin forecasts the next ``H`` days from the data before it. Parameters are fitted
once, on the history before the first calibration origin; every later origin re-runs the
Kalman filter over the data up to it with those parameters (no refit), which is what keeps
the whole backtest fast. The calibration origins choose the model (lowest MAE); their targets
end before the first test origin, so the test window — the reported figures — never
influences the choice. Intervals are calibrated on the model's own standardised log errors
(split-conformal quantiles per week ahead), sliding: each forecast uses only the errors of
the latest origins whose outcomes were known when it was made.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, Self

import numpy as np
import pandas as pd

from app.analytics.blas import one_thread
from app.analytics.campaigns import effect_days

LEVELS = (0.8, 0.95)
QUANTILES = [q for level in LEVELS for q in ((1 - level) / 2, (1 + level) / 2)]  # low, high per level
MODEL_NAMES = ("seasonal_naive", "ets", "sarimax")


@dataclass(frozen=True)
class BacktestDesign:
    horizon: int = 28  # days each origin forecasts (the forecast's own horizon)
    test_origins: int = 28  # one per day: the reported backtest
    calibration_origins: int = 56  # earlier origins: model choice and interval calibration
    min_train: int = 56  # days the parameters are fitted on, at least
    season: int = 7
    headline_steps: int = 7  # the headline figures: days 1-7 after each origin

    def fits(self, days: int) -> bool:
        return days >= self.required_days

    @property
    def required_days(self) -> int:
        return self.min_train + self.calibration_origins + self.test_origins + 2 * self.horizon - 1

    def origins(self, days: int) -> tuple[np.ndarray, np.ndarray]:
        """(calibration origins, test origins): index of each origin's first forecast day."""
        test_first = days - self.horizon - self.test_origins + 1
        calibration_last = test_first - self.horizon
        calibration = np.arange(calibration_last - self.calibration_origins + 1, calibration_last + 1)
        return calibration, np.arange(test_first, test_first + self.test_origins)


def shrink_to(days: int, design: BacktestDesign) -> BacktestDesign:
    """A smaller design that fits a short history (fewer calibration origins first)."""
    spare = days - design.required_days
    if spare >= 0:
        return design
    calibration = max(design.calibration_origins + spare, 14)
    return replace(design, calibration_origins=calibration)


@dataclass
class Paths:
    """Forecasts of one model from many origins: log-scale median and sd, origins × horizon."""

    origins: np.ndarray
    mean: np.ndarray
    sd: np.ndarray


def target_matrix(y: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    return np.stack([y[o : o + horizon] for o in origins])


# The smallest spread (sd, log units) a model forecasts with: a flat history has none, and
# a forecast's errors are standardised by it.
MIN_SCALE = 1e-6


class SeasonalNaive:
    """y[t + h] = y[t + h - 7k], the same weekday in the last observed week."""

    name = "seasonal_naive"

    def __init__(self, season: int = 7):
        self.season = season
        self.scale = np.nan

    def fit(self, y: np.ndarray, exog: np.ndarray | None) -> Self:
        diffs = y[self.season :] - y[: -self.season]
        diffs = diffs[~np.isnan(diffs)]
        # Under two seasons of history there is no seasonal difference to measure: NaN
        # scale (uncalibrated intervals), said so by the caller, rather than a warning.
        self.scale = (float(np.std(diffs)) or MIN_SCALE) if diffs.size > 1 else np.nan
        return self

    def paths(self, y: np.ndarray, exog: np.ndarray | None, origins: np.ndarray, horizon: int) -> Paths:
        steps = np.arange(horizon)
        weeks = steps // self.season + 1
        index = origins[:, None] + steps[None, :] - self.season * weeks[None, :]
        return Paths(origins, y[index], np.broadcast_to(self.scale * np.sqrt(weeks), index.shape).copy())

    def forecast(
        self, y: np.ndarray, exog: np.ndarray | None, future: np.ndarray | None, horizon: int
    ) -> Paths:
        extended = np.concatenate([y, np.full(horizon, np.nan)])
        return self.paths(extended, None, np.array([len(y)]), horizon)


_LOADING = threading.Lock()


def load_models() -> None:
    """Import statsmodels' state-space models: about 1 s, once per process. The dashboard
    does it in the background when the server starts, so that the first forecast a
    visitor asks for does not pay it. Every model goes through here before it imports
    them: one thread imports, the others wait (two threads importing one package's
    modules at once can see one half-initialised)."""
    with _LOADING:
        import statsmodels.tsa.statespace.exponential_smoothing
        import statsmodels.tsa.statespace.sarimax  # noqa: F401


class StateSpaceModel:
    """A statsmodels state-space model fitted once, then filtered to each origin."""

    name = ""

    def __init__(self):
        self.result: Any = None  # statsmodels' fitted results, once fitted

    def build(self, y: np.ndarray, exog: np.ndarray | None):
        raise NotImplementedError

    def fit(self, y: np.ndarray, exog: np.ndarray | None) -> Self:
        load_models()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = self.build(y, exog)
            self.result = _filtered(model, model.fit(disp=False, return_params=True))
        return self

    def _applied(self, y: np.ndarray, exog: np.ndarray | None):
        """The fitted parameters run over ``y``: what statsmodels' ``result.apply(y)`` does
        (the model cloned on the new data), filtered only, where ``apply`` smooths too: its
        filtered results are of the smoother's class, so it takes them for smoothed ones."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = self.result.model.clone(y, exog=exog) if self.uses_exog else self.result.model.clone(y)
            return _filtered(model, self.result.params)

    def paths(self, y: np.ndarray, exog: np.ndarray | None, origins: np.ndarray, horizon: int) -> Paths:
        """Dynamic forecasts from every origin: one Kalman filter over ``y``, then every
        origin's ``horizon`` steps propagated together (:func:`dynamic_paths`)."""
        filtered = self._applied(y, exog).filter_results
        if not time_invariant(filtered):
            return self.paths_one_by_one(y, exog, origins, horizon)
        mean, var = dynamic_paths(filtered, origins, horizon)
        return Paths(origins, mean, np.sqrt(var))

    def paths_one_by_one(
        self, y: np.ndarray, exog: np.ndarray | None, origins: np.ndarray, horizon: int
    ) -> Paths:
        """The same through statsmodels' ``get_prediction(dynamic=True)``, once per origin
        (~1 ms each): the reference :meth:`paths` is tested against."""
        applied = self._applied(y, exog)
        means, sds = [], []
        for origin in origins:
            prediction = applied.get_prediction(
                start=int(origin), end=int(origin) + horizon - 1, dynamic=True
            )
            means.append(np.asarray(prediction.predicted_mean))
            sds.append(np.sqrt(np.asarray(prediction.var_pred_mean)))
        return Paths(origins, np.stack(means), np.stack(sds))

    def forecast(
        self, y: np.ndarray, exog: np.ndarray | None, future: np.ndarray | None, horizon: int
    ) -> Paths:
        applied = self._applied(y, exog)
        prediction = (
            applied.get_forecast(horizon, exog=future) if self.uses_exog else applied.get_forecast(horizon)
        )
        return Paths(
            np.array([len(y)]),
            np.asarray(prediction.predicted_mean)[None, :],
            np.sqrt(np.asarray(prediction.var_pred_mean))[None, :],
        )

    uses_exog = False


# The system matrices that must not change with time for :func:`dynamic_paths` (the two
# intercepts may: a regression's effects sit in the observation intercept).
INVARIANT_MATRICES = ("design", "obs_cov", "transition", "selection", "state_cov")


def time_invariant(filtered) -> bool:
    return filtered.k_endog == 1 and all(
        getattr(filtered, name).shape[-1] == 1 for name in INVARIANT_MATRICES
    )


def dynamic_paths(filtered, origins: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance (origins × horizon) of a univariate, time-invariant state-space
    model's dynamic forecasts, as statsmodels' ``get_prediction(start=o, dynamic=True)``
    gives them, for every origin ``o`` at once.

    From the filter's one-step prediction of the state at ``o`` (mean ``a``, covariance
    ``P``), each step forecasts ``Z a + d_t`` with variance ``Z P Z' + H`` and moves the
    state on without data: ``a <- T a + c_t``, ``P <- T P T' + R Q R'`` (Durbin & Koopman
    2012, ch. 4). Done for all origins together: 28 small matrix products per model instead
    of a statsmodels prediction object per origin."""
    design = filtered.design[0, :, 0]
    transition = filtered.transition[:, :, 0]
    selection = filtered.selection[:, :, 0]
    disturbance = selection @ filtered.state_cov[:, :, 0] @ selection.T
    obs_var = filtered.obs_cov[0, 0, 0]
    obs_intercept, state_intercept = filtered.obs_intercept[0], filtered.state_intercept
    if max(len(obs_intercept), state_intercept.shape[1]) > 1 and origins.max() + horizon > filtered.nobs:
        raise ValueError("forecasts past the data need the regressors of those days: use forecast()")
    state = filtered.predicted_state[:, origins].T
    cov = np.moveaxis(filtered.predicted_state_cov[:, :, origins], 2, 0)
    mean = np.empty((len(origins), horizon))
    var = np.empty((len(origins), horizon))
    for step in range(horizon):
        day = origins + step
        mean[:, step] = state @ design + obs_intercept[day if len(obs_intercept) > 1 else 0]
        var[:, step] = np.einsum("i,nij,j->n", design, cov, design) + obs_var
        shift = state_intercept[:, day].T if state_intercept.shape[1] > 1 else state_intercept[:, 0]
        state = state @ transition.T + shift
        cov = transition @ cov @ transition.T + disturbance
    return mean, var


def difference_regression(y: np.ndarray, exog: np.ndarray) -> np.ndarray:
    """Regression coefficients by least squares on first differences: with a wandering
    level, differences are what is close to independent."""
    return np.linalg.lstsq(np.diff(exog, axis=0), np.diff(y), rcond=None)[0]


# (level, trend, season, damping): statsmodels' defaults but for the level's floor. On a
# few calm months the likelihood puts the level smoothing at its 1e-4 bound, a level that
# never moves, and the forecasts then miss any rise that follows (on 180 days of the seeded
# lakes the worst line's MASE fell from 1.67 to 1.24 with the floor; a year is unchanged).
LEVEL_SMOOTHING_FLOOR = 0.05
ETS_BOUNDS = [(LEVEL_SMOOTHING_FLOOR, 0.9999), (0.0001, 0.9999), (0.0001, 0.9999), (0.8, 0.98)]


class ETS(StateSpaceModel):
    """Additive Holt-Winters on log units (level, damped trend, weekly season), applied to
    demand with the holiday and campaign effects taken out and put back in the forecast,
    so that a sale day does not bend the level."""

    name = "ets"

    def __init__(self):
        super().__init__()
        self.beta = np.zeros(0)

    def build(self, y, exog):
        from statsmodels.tsa.statespace.exponential_smoothing import ExponentialSmoothing

        # Heuristic initial states (from the first weeks, as Hyndman et al. 2008 do): only the
        # 4 smoothing parameters are searched, 20x faster than estimating the 12 states too.
        return ExponentialSmoothing(
            y, trend=True, damped_trend=True, seasonal=7, initialization_method="heuristic", bounds=ETS_BOUNDS
        )

    def effects(self, exog: np.ndarray | None) -> np.ndarray:
        """The events' part of log demand (the weekday columns are the season's job)."""
        if exog is None or exog.shape[1] <= WEEKDAY_COLUMNS:
            return np.zeros(0 if exog is None else len(exog))
        return exog[:, WEEKDAY_COLUMNS:] @ self.beta

    def fit(self, y: np.ndarray, exog: np.ndarray | None) -> Self:
        if exog is not None and exog.shape[1] > WEEKDAY_COLUMNS:
            self.beta = difference_regression(y, exog)[WEEKDAY_COLUMNS:]
        return super().fit(self._adjusted(y, exog), None)

    def _adjusted(self, y: np.ndarray, exog: np.ndarray | None) -> np.ndarray:
        effects = self.effects(exog)
        return y - effects if len(effects) else y

    def paths(self, y: np.ndarray, exog: np.ndarray | None, origins: np.ndarray, horizon: int) -> Paths:
        paths = super().paths(self._adjusted(y, exog), None, origins, horizon)
        effects = self.effects(exog)
        if len(effects):
            paths.mean = paths.mean + effects[origins[:, None] + np.arange(horizon)[None, :]]
        return paths

    def forecast(
        self, y: np.ndarray, exog: np.ndarray | None, future: np.ndarray | None, horizon: int
    ) -> Paths:
        paths = super().forecast(self._adjusted(y, exog), None, None, horizon)
        effects = self.effects(future)
        if len(effects):
            paths.mean = paths.mean + effects[None, :]
        return paths


class RegressionARIMA(StateSpaceModel):
    """Log units = weekday + holidays + planned campaigns + ARIMA(1,1,1) errors.

    Fitted in two stages, because a joint likelihood search over ~20 coefficients takes
    seconds per line: the regression coefficients by least squares on first differences,
    then the ARIMA part by maximum likelihood on what the regression leaves, its variance
    concentrated out (at any AR and MA coefficients the likelihood's best variance has a
    closed form, so the search is over 2 coefficients, not 3: 4x faster, the same estimates
    to the optimizer's tolerance). The state-space model is then run with all of them fixed.
    """

    name = "sarimax"
    uses_exog = True
    order = (1, 1, 1)

    def build(self, y, exog):
        from statsmodels.tsa.statespace.sarimax import SARIMAX

        return SARIMAX(y, exog=exog, order=self.order)

    def fit(self, y: np.ndarray, exog: np.ndarray | None) -> Self:
        from statsmodels.tsa.statespace.sarimax import SARIMAX

        if exog is None:
            raise ValueError("the regression model needs its regressors (exog)")
        load_models()
        beta = difference_regression(y, exog)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arima = SARIMAX(y - exog @ beta, order=self.order, concentrate_scale=True)
            arima_params = arima.fit(disp=False, return_params=True)
            # The variance at those coefficients; above 0 when the history is flat (a line
            # selling at most a unit a day is a constant 0 in log units, and its scale 0),
            # as the seasonal-naive model's scale is: a zero spread makes every standardised
            # error 0/0 or x/0, and the intervals NaN or empty.
            sigma2 = max(float(_filtered(arima, arima_params).scale), MIN_SCALE**2)
            model = self.build(y, exog)
            fixed = (
                dict(zip([f"x{i + 1}" for i in range(exog.shape[1])], beta, strict=True))
                | dict(zip(arima.param_names, arima_params, strict=True))
                | {"sigma2": sigma2}
            )
            self.result = _filtered(model, np.array([fixed[name] for name in model.param_names]))
        return self


def _filtered(model: Any, params: np.ndarray) -> Any:
    """The model run with ``params``: the Kalman filter only. Every forecast, path and
    calibration reads the filter's output; statsmodels' ``fit`` would also smooth and
    estimate the parameters' covariance (numerical derivatives), which nothing reads, and
    every ``apply`` of a smoothed result smooths again (0.1-0.2 s a page)."""
    return model.filter(params, cov_type="none")


class Forecaster(Protocol):
    """A fitted model, or a combination of fitted models, as the forecast uses it."""

    name: str

    def forecast(
        self, y: np.ndarray, exog: np.ndarray | None, future: np.ndarray | None, horizon: int
    ) -> Paths: ...


class Combination:
    """The mean (on the log scale) of fitted models' forecasts: a hedge when no single
    model is reliably best."""

    def __init__(self, members: list):
        self.members = members
        self.name = "+".join(m.name for m in members)

    def forecast(
        self, y: np.ndarray, exog: np.ndarray | None, future: np.ndarray | None, horizon: int
    ) -> Paths:
        return average_paths([m.forecast(y, exog, future, horizon) for m in self.members])


def average_paths(paths: list[Paths]) -> Paths:
    return Paths(
        paths[0].origins, np.mean([p.mean for p in paths], axis=0), np.mean([p.sd for p in paths], axis=0)
    )


def make_models(season: int = 7) -> list:
    return [SeasonalNaive(season), ETS(), RegressionARIMA()]


COMBINED = ("ets", "sarimax")  # the models whose mean is a candidate too


# --- regressors ----------------------------------------------------------------------------


def campaign_regressor(
    dates: pd.DatetimeIndex,
    campaigns: pd.DataFrame,
    region_shares: dict[str, float],
    lag_weights: np.ndarray | None = None,
) -> pd.Series:
    """How much of the demand planned campaigns may be lifting each day: the sum over
    campaigns of their region's share of orders, spread over the days the response may
    start (``lag_weights``: probability of each lag in days; by default uniform over a week,
    since a campaign's own lag is only known once it has run)."""
    weights = np.full(8, 1 / 8) if lag_weights is None else np.asarray(lag_weights, dtype=float)
    values = np.zeros(len(dates))
    for c in campaigns.itertuples():
        share = region_shares.get(c.region, 0.0)
        for lag, weight in enumerate(weights):
            values += share * weight * effect_days(c.start_date, c.end_date, lag, dates)
    return pd.Series(values, index=dates, name="campaigns")


# --- calibration and metrics -------------------------------------------------------------


@dataclass(frozen=True)
class Calibration:
    """Per interval level, the quantiles of standardised log errors (actual minus forecast,
    over the model's sd) for each step ahead: (low z per step, high z per step). Steps are
    calibrated in blocks of a week (see :func:`sliding_calibration`), so that each quantile
    rests on 7 × origins errors while following how the errors really grow with the horizon."""

    z: dict[float, tuple[np.ndarray, np.ndarray]]

    @classmethod
    def normal(cls, steps: int) -> Calibration:
        """Uncalibrated: the normal distribution's quantiles."""
        return cls(
            {
                0.8: (np.full(steps, -1.2816), np.full(steps, 1.2816)),
                0.95: (np.full(steps, -1.96), np.full(steps, 1.96)),
            }
        )

    def bounds(self, paths: Paths, level: float) -> tuple[np.ndarray, np.ndarray]:
        low, high = self.z[level]
        steps = paths.mean.shape[1]
        return np.exp(paths.mean + low[:steps] * paths.sd), np.exp(paths.mean + high[:steps] * paths.sd)


def naive_scale(units: np.ndarray, season: int = 7) -> float:
    """Mean absolute seasonal difference in the training data: MASE's denominator."""
    diffs = np.abs(units[season:] - units[:-season])
    return float(np.nanmean(diffs))


def accuracy(actual: np.ndarray, predicted: np.ndarray, scale: float) -> dict[str, float]:
    """WAPE, MASE and sMAPE of a set of forecasts (all arrays the same shape)."""
    error = np.abs(actual - predicted)
    denominator = np.abs(actual) + np.abs(predicted)
    return {
        "mae": float(np.mean(error)),
        "wape": float(error.sum() / np.abs(actual).sum()),
        "mase": float(np.mean(error) / scale),
        "smape": float(
            np.mean(np.where(denominator > 0, 2 * error / np.where(denominator > 0, denominator, 1), 0))
        ),
    }


def coverage(actual: np.ndarray, low: np.ndarray, high: np.ndarray) -> float:
    return float(np.mean((actual >= low) & (actual <= high)))


# --- backtest ------------------------------------------------------------------------------


@dataclass
class ModelRun:
    """One model's backtest on one series: its forecasts from every origin, from the first
    calibration origin to the last test origin, one per day."""

    model: Forecaster
    paths: Paths
    errors: np.ndarray  # standardised log errors of ``paths`` (origins × steps)
    design: BacktestDesign
    selection_mae: float  # MAE over the calibration origins: what the choice rests on
    test_bounds: dict[float, tuple[np.ndarray, np.ndarray]]  # level -> (low, high), test origins × steps
    metrics: dict[str, float]  # test origins, days 1 to design.headline_steps after each
    metrics_all: dict[str, float]  # test origins, every day of the horizon

    @property
    def test_rows(self) -> slice:
        return slice(len(self.paths.origins) - self.design.test_origins, None)

    @property
    def test_paths(self) -> Paths:
        rows = self.test_rows
        return Paths(self.paths.origins[rows], self.paths.mean[rows], self.paths.sd[rows])

    def calibration_at(self, origin: int) -> Calibration:
        return sliding_calibration(self.errors, self.paths.origins, origin, self.design.calibration_origins)


@dataclass
class Series:
    """One product line's daily units, on every calendar day, with its regressors."""

    dates: pd.DatetimeIndex
    units: np.ndarray
    exog: np.ndarray  # history rows, then ``horizon`` future rows

    @property
    def log(self) -> np.ndarray:
        return np.log(np.maximum(self.units, 1.0))

    @property
    def past_exog(self) -> np.ndarray:
        return self.exog[: len(self.units)]

    @property
    def future_exog(self) -> np.ndarray:
        return self.exog[len(self.units) :]


WEEKDAY_COLUMNS = 6  # the first columns of every exog: Tuesday..Sunday dummies


def weekday_dummies(dates: pd.DatetimeIndex) -> np.ndarray:
    weekday = dates.day_of_week.to_numpy()
    return np.column_stack([(weekday == d).astype(float) for d in range(1, 7)])


def make_series(daily: pd.Series, horizon: int, regressors: pd.DataFrame | None) -> Series:
    """Daily units on a full calendar (a day with no demand is 0), with weekday dummies and
    the caller's regressors (indexed by date, covering history and horizon; missing = 0)."""
    daily = daily.sort_index()
    history = pd.date_range(daily.index.min(), daily.index.max(), freq="D")
    every_day = pd.date_range(history[0], periods=len(history) + horizon, freq="D")
    units = daily.reindex(history, fill_value=0).to_numpy(dtype=float)
    columns = [weekday_dummies(every_day)]
    if regressors is not None and not regressors.empty:
        columns.append(regressors.reindex(every_day).fillna(0.0).to_numpy(dtype=float))
    return Series(history, units, np.column_stack(columns))


def backtest_model(model, series: Series, design: BacktestDesign) -> ModelRun:
    """Fit on the training days; forecast from every origin after them."""
    calibration_origins, test_origins = design.origins(len(series.units))
    origins = np.arange(calibration_origins[0], test_origins[-1] + 1)
    y, exog = series.log, series.past_exog
    model.fit(y[: origins[0]], exog[: origins[0]])
    return score_paths(model, model.paths(y, exog, origins, design.horizon), series, design)


def backtest_combination(runs: list[ModelRun], series: Series, design: BacktestDesign) -> ModelRun | None:
    members = [r for r in runs if r.model.name in COMBINED]
    if len(members) < 2:
        return None
    paths = average_paths([r.paths for r in members])
    return score_paths(Combination([r.model for r in members]), paths, series, design)


def score_paths(model, paths: Paths, series: Series, design: BacktestDesign) -> ModelRun:
    """Choose on the calibration origins, score on the test origins with sliding calibration."""
    calibration_origins, test_origins = design.origins(len(series.units))
    origins, y = paths.origins, series.log
    errors = (target_matrix(y, origins, design.horizon) - paths.mean) / paths.sd
    chosen_on = slice(0, len(calibration_origins))
    actual = target_matrix(series.units, origins, design.horizon)
    selection_mae = float(np.mean(np.abs(actual[chosen_on] - np.exp(paths.mean[chosen_on]))))
    bounds = sliding_bounds(paths, errors, test_origins, design)
    test = Paths(test_origins, paths.mean[-len(test_origins) :], paths.sd[-len(test_origins) :])
    headline = test_metrics(series.units, test, bounds, design, 1, min(design.headline_steps, design.horizon))
    overall = test_metrics(series.units, test, bounds, design)
    return ModelRun(model, paths, errors, design, selection_mae, bounds, headline, overall)


def sliding_calibration(
    errors: np.ndarray, origins: np.ndarray, at: int, window: int, block: int = 7
) -> Calibration:
    """The calibration a forecast made at origin ``at`` may use: for each block of steps,
    the errors of the ``window`` latest origins whose targets in that block were all known
    before ``at`` (origin o's step s falls on day o + s - 1)."""
    steps = errors.shape[1]
    z = {level: (np.empty(steps), np.empty(steps)) for level in LEVELS}
    for first in range(0, steps, block):
        last = min(first + block, steps)
        usable = np.flatnonzero(origins <= at - last)[-window:]
        found = errors[usable, first:last].ravel()
        found = found[np.isfinite(found)]
        # Every level's two quantiles in one call: one sort of the errors, not four.
        quantiles = np.quantile(found, QUANTILES) if len(found) else np.repeat([-np.inf, np.inf], len(LEVELS))
        for (low, high), (q_low, q_high) in zip(z.values(), quantiles.reshape(-1, 2), strict=True):
            low[first:last], high[first:last] = q_low, q_high
    return Calibration(z)


def sliding_quantiles(
    errors: np.ndarray, origins: np.ndarray, at: np.ndarray, window: int, block: int = 7
) -> np.ndarray | None:
    """:func:`sliding_calibration` for every origin of ``at`` at once: z[q, origin, step] for
    the quantiles ``QUANTILES``. Its windows of errors all hold ``window`` origins there, so
    they stack into one array and each block takes one quantile call (the same numbers).
    None when they do not (a short history, a non-finite error): the caller goes one by one."""
    if not np.all(np.diff(origins) == 1) or not np.isfinite(errors).all():
        return None
    steps = errors.shape[1]
    z = np.empty((len(QUANTILES), len(at), steps))
    for first in range(0, steps, block):
        last = min(first + block, steps)
        known = np.searchsorted(origins, at - last, side="right")  # origins <= at - last
        if known.min() < window:
            return None
        windows = np.lib.stride_tricks.sliding_window_view(errors[:, first:last], window, axis=0)
        found = windows[known - window].reshape(len(at), -1)
        z[:, :, first:last] = np.quantile(found, QUANTILES, axis=1)[:, :, None]
    return z


def sliding_bounds(
    paths: Paths, errors: np.ndarray, test_origins: np.ndarray, design: BacktestDesign
) -> dict[float, tuple[np.ndarray, np.ndarray]]:
    """80% and 95% bounds of every test forecast, each calibrated only on what was known at
    its origin."""
    z = sliding_quantiles(errors, paths.origins, test_origins, design.calibration_origins)
    if z is not None:
        rows = np.searchsorted(paths.origins, test_origins)
        mean, sd = paths.mean[rows], paths.sd[rows]
        return {
            level: (np.exp(mean + z[2 * i] * sd), np.exp(mean + z[2 * i + 1] * sd))
            for i, level in enumerate(LEVELS)
        }
    return bounds_one_by_one(paths, errors, test_origins, design)


def bounds_one_by_one(
    paths: Paths, errors: np.ndarray, test_origins: np.ndarray, design: BacktestDesign
) -> dict[float, tuple[np.ndarray, np.ndarray]]:
    """:func:`sliding_bounds` one origin at a time (any history)."""
    rows = {origin: i for i, origin in enumerate(paths.origins)}
    bounds: dict[float, tuple[list[np.ndarray], list[np.ndarray]]] = {level: ([], []) for level in LEVELS}
    for origin in test_origins:
        i = rows[origin]
        one = Paths(paths.origins[i : i + 1], paths.mean[i : i + 1], paths.sd[i : i + 1])
        calibration = sliding_calibration(errors, paths.origins, origin, design.calibration_origins)
        for level, (lows, highs) in bounds.items():
            low, high = calibration.bounds(one, level)
            lows.append(low[0])
            highs.append(high[0])
    return {level: (np.stack(lows), np.stack(highs)) for level, (lows, highs) in bounds.items()}


def test_metrics(
    units: np.ndarray,
    paths: Paths,
    bounds: dict,
    design: BacktestDesign,
    first_step: int = 1,
    last_step: int | None = None,
) -> dict:
    """WAPE, MASE, sMAPE and interval coverage of the forecasts ``first_step`` to
    ``last_step`` days after each origin (1-based; default: every step)."""
    steps = slice(first_step - 1, last_step or design.horizon)
    actual = target_matrix(units, paths.origins, design.horizon)[:, steps]
    figures = accuracy(
        actual, np.exp(paths.mean[:, steps]), naive_scale(units[: paths.origins[0]], design.season)
    )
    for level, (low, high) in bounds.items():
        figures[f"coverage_{round(level * 100)}"] = coverage(actual, low[:, steps], high[:, steps])
    return figures


def by_week(units: np.ndarray, run: ModelRun, design: BacktestDesign) -> pd.DataFrame:
    """The test-window figures of one model for days 1-7, 8-14, … after the origin, and all."""
    rows = []
    for first in range(1, design.horizon + 1, 7):
        last = min(first + 6, design.horizon)
        rows.append(
            {
                "days": f"{first}-{last}",
                **test_metrics(units, run.test_paths, run.test_bounds, design, first, last),
            }
        )
    rows.append(
        {"days": f"1-{design.horizon}", **test_metrics(units, run.test_paths, run.test_bounds, design)}
    )
    return pd.DataFrame(rows)


# --- the forecast --------------------------------------------------------------------------


@dataclass
class LineForecast:
    """What the page shows for one product line."""

    product_line: str
    model: str  # the chosen model's name
    history: pd.DataFrame  # date, units
    forecast: pd.DataFrame  # date, forecast, low_80, high_80, low_95, high_95
    backtest: pd.DataFrame  # one row per model: test-window metrics, selection MAE, chosen
    test_window: (
        pd.DataFrame
    )  # the chosen model's test forecasts: origin, date, step, actual, forecast, bounds
    design: BacktestDesign
    note: str = ""
    weekly: pd.DataFrame = field(default_factory=pd.DataFrame)  # the forecast in 7-day blocks
    accuracy_by_week: pd.DataFrame = field(default_factory=pd.DataFrame)  # chosen model, per days-ahead block

    @property
    def metrics(self) -> dict[str, float]:
        if self.backtest.empty:
            return {}
        chosen = self.backtest[self.backtest["chosen"]]
        return chosen.iloc[0].to_dict() if len(chosen) else {}


def bounds_frame(dates, mean: np.ndarray, bounds: dict) -> pd.DataFrame:
    """date, forecast (the median), low/high for each level; arrays of any matching shape."""
    frame = pd.DataFrame({"date": dates, "forecast": np.exp(mean).ravel()})
    for level, (low, high) in bounds.items():
        frame[f"low_{round(level * 100)}"], frame[f"high_{round(level * 100)}"] = low.ravel(), high.ravel()
    return frame


def forward_bounds(paths: Paths, calibration: Calibration) -> dict:
    return {level: calibration.bounds(paths, level) for level in LEVELS}


def test_window_frame(series: Series, run: ModelRun) -> pd.DataFrame:
    """The chosen model's test forecasts: origin, date, step, actual, forecast, bounds."""
    paths, horizon = run.test_paths, run.design.horizon
    steps = np.tile(np.arange(1, horizon + 1), len(paths.origins))
    origins = np.repeat(paths.origins, horizon)
    frame = bounds_frame(series.dates[origins + steps - 1], paths.mean, run.test_bounds)
    frame.insert(0, "origin", series.dates[origins])
    frame.insert(2, "step", steps)
    frame.insert(3, "actual", series.units[origins + steps - 1])
    return frame


def backtest_table(runs: list[ModelRun], chosen: ModelRun) -> pd.DataFrame:
    naive_mae = next((r.metrics["mae"] for r in runs if r.model.name == "seasonal_naive"), np.nan)
    naive_all = next((r.metrics_all["mae"] for r in runs if r.model.name == "seasonal_naive"), np.nan)
    rows = [
        {
            "model": r.model.name,
            **r.metrics,
            "rel_mae": r.metrics["mae"] / naive_mae,
            **{f"{k}_all": v for k, v in r.metrics_all.items()},
            "rel_mae_all": r.metrics_all["mae"] / naive_all,
            "selection_mae": r.selection_mae,
            "chosen": r is chosen,
        }
        for r in runs
    ]
    return pd.DataFrame(rows)


def weekly_blocks(daily: pd.DataFrame, run: ModelRun, series: Series) -> pd.DataFrame:
    """The forecast in 7-day blocks from its first day, with intervals from the backtest's
    own 7-day-block errors (the ratio of actual to forecast totals) over its latest origins."""
    blocks = run.design.horizon // 7
    if blocks == 0:
        return pd.DataFrame()
    latest = slice(-run.design.calibration_origins, None)
    origins = run.paths.origins[latest]
    shape = (len(origins), blocks, 7)
    actual = (
        target_matrix(series.units, origins, run.design.horizon)[:, : blocks * 7].reshape(shape).sum(axis=2)
    )
    predicted = np.exp(run.paths.mean[latest])[:, : blocks * 7].reshape(shape).sum(axis=2)
    log_ratio = np.log(actual / predicted)
    totals = daily["forecast"].to_numpy()[: blocks * 7].reshape(blocks, 7).sum(axis=1)
    frame = pd.DataFrame({"week_start": daily["date"].to_numpy()[::7][:blocks], "forecast": totals})
    for level in LEVELS:
        low = np.quantile(log_ratio, (1 - level) / 2, axis=0)
        high = np.quantile(log_ratio, (1 + level) / 2, axis=0)
        frame[f"low_{round(level * 100)}"], frame[f"high_{round(level * 100)}"] = (
            totals * np.exp(low),
            totals * np.exp(high),
        )
    return frame


@one_thread()
def forecast_line(
    name: str,
    daily: pd.Series,
    horizon: int = 28,
    regressors: pd.DataFrame | None = None,
    design: BacktestDesign | None = None,
    models: list | None = None,
) -> LineForecast:
    """Backtest every model on one line, choose the best on the calibration origins, and
    forecast ``horizon`` days past the last one with calibrated 80% and 95% intervals."""
    design = shrink_to(len(daily), replace(design or BacktestDesign(), horizon=horizon))
    series = make_series(daily, horizon, regressors)
    history = pd.DataFrame({"date": series.dates, "units": series.units})
    future_dates = pd.date_range(series.dates[-1] + pd.Timedelta(days=1), periods=horizon, freq="D")
    if not design.fits(len(series.units)):
        return too_short(name, series, history, future_dates, design, horizon)
    runs = [backtest_model(model, series, design) for model in (models or make_models(design.season))]
    runs += [run for run in [backtest_combination(runs, series, design)] if run is not None]
    chosen = min(runs, key=lambda r: r.selection_mae)
    paths = chosen.model.forecast(series.log, series.past_exog, series.future_exog, horizon)
    calibration = chosen.calibration_at(len(series.units))
    daily_frame = bounds_frame(future_dates, paths.mean, forward_bounds(paths, calibration))
    return LineForecast(
        name,
        chosen.model.name,
        history,
        daily_frame,
        backtest_table(runs, chosen),
        test_window_frame(series, chosen),
        design,
        weekly=weekly_blocks(daily_frame, chosen, series),
        accuracy_by_week=by_week(series.units, chosen, design),
    )


def too_short(
    name: str, series: Series, history: pd.DataFrame, future_dates, design: BacktestDesign, horizon: int
) -> LineForecast:
    """A seasonal-naive forecast with normal (uncalibrated) intervals, and no backtest."""
    model = SeasonalNaive(design.season).fit(series.log, None)
    paths = model.forecast(series.log, None, None, horizon)
    daily_frame = bounds_frame(future_dates, paths.mean, forward_bounds(paths, Calibration.normal(horizon)))
    note = (
        f"{len(series.units)} days of history: a backtest needs {design.required_days}; "
        "showing the seasonal-naive forecast with uncalibrated intervals."
    )
    return LineForecast(name, model.name, history, daily_frame, pd.DataFrame(), pd.DataFrame(), design, note)


def forecast_demand(
    demand: pd.DataFrame,
    horizon: int = 28,
    regressors: dict[str, pd.DataFrame] | None = None,
    design: BacktestDesign | None = None,
) -> dict[str, LineForecast]:
    """Every product line of ``demand`` (date, product_line, units)."""
    demand = demand.assign(date=pd.to_datetime(demand["date"]).dt.normalize().dt.tz_localize(None))
    results = {}
    for line, rows in demand.groupby("product_line", sort=True):
        daily = rows.groupby("date")["units"].sum()
        results[str(line)] = forecast_line(str(line), daily, horizon, (regressors or {}).get(line), design)
    return results


def summary_table(results: dict[str, LineForecast]) -> pd.DataFrame:
    """One row per line: the chosen model and its test-window metrics."""
    rows = []
    for line, result in results.items():
        m = result.metrics
        rows.append(
            {
                "product_line": line,
                "model": result.model,
                **{
                    k: m.get(k, np.nan)
                    for k in (
                        "wape",
                        "mase",
                        "smape",
                        "coverage_80",
                        "coverage_95",
                        "rel_mae",
                        "mase_all",
                        "coverage_80_all",
                        "coverage_95_all",
                    )
                },
                "note": result.note,
            }
        )
    return pd.DataFrame(rows)
