"""Campaign effect: what a campaign added over what would have happened anyway.

The counterfactual comes from what the campaign could not touch: the other regions on the
same days (they share the weekly and yearly seasonality, the trend and the holidays) and
the treated region's own level before and after. It is a weighted two-way fixed-effects
difference-in-differences on log daily orders, fitted on a window around each campaign:

    log y[j, t] = region[j] + day[t] + Σ_k effect[k] · active[k, j, t] + noise

``day[t]`` absorbs everything the regions share, so no calendar is needed. The response
lag is the shift of the campaign window that fits best — the lag that maximises the
(partial) cross-correlation of the campaign's on/off spend with the region's excess
orders. Every campaign is fitted twice. First, the days any other campaign could be
acting on (its start to its end + max lag) are left out, in every region; then every
other campaign gets its own dummy at the lag the first pass found, which gives those days
back and separates overlapping campaigns of one region (flagged ``overlap``). A campaign
whose effect days no campaign-free region covers (every region treated at once) falls back
to the region's own history (weekday profile and trend, before and after) and is flagged
``no_clean_control``.

Weights are each region's mean daily orders (the variance of a log count is about 1/count);
the standard error is inflated for residual autocorrelation (AR(1) factor (1+ρ)/(1-ρ)).
The interval accounts for the lag search: its critical value is the quantile of the largest
|t| over all the lags tried, not of one t (see ``search_critical_value``).

Frames (built by app/services/analytics_data.py):
    orders     date, region, orders, revenue                 one row per region and day
    campaigns  campaign_id, region, start_date, end_date, spend  (+ name, channel, budget)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from app.analytics.blas import one_thread

FLAG_OVERLAP = "overlap"  # another campaign of the same region may act on some of the same days
FLAG_NO_CONTROL = "no_clean_control"  # too few effect days with a campaign-free region: own history used
FLAG_PARTIAL_CONTROL = "partial_control"  # on some effect days every other region had a campaign
FLAG_SHORT_PRE = "short_pre_period"  # less than two weeks of history before the campaign
FLAG_INCOMPLETE = "incomplete"  # the effect window runs past the data
FLAG_NO_EFFECT = "no_significant_effect"  # the interval spans 0, so no lag is reported
FLAG_NO_DATA = "no_data"  # nothing to estimate from
FLAG_TOO_EARLY = "too_early"  # started too recently: at some lag its effect would not show yet

RESULT_COLUMNS = [
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
    "incremental_orders_low",
    "incremental_orders_high",
    "incremental_revenue",
    "incremental_revenue_low",
    "incremental_revenue_high",
    "roi",
    "roi_low",
    "roi_high",
    "method",
    "controls",
    "flags",
]


@dataclass(frozen=True)
class LiftSettings:
    max_lag: int = 14  # longest response lag tried, in days
    pre_days: int = 56  # history before the start that forms the baseline
    post_days: int = 28  # days after the effect ends that join the baseline
    level: float = 0.95  # confidence level of the interval
    min_control_share: float = 0.5  # below this share of effect days with a clean control: fall back
    min_pre_days: int = 14
    min_effect_days: int = 3  # days of effect that must be observable at every lag tried
    search_draws: int = 20_000  # simulated draws for the max-|t| critical value over the lags


# --- the data, as arrays over day numbers ---------------------------------------------------


@dataclass(frozen=True)
class Panel:
    """Daily orders and revenue, one column per region, one row per calendar day."""

    dates: pd.DatetimeIndex
    regions: list[str]
    orders: np.ndarray  # days × regions
    revenue: np.ndarray
    log_orders: np.ndarray  # NaN where there were no orders
    log_revenue: np.ndarray

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Panel:
        frame = frame.assign(date=as_days(frame["date"]))
        wide = frame.pivot_table(index="date", columns="region", values=["orders", "revenue"], aggfunc="sum")
        dates = pd.date_range(wide.index.min(), wide.index.max(), freq="D")
        wide = wide.reindex(dates)
        orders, revenue = wide["orders"].to_numpy(float), wide["revenue"].to_numpy(float)
        return cls(
            dates, [str(r) for r in wide["orders"].columns], orders, revenue, _log(orders), _log(revenue)
        )

    def day(self, moment: pd.Timestamp) -> int:
        return int((moment - self.dates[0]).days)


def as_days(values) -> pd.Series:
    """Dates as naive midnight timestamps (time zones dropped)."""
    days = pd.to_datetime(pd.Series(values))
    return (days.dt.tz_localize(None) if days.dt.tz is not None else days).dt.normalize()


def _log(table: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(table > 0, np.log(np.where(table > 0, table, 1.0)), np.nan)


@dataclass(frozen=True)
class Spell:
    """A campaign on the panel's day numbers."""

    campaign_id: str
    region: str
    start: int
    end: int
    row: Any  # the campaign's row (an itertuples namedtuple, fields named by the frame), for the output

    def acts(self, days: np.ndarray, lag: int) -> np.ndarray:
        """Days it acts on when orders respond ``lag`` days after the spend."""
        return (days >= self.start + lag) & (days <= self.end + lag)

    def reach(self, days: np.ndarray, max_lag: int) -> np.ndarray:
        """Days it may act on at some lag up to ``max_lag``."""
        return (days >= self.start) & (days <= self.end + max_lag)


