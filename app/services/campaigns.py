"""Campaigns: what each campaign added over what would have happened anyway, for the page.

The estimates come from app/analytics/campaigns.py (through
``analytics_data.campaign_report``). A campaign needs history around it — eight weeks before
it as the baseline, its effect after it — so the analysis runs over its own window of whole
UTC days, the year up to the end of the page's range (further back when the range is
longer), and the page lists the campaigns that *started* within its range.

The page caches :func:`campaign_analysis` by the window's days, not by the range: a preset
range moves every few minutes, the window only when a day ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd

from app.analytics import campaigns as lift
from app.analytics.narrative import lift_sentence
from app.services.analytics_data import CampaignReport, campaign_report, default_range
from app.services.context import Context
from app.services.timerange import TimeRange

ANALYSIS_DAYS = 365
SETTINGS = lift.LiftSettings()
MAX_LAG_DAYS = SETTINGS.max_lag

# flag -> (the badge, what it means): the page shows the badge in the table and the meaning
# in the caption under it.
FLAGS = {
    lift.FLAG_NO_EFFECT: ("no significant effect", "the 95% interval includes zero, so no lag is given"),
    lift.FLAG_OVERLAP: (
        "overlap",
        "another campaign of the same region acted on some of the same days; the two "
        "were told apart by their different dates",
    ),
    lift.FLAG_NO_CONTROL: (
        "no clean control",
        "every other region had a campaign on most of its days, so it is "
        "compared with its own past only: treat with care",
    ),
    lift.FLAG_PARTIAL_CONTROL: (
        "partial control",
        "on some of its days every other region had a campaign too",
    ),
    lift.FLAG_INCOMPLETE: (
        "still running",
        "its effect runs past the last day analysed: figures cover the days so far",
    ),
    lift.FLAG_TOO_EARLY: (
        "too early",
        f"it started less than {SETTINGS.max_lag + SETTINGS.min_effect_days} days "
        "before the last day analysed: its effect may not show yet, so nothing is "
        "estimated",
    ),
    lift.FLAG_SHORT_PRE: ("short history", f"less than {SETTINGS.min_pre_days} days of orders before it"),
    lift.FLAG_NO_DATA: ("no data", "no orders in its region around it"),
}

# What the ranked table shows, the figures first (the name says the region and the channel).
TABLE_COLUMNS = [
    "campaign_id",
    "name",
    "lift",
    "interval",
    "notes",
    "lag_days",
    "incremental_orders",
    "incremental_revenue",
    "spend",
    "roi",
    "start_date",
    "end_date",
]
SORTS = {"incremental_revenue": "Incremental revenue", "roi": "Return on spend"}


# --- the window the analysis runs over ----------------------------------------------------


@dataclass(frozen=True)
class AnalysisWindow:
    first: date  # first day analysed
    last: date  # last day analysed: the last whole UTC day of the range that has orders
    shown_first: date  # the range's first UTC day
    shown_last: date  # the range's last whole UTC day
    has_orders: bool = True  # False: the lake has no orders at all (the days are the range's)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def day_after(self) -> date:
        """The first day after the analysis: where a forecast starts."""
        return self.last + timedelta(days=1)


def last_whole_day(moment: datetime) -> date:
    """The last UTC day that ends at or before ``moment`` (the day under way is not history)."""
    midnight = datetime.fromtimestamp(moment.timestamp() // 86_400 * 86_400, UTC)
    return midnight.date() - timedelta(days=1)


def analysis_window(
    ctx: Context, rng: TimeRange, days: int = ANALYSIS_DAYS, lead_days: int | None = SETTINGS.pre_days
) -> AnalysisWindow:
    """The ``days`` days up to the range's last whole day (or the lake's last day, if
    earlier), reaching at least ``lead_days`` before the range's start (None: whatever the
    range's start)."""
    shown_last = last_whole_day(rng.end)
    shown_first = min(rng.start.astimezone(UTC).date(), shown_last)
    found = default_range(ctx.engine, days, today=shown_last)
    if found is None:
        return AnalysisWindow(shown_first, shown_last, shown_first, shown_last, has_orders=False)
    last = min(found[1], shown_last)
    first = last - timedelta(days=days - 1)
    if lead_days is not None:
        first = min(first, shown_first - timedelta(days=lead_days))
    return AnalysisWindow(first, last, shown_first, shown_last)


# --- the analysis (cached by the page) ------------------------------------------------------


