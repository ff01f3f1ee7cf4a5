-- title: Fulfillment lead time
-- description: >
--   How long orders took from placed to shipped, shipped to delivered and placed to
--   delivered (median and 95th percentile, hours), by the day the order was placed.
--   Shipments are followed for 14 days after the period.
-- audience: manager
-- tags: [orders, fulfillment, logistics]
-- params:
--   period: {type: daterange, default: last 14 days, label: Orders placed, max_days: 92}
--   product_lines:
--     type: multienum
--     label: Product lines
--     default: all
--     choices: [chairs, desks, lamps, shelves, sofas]
-- columns:
--   day: day the orders were placed (UTC)
--   shipped_orders: orders shipped so far
--   to_ship_p50_h: placed to shipped, median hours
--   to_ship_p95_h: placed to shipped, 95th percentile hours
--   transit_p50_h: shipped to delivered, median hours
--   transit_p95_h: shipped to delivered, 95th percentile hours
--   total_p50_h: placed to delivered, median hours
--   total_p95_h: placed to delivered, 95th percentile hours
WITH placed AS (
    SELECT order_id, dt AS day, time AS placed_at
    FROM orders
    WHERE dt BETWEEN :period_start AND :period_end
      AND detail_type = 'OrderPlaced'
      AND contains(:product_lines, product_line)
),
moved AS (
    SELECT
        order_id,
        min(CASE WHEN detail_type = 'OrderShipped' THEN time END) AS shipped_at,
        min(CASE WHEN detail_type = 'OrderDelivered' THEN time END) AS delivered_at
    FROM shipments
    WHERE dt BETWEEN :period_start AND date_format(date_add('day', 14, date(:period_end)), '%Y-%m-%d')
      AND detail_type IN ('OrderShipped', 'OrderDelivered')
    GROUP BY order_id
),
lead_times AS (
    SELECT
        p.day,
        CAST(date_diff('second', p.placed_at, m.shipped_at) AS double) / 3600 AS to_ship_h,
        CAST(date_diff('second', m.shipped_at, m.delivered_at) AS double) / 3600 AS transit_h,
        CAST(date_diff('second', p.placed_at, m.delivered_at) AS double) / 3600 AS total_h
    FROM placed AS p
    JOIN moved AS m ON m.order_id = p.order_id
    WHERE m.shipped_at IS NOT NULL
)
SELECT
    day,
    count(*) AS shipped_orders,
    round(approx_percentile(to_ship_h, 0.5), 1) AS to_ship_p50_h,
    round(approx_percentile(to_ship_h, 0.95), 1) AS to_ship_p95_h,
    round(approx_percentile(transit_h, 0.5), 1) AS transit_p50_h,
    round(approx_percentile(transit_h, 0.95), 1) AS transit_p95_h,
    round(approx_percentile(total_h, 0.5), 1) AS total_p50_h,
    round(approx_percentile(total_h, 0.95), 1) AS total_p95_h
FROM lead_times
GROUP BY day
ORDER BY day