def clean_campaigns(campaigns: pd.DataFrame) -> pd.DataFrame:
    """Campaign rows with day dates, spend, channel and name columns, sorted by start."""
    frame = campaigns.copy()
    for column in ("start_date", "end_date"):
        frame[column] = as_days(frame[column]).to_numpy()
    for column, default in (("spend", np.nan), ("channel", ""), ("name", "")):
        if column not in frame:
            frame[column] = default
    return frame.sort_values(["start_date", "campaign_id"]).reset_index(drop=True)


def spells(campaigns: pd.DataFrame, panel: Panel) -> list[Spell]:
    return [
        Spell(str(c.campaign_id), str(c.region), panel.day(c.start_date), panel.day(c.end_date), c)
        for c in campaigns.itertuples()
    ]


def effect_days(start: pd.Timestamp, end: pd.Timestamp, lag: int, dates) -> np.ndarray:
    """Days (of ``dates``) a campaign acts on when orders respond ``lag`` days after the spend."""
    days = pd.DatetimeIndex(dates)
    return np.asarray(
        (days >= start + pd.Timedelta(days=int(lag))) & (days <= end + pd.Timedelta(days=int(lag)))
    )


# --- the regression -------------------------------------------------------------------------


def demean(
    vector: np.ndarray,
    groups: list[np.ndarray],
    weights: np.ndarray,
    tolerance: float = 1e-11,
    max_rounds: int = 1000,
) -> np.ndarray:
    """What is left of ``vector`` after weighted least squares on the fixed effects whose
    level codes are ``groups`` (alternating projections: subtract each group's weighted
    mean in turn until nothing changes). Dense QR would do the same, but numpy's threaded
    LAPACK is slow on a busy 2-core machine, and fixed effects need no matrix at all."""
    left = np.array(vector, dtype=float)
    totals = [np.bincount(codes, weights) for codes in groups]
    for _ in range(max_rounds):
        largest = 0.0
        for codes, total in zip(groups, totals, strict=True):
            means = np.bincount(codes, weights * left, minlength=len(total)) / total
            left -= means[codes]
            largest = max(largest, float(np.abs(means).max()))
        if largest < tolerance or len(groups) < 2:
            break
    return left


@dataclass(frozen=True)
class Rows:
    """The regression rows of one campaign: the day number and region index of each."""

    days: np.ndarray
    regions: np.ndarray
    treated: np.ndarray
    weights: np.ndarray