@dataclass(frozen=True)
class CampaignAnalysis:
    effects: pd.DataFrame  # estimate_campaign_effects' columns + name, one row per campaign of the window
    daily: pd.DataFrame  # date, region, spend, orders, revenue: every region-day of the window
    counterfactuals: dict[
        str, pd.DataFrame
    ]  # campaign_id -> date, actual, counterfactual, low, high, in_effect
    first_day: date
    last_day: date

    @property
    def is_empty(self) -> bool:
        return self.daily.empty or not self.daily["orders"].any()

    @property
    def days_with_orders(self) -> int:
        return int(self.daily.loc[self.daily["orders"] > 0, "date"].nunique())

    @property
    def first_day_with_orders(self) -> date | None:
        days = self.daily.loc[self.daily["orders"] > 0, "date"]
        return None if days.empty else days.min().date()


def campaign_analysis(
    ctx: Context, first_day: date, last_day: date, *, rollups: bool = True
) -> CampaignAnalysis:
    """Every campaign of the window estimated, with its counterfactual ready for the chart.
    ``rollups`` False: the daily orders from the raw orders only (the same figures)."""
    report = campaign_report(ctx.engine, first_day, last_day, rollups=rollups)
    names = report.campaigns[["campaign_id", "name"]]
    effects = (
        report.effects.merge(names, on="campaign_id", how="left")
        if len(report.effects)
        else report.effects.assign(name=pd.Series(dtype=object))
    )
    return CampaignAnalysis(
        effects, spend_and_orders(report.orders, report.spend), counterfactuals(report), first_day, last_day
    )


def counterfactuals(report: CampaignReport) -> dict[str, pd.DataFrame]:
    """Each estimated campaign's actual and counterfactual orders, from the fit behind the
    report's table (no second fit)."""
    if report.effects.empty or report.fitted is None:
        return {}
    context, estimates = report.fitted
    return {
        campaign_id: lift.counterfactual_frame(context, estimate, report.settings.level)
        for campaign_id, estimate in estimates.items()
        if estimate is not None
    }


# The region shown for orders and spend that name none (the lake keeps an event that lacks
# a field, with a null there): counted and shown, never compared with a region's campaign.
NO_REGION = "(no region)"


def spend_and_orders(orders: pd.DataFrame, spend: pd.DataFrame) -> pd.DataFrame:
    """date, region, spend, orders, revenue: one row per region and day with orders or spend."""
    orders = orders.assign(region=orders["region"].fillna(NO_REGION))
    spend = spend.assign(region=spend["region"].fillna(NO_REGION))
    per_region = spend.groupby(["date", "region"], as_index=False)["spend"].sum()
    frame = orders.merge(per_region, on=["date", "region"], how="outer")
    frame = frame.fillna({"spend": 0.0, "orders": 0, "revenue": 0.0}).astype({"orders": "int64"})
    return frame[["date", "region", "spend", "orders", "revenue"]].sort_values(
        ["date", "region"], ignore_index=True
    )


# --- what the page shows for its range (cheap, not cached) ----------------------------------


def started_in(effects: pd.DataFrame, window: AnalysisWindow) -> pd.DataFrame:
    # An empty table of effects (a lake without campaigns) has an untyped start_date.
    days = pd.to_datetime(effects["start_date"]).dt.date
    return effects[(days >= window.shown_first) & (days <= window.shown_last)]


def ranked(
    analysis: CampaignAnalysis, window: AnalysisWindow, sort_by: str = "incremental_revenue"
) -> pd.DataFrame:
    """The campaigns that started within the range, best first by ``sort_by`` (a key of
    SORTS); those without an estimate last. Lifts in percent, flags as badges."""
    frame = started_in(analysis.effects, window).sort_values(
        [sort_by, "start_date"], ascending=[False, True], na_position="last"
    )
    return pd.DataFrame(
        {
            "campaign_id": frame["campaign_id"],
            "name": frame["name"],
            "region": frame["region"],
            "channel": frame["channel"],
            "start_date": frame["start_date"],
            "end_date": frame["end_date"],
            "lift": frame["lift"] * 100,
            "interval": [interval_text(r.lift_low, r.lift_high) for r in frame.itertuples()],
            "lag_days": frame["lag_days"].astype("Int64"),
            "incremental_orders": frame["incremental_orders"],
            "incremental_revenue": frame["incremental_revenue"],
            "spend": frame["spend"],
            "roi": frame["roi"],
            "notes": [badges(flags) for flags in frame["flags"]],
        }
    ).reset_index(drop=True)


def signed_percent(fraction: float) -> str:
    return f"{fraction * 100:+.1f}%".replace("-", "−")


def signed_dollars(amount: float) -> str:
    """ "+$1,234" or "−$1,234"."""
    return f"{'−' if amount < 0 else '+'}${abs(amount):,.0f}"


def interval_text(low: float, high: float) -> str:
    """ "+3.1% to +9.0%", or "—" without an estimate."""
    if pd.isna(low) or pd.isna(high):
        return "—"
    return f"{signed_percent(low)} to {signed_percent(high)}"


def badges(flags) -> list[str]:
    return [FLAGS[f][0] if f in FLAGS else f.replace("_", " ") for f in (flags if flags is not None else [])]


