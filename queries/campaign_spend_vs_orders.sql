-- title: Campaign spend vs orders per region
-- description: >
--   Marketing spend, impressions and clicks next to the orders and revenue of the region
--   the campaigns target, per day. Regions without a campaign that day are the baseline.
-- audience: manager
-- tags: [marketing, orders]
-- params:
--   period: {type: daterange, default: last 30 days, label: Period, max_days: 366}
--   regions: {type: multienum, label: Regions, default: all, choices: [east, west, central, south, north]}
-- columns:
--   day: day (UTC)
--   region: sales region
--   campaigns: campaigns spending that day
--   spend: campaign spend
--   impressions: ad impressions
--   clicks: ad clicks
--   orders: orders placed
--   revenue: value of the orders placed
WITH spend AS (
    SELECT
        dt AS day,
        region,
        count(DISTINCT campaign_id) AS campaigns,
        sum(spend) AS spend,
        sum(impressions) AS impressions,
        sum(clicks) AS clicks
    FROM campaigns
    WHERE dt BETWEEN :period_start AND :period_end
      AND detail_type = 'CampaignSpend'
      AND contains(:regions, region)
    GROUP BY 1, 2
),
sales AS (
    SELECT dt AS day, region, count(*) AS orders, sum(amount) AS revenue
    FROM orders
    WHERE dt BETWEEN :period_start AND :period_end
      AND detail_type = 'OrderPlaced'
      AND contains(:regions, region)
    GROUP BY 1, 2
)
SELECT
    coalesce(s.day, c.day) AS day,
    coalesce(s.region, c.region) AS region,
    coalesce(c.campaigns, 0) AS campaigns,
    round(coalesce(c.spend, 0), 2) AS spend,
    coalesce(c.impressions, 0) AS impressions,
    coalesce(c.clicks, 0) AS clicks,
    coalesce(s.orders, 0) AS orders,
    round(coalesce(s.revenue, 0), 2) AS revenue
FROM sales AS s
FULL OUTER JOIN spend AS c ON c.day = s.day AND c.region = s.region
ORDER BY 1, 2