@dataclass
class Design:
    """The nuisance part of one campaign's regression, projected out of any column
    (Frisch-Waugh): fixed effects by alternating projections, then a few extra columns
    (other campaigns' dummies, a trend) by weighted least squares."""

    rows: Rows
    groups: list[np.ndarray]  # fixed-effect level codes per row, one array per effect
    extra: np.ndarray  # extra nuisance columns, already free of the fixed effects
    method: str
    controls: list[str] = field(default_factory=list)

    @property
    def parameters(self) -> int:
        levels = sum(int(codes.max()) + 1 for codes in self.groups)
        return levels - max(len(self.groups) - 1, 0) + self.extra.shape[1]

    def unweighted_residual(self, vector: np.ndarray) -> np.ndarray:
        left = demean(vector, self.groups, self.rows.weights)
        if self.extra.shape[1]:
            root = np.sqrt(self.rows.weights)
            coef = np.linalg.lstsq(self.extra * root[:, None], left * root, rcond=None)[0]
            left = left - self.extra @ coef
        return left

    def residual(self, vector: np.ndarray) -> np.ndarray:
        """The residual scaled by the root of the weights (plain dot products are then
        weighted sums)."""
        return self.unweighted_residual(vector) * np.sqrt(self.rows.weights)


@dataclass(frozen=True)
class Fit:
    """The effect on the log scale at one lag."""

    lag: int
    beta: float
    se: float
    dof: int
    sse: float


def fit_lag(design: Design, y: np.ndarray, dummy: np.ndarray, lag: int) -> Fit:
    """Weighted least-squares effect of ``dummy`` on the target whose residual (from
    ``design.residual``) is ``y``."""
    d = design.residual(dummy)
    dd = float(d @ d)
    dof = len(y) - design.parameters - 1
    if dd < 1e-9 or dof < 2:
        return Fit(lag, np.nan, np.nan, max(dof, 0), np.inf)
    beta = float(d @ y) / dd
    resid = y - beta * d
    sse = float(resid @ resid)
    se = np.sqrt(sse / dof / dd * autocorrelation_factor(resid[design.rows.treated]))
    return Fit(lag, beta, float(se), dof, sse)


def search_critical_value(columns: list[np.ndarray], level: float, dof: int, draws: int) -> float:
    """Critical value for an interval at the lag the search picked: the ``level`` quantile
    of max |t| over every lag tried, when no lag has an effect.

    Picking the best-fitting of 15 lags picks the largest |t|, so a nominal t-quantile makes
    null campaigns look significant about three times as often as it claims. The max-|t|
    quantile holds whichever lag is picked (post-selection inference: Berk et al., "Valid
    post-selection inference", Ann. Statist. 41(2), 2013). The t's of adjacent lags are
    highly correlated (their windows share most days), so the quantile comes from their
    correlation — the residualised lag dummies' — by simulation with a fixed seed (the same
    data give the same interval), not a Bonferroni bound over 15 independent tests."""
    single = float(stats.t.ppf((1 + level) / 2, max(dof, 1)))
    if len(columns) < 2:
        return single
    unit = np.array([c / np.linalg.norm(c) for c in columns])
    values, vectors = np.linalg.eigh(unit @ unit.T)
    root = vectors * np.sqrt(np.clip(values, 0.0, None))
    z = standard_normal_draws(draws, len(columns)) @ root.T
    largest = float(np.quantile(np.abs(z).max(axis=1), level))
    # The simulated quantile is Gaussian; carry its tail probability over to t with dof.
    return max(single, float(stats.t.ppf(stats.norm.cdf(largest), max(dof, 1))))


@functools.lru_cache(maxsize=4)
def standard_normal_draws(draws: int, columns: int) -> np.ndarray:
    """The fixed-seed draws every critical value is simulated from: the same numbers for
    every campaign (as a fresh generator seeded 0 would give), drawn once (read-only)."""
    z = np.random.default_rng(0).standard_normal((draws, columns))
    z.flags.writeable = False
    return z


def autocorrelation_factor(series: np.ndarray) -> float:
    """Variance inflation of a mean of AR(1) noise: (1+ρ)/(1-ρ), never below 1."""
    if len(series) < 10:
        return 1.0
    centred = series - series.mean()
    denom = float(centred @ centred)
    rho = float(centred[1:] @ centred[:-1]) / denom if denom > 0 else 0.0
    rho = min(max(rho, 0.0), 0.9)
    return (1 + rho) / (1 - rho)


