"""Campaigns: spend against orders per region, and how orders follow spend.

A first look, not an effect estimate: :func:`lagged_correlation` says after how many days
orders move with spend. The campaign-lift analysis (app/analytics) replaces it on the page
when it lands; the page only depends on the frames below.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from app.services.common import run_sql, to_day
from app.services.context import Context
from app.services.timerange import TimeRange

# A campaign's launch event (with its budget) can precede the range by this much.
LAUNCH_LOOKBACK_DAYS = 120
MAX_LAG_DAYS = 21

SPEND_AND_ORDERS_SQL = """
WITH spend AS (
  SELECT CAST(time AS DATE) AS day, region, sum(spend) AS spend
  FROM campaigns
  WHERE dt BETWEEN :dt_from AND :dt_to AND time >= :t_from AND time < :t_to
    AND detail_type = 'CampaignSpend'
  GROUP BY 1, 2
),
sales AS (
  SELECT CAST(time AS DATE) AS day, region, count(*) AS orders, sum(amount) AS revenue
  FROM orders
  WHERE dt BETWEEN :dt_from AND :dt_to AND time >= :t_from AND time < :t_to
    AND detail_type = 'OrderPlaced'
  GROUP BY 1, 2
)
SELECT coalesce(s.day, o.day) AS day, coalesce(s.region, o.region) AS region,
       coalesce(s.spend, 0) AS spend, coalesce(o.orders, 0) AS orders, coalesce(o.revenue, 0) AS revenue
FROM spend s FULL OUTER JOIN sales o ON s.day = o.day AND s.region = o.region
"""

CAMPAIGNS_SQL = """
SELECT campaign_id,
       arbitrary(name) AS name, arbitrary(channel) AS channel, arbitrary(region) AS region,
       max(budget) AS budget, min(start_date) AS start_date, max(end_date) AS end_date,
       sum(CASE WHEN detail_type = 'CampaignSpend' AND time >= :t_from THEN spend ELSE 0 END) AS spend,
       sum(CASE WHEN detail_type = 'CampaignSpend' AND time >= :t_from THEN impressions ELSE 0 END) AS impressions,
       sum(CASE WHEN detail_type = 'CampaignSpend' AND time >= :t_from THEN clicks ELSE 0 END) AS clicks
FROM campaigns
WHERE dt BETWEEN :dt_launch_from AND :dt_to AND time < :t_to
GROUP BY campaign_id
HAVING sum(CASE WHEN detail_type = 'CampaignSpend' AND time >= :t_from THEN 1 ELSE 0 END) > 0
"""


@dataclass(frozen=True)
class CampaignView:
    daily: pd.DataFrame  # day, region, spend, orders, revenue (whole UTC days of the range)
    correlation: pd.DataFrame  # lag_days, correlation, regions
    campaigns: pd.DataFrame  # campaign_id, name, channel, region, budget, start_date, end_date, spend, …
    days: int = 0  # whole days analysed

    @property
    def is_empty(self) -> bool:
        return self.daily.empty

    @property
    def best_lag(self) -> int | None:
        usable = self.correlation.dropna(subset=["correlation"])
        if usable.empty:
            return None
        return int(usable.loc[usable["correlation"].idxmax(), "lag_days"])


def spend_and_orders(ctx: Context, rng: TimeRange) -> pd.DataFrame:
    frame = run_sql(ctx, SPEND_AND_ORDERS_SQL, rng)
    frame = frame.assign(day=to_day(frame["day"]), spend=frame["spend"].astype(float),
                         orders=frame["orders"].astype("int64"), revenue=frame["revenue"].astype(float))
    return frame.sort_values(["day", "region"]).reset_index(drop=True)


def campaign_table(ctx: Context, rng: TimeRange) -> pd.DataFrame:
    launch_from = (rng.start - pd.Timedelta(days=LAUNCH_LOOKBACK_DAYS)).date().isoformat()
    frame = run_sql(ctx, CAMPAIGNS_SQL, rng, dt_launch_from=launch_from)
    frame["ctr"] = frame["clicks"] / frame["impressions"].replace(0, np.nan)
    frame["budget_used"] = frame["spend"] / frame["budget"].replace(0, np.nan)
    return frame.sort_values(["start_date", "campaign_id"]).reset_index(drop=True)


def order_share(daily: pd.DataFrame) -> pd.DataFrame:
    """Each region's share of the day's orders (day x region).

    Dividing by all regions' orders removes what every region shares — weekday, season,
    trend, holidays — and leaves what is particular to the region, such as a campaign.
    """
    orders = daily.pivot_table(index="day", columns="region", values="orders", aggfunc="sum").fillna(0.0)
    return orders.div(orders.sum(axis=1).replace(0, np.nan), axis=0)


def lagged_correlation(daily: pd.DataFrame, max_lag: int = MAX_LAG_DAYS) -> pd.DataFrame:
    """Correlation of a region's spend on day t with its order share on day t + lag,
    averaged over the regions that spent anything, for lag = 0..max_lag days."""
    columns = ["lag_days", "correlation", "regions"]
    if daily.empty:
        return pd.DataFrame(columns=columns)
    share = order_share(daily)
    spend = daily.pivot_table(index="day", columns="region", values="spend", aggfunc="sum")
    spend = spend.reindex(index=share.index, columns=share.columns).fillna(0.0)
    regions = [r for r in share.columns if spend[r].std() > 0]
    rows = []
    for lag in range(max_lag + 1):
        values = [spend[r].corr(share[r].shift(-lag)) for r in regions]
        values = [v for v in values if pd.notna(v)]
        rows.append((lag, float(np.mean(values)) if values else np.nan, len(values)))
    return pd.DataFrame(rows, columns=columns)


def empty_view() -> CampaignView:
    daily = pd.DataFrame(columns=["day", "region", "spend", "orders", "revenue"])
    return CampaignView(daily, lagged_correlation(daily), pd.DataFrame())


def campaign_view(ctx: Context, rng: TimeRange) -> CampaignView:
    """Spend and orders per day: over the range's whole days (a day under way is no day)."""
    days = rng.whole_days()
    if days is None:
        return empty_view()
    daily = spend_and_orders(ctx, days)
    return CampaignView(daily, lagged_correlation(daily), campaign_table(ctx, days), days.duration.days)
