-- title: Revenue by region and channel
-- description: >
--   Orders and revenue per sales region and shop channel: gross (orders placed), cancelled
--   (orders cancelled in the period) and net.
-- audience: manager
-- tags: [orders]
-- params:
--   period: {type: daterange, default: month to date, label: Period, max_days: 366}
-- columns:
--   region: sales region
--   channel: shop channel
--   orders: orders placed
--   gross_revenue: value of the orders placed
--   cancelled_revenue: value of the orders cancelled
--   net_revenue: gross minus cancelled
--   avg_order_value: gross revenue / orders
SELECT
    region,
    channel,
    count_if(detail_type = 'OrderPlaced') AS orders,
    round(sum(CASE WHEN detail_type = 'OrderPlaced' THEN amount ELSE 0 END), 2) AS gross_revenue,
    round(sum(CASE WHEN detail_type = 'OrderCancelled' THEN amount ELSE 0 END), 2) AS cancelled_revenue,
    round(sum(CASE WHEN detail_type = 'OrderPlaced' THEN amount ELSE -amount END), 2) AS net_revenue,
    round(sum(CASE WHEN detail_type = 'OrderPlaced' THEN amount ELSE 0 END)
          / nullif(count_if(detail_type = 'OrderPlaced'), 0), 2) AS avg_order_value
FROM orders
WHERE dt BETWEEN :period_start AND :period_end
GROUP BY 1, 2
ORDER BY net_revenue DESC, region, channel