# --- one campaign ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What every campaign's fit shares: the panel, all campaigns, the settings."""

    panel: Panel
    spells: list[Spell]
    settings: LiftSettings
    busy: np.ndarray  # days × regions: some campaign may be acting there

    @classmethod
    def build(cls, panel: Panel, campaigns: pd.DataFrame, settings: LiftSettings) -> Context:
        found = spells(campaigns, panel)
        days = np.arange(len(panel.dates))
        busy = np.zeros_like(panel.orders, dtype=bool)
        for spell in found:
            if spell.region in panel.regions:
                busy[:, panel.regions.index(spell.region)] |= spell.reach(days, settings.max_lag)
        return cls(panel, found, settings, busy)

    def window(self, spell: Spell) -> np.ndarray:
        s = self.settings
        first = max(spell.start - s.pre_days, 0)
        last = min(spell.end + s.max_lag + s.post_days, len(self.panel.dates) - 1)
        return np.arange(first, last + 1)

    def touching(self, spell: Spell, window: np.ndarray) -> list[Spell]:
        """Other campaigns that may act on some day of the window."""
        if not len(window):
            return []
        return [
            o
            for o in self.spells
            if o is not spell
            and o.start <= window[-1]
            and o.end + self.settings.max_lag >= window[0]
            and o.region in self.panel.regions
        ]


def select_rows(context: Context, spell: Spell, window: np.ndarray, dropped: np.ndarray) -> Rows:
    """Every observed region-day of the window that is not ``dropped`` (window × regions)."""
    observed = ~np.isnan(context.panel.log_orders[window]) & ~dropped
    t, r = np.nonzero(observed)
    weights = np.nanmean(context.panel.orders[window], axis=0)[r]
    treated = r == context.panel.regions.index(spell.region)
    return Rows(window[t], r, treated, weights)


def clean_share(context: Context, spell: Spell, window: np.ndarray) -> tuple[float, list[str]]:
    """(share of the campaign's possible effect days on which some other region is
    observed and free of campaigns, the regions that are clean on some of those days)."""
    panel, mine = context.panel, context.panel.regions.index(spell.region)
    effect = spell.reach(window, context.settings.max_lag) & ~np.isnan(panel.log_orders[window, mine])
    clean = ~np.isnan(panel.log_orders[window]) & ~context.busy[window]
    clean[:, mine] = False
    clean &= effect[:, None]
    controls = [panel.regions[r] for r in np.flatnonzero(clean.any(axis=0))]
    return (float(clean.any(axis=1).sum() / effect.sum()) if effect.any() else 0.0), controls


def lag_dummy(context: Context, rows: Rows, spell: Spell, lag: int) -> np.ndarray:
    """1 on the rows of the campaign's region on the days it acts at ``lag``."""
    return (spell.acts(rows.days, lag) & (rows.regions == context.panel.regions.index(spell.region))).astype(
        float
    )


def nuisance(rows: Rows, dummies: list[np.ndarray], own_history: bool) -> tuple[list[np.ndarray], np.ndarray]:
    """(fixed-effect codes, extra columns): region and day effects; or, with no control,
    the weekday profile and a trend of the region's own history."""
    if own_history:
        groups = [pd.factorize(rows.days % 7)[0]]
        extra = [(rows.days - rows.days.min()) / 365.0]
    else:
        groups = [pd.factorize(rows.regions)[0], pd.factorize(rows.days)[0]]
        extra = []
    columns = extra + dummies
    if not columns:
        return groups, np.zeros((len(rows.days), 0))
    return groups, np.column_stack([demean(c, groups, rows.weights) for c in columns])


def build_design(
    context: Context, spell: Spell, known_lags: dict[str, int], kept: frozenset[str] = frozenset()
) -> tuple[Design, list[str]]:
    """One campaign's regression rows and nuisance, and what to flag.

    Other campaigns acting on the window get a dummy at their lag when it is known (the
    second pass); otherwise the days they may act on are left out (the first pass), unless
    they are ``kept`` (their days stay, and the caller fits their effect alongside)."""
    settings, panel = context.settings, context.panel
    window = context.window(spell)
    others = context.touching(spell, window)
    dropped = np.zeros((len(window), len(panel.regions)), dtype=bool)
    for other in others:
        if other.campaign_id not in known_lags and other.campaign_id not in kept:
            dropped[:, panel.regions.index(other.region)] |= other.reach(window, settings.max_lag)
    share, controls = clean_share(context, spell, window)
    own_history = share < settings.min_control_share
    rows = select_rows(context, spell, window, dropped)
    if own_history:
        rows = Rows(*(a[rows.treated] for a in (rows.days, rows.regions, rows.treated, rows.weights)))
    dummies = [
        lag_dummy(context, rows, o, known_lags[o.campaign_id]) for o in others if o.campaign_id in known_lags
    ]
    groups, extra = nuisance(rows, [d for d in dummies if d.any()], own_history)
    method = "own history (weekday, trend)" if own_history else "difference-in-differences on other regions"
    flags = design_flags(spell, others, share, own_history, window, settings)
    return Design(rows, groups, extra, method, [] if own_history else controls), flags