def flag_legend(table: pd.DataFrame) -> str:
    """What the badges in ``table`` mean, one clause each ("" when there are none)."""
    shown = {badge for notes in table["notes"] for badge in notes}
    return " · ".join(f"**{word}**: {meaning}" for word, meaning in FLAGS.values() if word in shown)


@dataclass(frozen=True)
class Totals:
    campaigns: int
    estimated: int
    with_effect: int  # estimated and significant
    incremental_orders: float
    incremental_revenue: float
    spend: float  # of the estimated campaigns
    roi: float  # their incremental revenue per unit of spend


def totals(table: pd.DataFrame) -> Totals:
    """The ranked campaigns added up (point estimates; the estimated ones only)."""
    estimated = table[table["lift"].notna()]
    effect = estimated[~estimated["notes"].map(lambda notes: FLAGS[lift.FLAG_NO_EFFECT][0] in notes)]
    spend = float(estimated["spend"].sum())
    revenue = float(estimated["incremental_revenue"].sum())
    return Totals(
        len(table),
        len(estimated),
        len(effect),
        float(estimated["incremental_orders"].sum()),
        revenue,
        spend,
        revenue / spend if spend > 0 else np.nan,
    )


def chart_choices(table: pd.DataFrame, analysis: CampaignAnalysis) -> dict[str, str]:
    """campaign_id -> its label, for the campaigns that have a counterfactual, in table order."""
    rows = table[table["campaign_id"].isin(list(analysis.counterfactuals))]
    return {
        r.campaign_id: f"{r.campaign_id} · {r.name} ({'—' if pd.isna(r.lift) else f'{r.lift:+.1f}%'})"
        for r in rows.itertuples()
    }


def effect_row(analysis: CampaignAnalysis, campaign_id: str) -> dict:
    row = analysis.effects.set_index("campaign_id").loc[campaign_id].to_dict() | {"campaign_id": campaign_id}
    lag = row.get("lag_days")
    row["lag_days"] = None if lag is None or pd.isna(lag) else int(lag)
    return row


def sentence(analysis: CampaignAnalysis, campaign_id: str) -> str:
    """What the campaign did, in the words a manager reads."""
    return lift_sentence(effect_row(analysis, campaign_id))


def effect_span(frame: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """Where to shade the days of a counterfactual frame on which the campaign acts: from
    the middle of the night before the first to the middle of the night after the last."""
    days = frame.loc[frame["in_effect"], "date"]
    half = pd.Timedelta(hours=12)
    return (days.min() - half, days.max() + half) if len(days) else None


# --- spend against orders in the range ------------------------------------------------------


def in_range(analysis: CampaignAnalysis, window: AnalysisWindow) -> pd.DataFrame:
    """The daily spend and orders of the range's days."""
    days = analysis.daily["date"].dt.date
    return analysis.daily[(days >= window.shown_first) & (days <= window.last)].reset_index(drop=True)


def order_share(daily: pd.DataFrame) -> pd.DataFrame:
    """Each region's share of the day's orders (day x region).

    Dividing by all regions' orders removes what every region shares — weekday, season,
    trend, holidays — and leaves what is particular to the region, such as a campaign.
    """
    orders = daily.pivot_table(index="date", columns="region", values="orders", aggfunc="sum").fillna(0.0)
    return orders.div(orders.sum(axis=1).replace(0, np.nan), axis=0)


def response_lag(daily: pd.DataFrame, max_lag: int = MAX_LAG_DAYS) -> pd.DataFrame:
    """lag_days, correlation, regions: the correlation of a region's spend on day t with its
    order share on day t + lag, averaged over the regions that spent anything."""
    columns = ["lag_days", "correlation", "regions"]
    if daily.empty:
        return pd.DataFrame(columns=columns)
    share = order_share(daily)
    spend = daily.pivot_table(index="date", columns="region", values="spend", aggfunc="sum")
    spend = spend.reindex(index=share.index, columns=share.columns).fillna(0.0)
    regions = [r for r in share.columns if spend[r].std() > 0]
    if not regions:
        return pd.DataFrame({"lag_days": range(max_lag + 1), "correlation": np.nan, "regions": 0})
    per_region = pd.concat(
        [
            lift.lagged_correlation(spend[r], share[r], max_lag).set_index("lag")["correlation"]
            for r in regions
        ],
        axis=1,
    )
    return pd.DataFrame(
        {
            "lag_days": per_region.index,
            "correlation": per_region.mean(axis=1).to_numpy(),
            "regions": per_region.notna().sum(axis=1).to_numpy(),
        }
    )


def best_lag(correlation: pd.DataFrame) -> int | None:
    usable = correlation.dropna(subset=["correlation"])
    if usable.empty:
        return None
    return int(usable.loc[usable["correlation"].idxmax(), "lag_days"])