def design_flags(
    spell: Spell,
    others: list[Spell],
    share: float,
    own_history: bool,
    window: np.ndarray,
    settings: LiftSettings,
) -> list[str]:
    flags = []
    reach = settings.max_lag
    if any(
        o.region == spell.region and o.start <= spell.end + reach and o.end + reach >= spell.start
        for o in others
    ):
        flags.append(FLAG_OVERLAP)
    if own_history:
        flags.append(FLAG_NO_CONTROL)
    elif share < 1.0:
        flags.append(FLAG_PARTIAL_CONTROL)
    if spell.start - window[0] < settings.min_pre_days:
        flags.append(FLAG_SHORT_PRE)
    return flags


@dataclass
class Estimate:
    """One campaign's fitted effect, with what the table and the page need."""

    spell: Spell
    design: Design
    fits: list[Fit]  # one per lag tried
    best: Fit
    revenue: Fit
    flags: list[str]
    critical: float  # the interval's critical value, the lag search accounted for

    @property
    def lag(self) -> int:
        return self.best.lag


def stacked(table: np.ndarray, rows: Rows) -> np.ndarray:
    return table[rows.days, rows.regions]


def estimate_one(context: Context, spell: Spell, known_lags: dict[str, int]) -> Estimate | None:
    """Fit every lag from 0 to max_lag; keep the one that fits best."""
    if spell.region not in context.panel.regions or too_early(context, spell) or spell.end < 0:
        return None
    design, flags = build_design(context, spell, known_lags)
    if not design.rows.treated.any():
        return None
    target = design.residual(stacked(context.panel.log_orders, design.rows))
    dummies = [lag_dummy(context, design.rows, spell, lag) for lag in range(context.settings.max_lag + 1)]
    fits = [fit_lag(design, target, dummy, lag) for lag, dummy in enumerate(dummies)]
    usable = [f for f in fits if np.isfinite(f.beta)]
    if not usable:
        return None
    best = min(usable, key=lambda f: f.sse)
    critical = search_critical_value(
        [design.residual(dummies[f.lag]) for f in usable],
        context.settings.level,
        best.dof,
        context.settings.search_draws,
    )
    revenue = fit_lag(
        design,
        design.residual(stacked(context.panel.log_revenue, design.rows)),
        lag_dummy(context, design.rows, spell, best.lag),
        best.lag,
    )
    if spell.end + best.lag > len(context.panel.dates) - 1:
        flags.append(FLAG_INCOMPLETE)
    return Estimate(spell, design, fits, best, revenue, flags, critical)


# --- every campaign -------------------------------------------------------------------------


def overlapping_pairs(context: Context) -> list[tuple[Spell, Spell]]:
    """Campaigns of one region that may act on the same days, in pairs."""
    reach = context.settings.max_lag
    found = context.spells
    return [
        (a, b)
        for i, a in enumerate(found)
        for b in found[i + 1 :]
        if a.region == b.region and a.start <= b.end + reach and b.start <= a.end + reach
    ]


def joint_lags(context: Context, a: Spell, b: Spell, lags: dict[str, int]) -> tuple[int, int] | None:
    """The pair of lags that fits two overlapping campaigns best, fitted together (alone,
    each would take the other's effect for its own on the days they share)."""
    known = {k: v for k, v in lags.items() if k not in (a.campaign_id, b.campaign_id)}
    design, _ = build_design(context, a, known, kept=frozenset({b.campaign_id}))
    if not design.rows.treated.any():
        return None
    y = design.residual(stacked(context.panel.log_orders, design.rows))
    span = range(context.settings.max_lag + 1)
    da = [design.residual(lag_dummy(context, design.rows, a, lag)) for lag in span]
    db = [design.residual(lag_dummy(context, design.rows, b, lag)) for lag in span]
    best, best_sse = None, np.inf
    for i, x in enumerate(da):
        for j, z in enumerate(db):
            gram = np.array([[x @ x, x @ z], [x @ z, z @ z]])
            if np.linalg.det(gram) < 1e-9 * max(gram[0, 0] * gram[1, 1], 1e-12):
                continue
            moments = np.array([x @ y, z @ y])
            sse = float(y @ y - moments @ np.linalg.solve(gram, moments))
            if sse < best_sse:
                best, best_sse = (i, j), sse
    return best


@one_thread()
def fit_all(
    orders: pd.DataFrame, campaigns: pd.DataFrame, settings: LiftSettings = LiftSettings()
) -> tuple[Context, dict[str, Estimate | None]]:
    """Estimate every campaign: a first pass with the days other campaigns may act on left
    out finds each lag; overlapping pairs of one region then get their lags searched
    together; the final pass models every other campaign at its lag."""
    context = Context.build(Panel.from_frame(orders), clean_campaigns(campaigns), settings)
    first = {s.campaign_id: estimate_one(context, s, {}) for s in context.spells}
    lags = {cid: e.lag for cid, e in first.items() if e is not None}
    for a, b in overlapping_pairs(context):
        found = joint_lags(context, a, b, lags)
        if found is not None:
            lags[a.campaign_id], lags[b.campaign_id] = found
    final = {
        s.campaign_id: estimate_one(context, s, {k: v for k, v in lags.items() if k != s.campaign_id})
        for s in context.spells
    }
    return context, final


def interval(fit: Fit, critical: float) -> tuple[float, float]:
    """The confidence interval of the log effect (``critical`` standard errors each side)."""
    half = critical * fit.se
    return fit.beta - half, fit.beta + half


def incremental(actual: float, log_effect: float) -> float:
    """What the effect added to an observed total: actual minus actual / exp(effect)."""
    return float(actual * -np.expm1(-log_effect))


def summarize(estimate: Estimate, panel: Panel) -> dict:
    """The table row of one campaign (see RESULT_COLUMNS)."""
    spell, best = estimate.spell, estimate.best
    # Revenue is read at the lag orders picked, so the same search is accounted for.
    low, high = interval(best, estimate.critical)
    rev_low, rev_high = interval(estimate.revenue, estimate.critical)
    days = spell.acts(np.arange(len(panel.dates)), best.lag)
    region = panel.regions.index(spell.region)
    orders, revenue = (
        float(np.nansum(panel.orders[days, region])),
        float(np.nansum(panel.revenue[days, region])),
    )
    significant = low > 0 or high < 0
    flags = estimate.flags + ([] if significant else [FLAG_NO_EFFECT])
    inc_rev = [incremental(revenue, b) for b in (estimate.revenue.beta, rev_low, rev_high)]
    spend = float(spell.row.spend) if pd.notna(spell.row.spend) and spell.row.spend > 0 else np.nan
    return identity(spell.row) | {
        "spend": spend,
        "lift": float(np.expm1(best.beta)),
        "lift_low": float(np.expm1(low)),
        "lift_high": float(np.expm1(high)),
        "lag_days": best.lag if significant else None,
        "incremental_orders": incremental(orders, best.beta),
        "incremental_orders_low": incremental(orders, low),
        "incremental_orders_high": incremental(orders, high),
        "incremental_revenue": inc_rev[0],
        "incremental_revenue_low": inc_rev[1],
        "incremental_revenue_high": inc_rev[2],
        "roi": inc_rev[0] / spend,
        "roi_low": inc_rev[1] / spend,
        "roi_high": inc_rev[2] / spend,
        "method": estimate.design.method,
        "controls": estimate.design.controls,
        "flags": flags,
    }


def identity(row) -> dict:
    return {
        "campaign_id": row.campaign_id,
        "region": row.region,
        "channel": row.channel,
        "start_date": row.start_date,
        "end_date": row.end_date,
        "spend": row.spend,
    }


def unestimated(row, flag: str = FLAG_NO_DATA) -> dict:
    return (
        dict.fromkeys(RESULT_COLUMNS, np.nan)
        | identity(row)
        | {"lag_days": None, "method": "", "controls": [], "flags": [flag]}
    )


def too_early(context: Context, spell: Spell) -> bool:
    """Whether the data end before the campaign's effect could show at the longest lag."""
    settings = context.settings
    return spell.start + settings.max_lag + settings.min_effect_days - 1 > len(context.panel.dates) - 1


def table_row(context: Context, spell: Spell, estimate: Estimate | None) -> dict:
    if too_early(context, spell):
        return unestimated(spell.row, FLAG_TOO_EARLY)
    if estimate is None:
        return unestimated(spell.row)
    return summarize(estimate, context.panel)


def estimate_campaign_effects(
    orders: pd.DataFrame, campaigns: pd.DataFrame, settings: LiftSettings = LiftSettings()
) -> pd.DataFrame:
    """One row per campaign: lift (0.15 = +15% orders) with its interval, lag, incremental
    orders and revenue, ROI (incremental revenue / spend), method, controls and flags."""
    if campaigns.empty or orders.empty:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    return effects_table(*fit_all(orders, campaigns, settings))


def effects_table(context: Context, estimates: dict[str, Estimate | None]) -> pd.DataFrame:
    """The rows of :func:`estimate_campaign_effects` from a :func:`fit_all` already made."""
    rows = [table_row(context, s, estimates[s.campaign_id]) for s in context.spells]
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


# --- for the page ---------------------------------------------------------------------------


COUNTERFACTUAL_COLUMNS = ["date", "actual", "counterfactual", "low", "high", "in_effect"]


def counterfactual(
    orders: pd.DataFrame, campaigns: pd.DataFrame, campaign_id: str, settings: LiftSettings = LiftSettings()
) -> pd.DataFrame:
    """The treated region's daily orders around one campaign: actual, the counterfactual
    (what the controls and the region's own level predict without the campaign) with its
    band at ``settings.level``, and whether the campaign acts that day."""
    context, estimates = fit_all(orders, campaigns, settings)
    estimate = estimates.get(campaign_id)
    if estimate is None:
        return pd.DataFrame(columns=COUNTERFACTUAL_COLUMNS)
    return counterfactual_frame(context, estimate, settings.level)


def counterfactual_frame(context: Context, estimate: Estimate, level: float) -> pd.DataFrame:
    rows, best = estimate.design.rows, estimate.best
    target = stacked(context.panel.log_orders, rows)
    dummy = lag_dummy(context, rows, estimate.spell, best.lag)
    without = target - best.beta * dummy
    fitted = (without - estimate.design.unweighted_residual(without))[rows.treated]
    sigma2 = best.sse / max(best.dof, 1) / rows.weights[rows.treated]
    half = stats.t.ppf((1 + level) / 2, max(best.dof, 1)) * np.sqrt(sigma2 + best.se**2 * dummy[rows.treated])
    base = np.exp(fitted)
    return pd.DataFrame(
        {
            "date": context.panel.dates[rows.days[rows.treated]],
            "actual": np.exp(target[rows.treated]),
            "counterfactual": base,
            "low": base * np.exp(-half),
            "high": base * np.exp(half),
            "in_effect": dummy[rows.treated] > 0,
        }
    ).reset_index(drop=True)


def lagged_correlation(driver: pd.Series, response: pd.Series, max_lag: int = 14) -> pd.DataFrame:
    """Pearson correlation of ``response[t]`` with ``driver[t - lag]`` for lag 0..max_lag
    (both indexed by day; a missing day is 0 for the driver and left out for the response).
    The lag with the highest correlation is how long the response takes to follow."""
    days = pd.date_range(
        min(driver.index.min(), response.index.min()), max(driver.index.max(), response.index.max())
    )
    x, y = driver.reindex(days, fill_value=0.0), response.reindex(days)
    return pd.DataFrame(
        [{"lag": lag, "correlation": float(y.corr(x.shift(lag)))} for lag in range(max_lag + 1)]
    )
