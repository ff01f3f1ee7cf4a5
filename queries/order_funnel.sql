-- title: Order funnel
-- description: >
--   Orders placed each day and how many of them were then paid, had stock reserved, were
--   shipped and were delivered (followed for 14 days after the period). Recent days are
--   still in flight, so their later stages are lower.
-- audience: manager
-- tags: [orders, payments, fulfillment, logistics]
-- params:
--   period: {type: daterange, default: last 14 days, label: Orders placed, max_days: 92}
--   channels: {type: multienum, label: Shop channels, default: all, choices: [web, app, marketplace]}
-- columns:
--   day: day the orders were placed (UTC)
--   placed: orders placed
--   paid: of those, payment authorized
--   reserved: of those, stock reserved
--   shipped: of those, handed to a carrier
--   delivered: of those, delivered
--   delivered_pct: delivered / placed, in percent
WITH placed AS (
    SELECT order_id, dt AS day
    FROM orders
    WHERE dt BETWEEN :period_start AND :period_end
      AND detail_type = 'OrderPlaced'
      AND contains(:channels, channel)
),
paid AS (
    SELECT DISTINCT order_id
    FROM payments
    WHERE dt BETWEEN :period_start AND date_format(date_add('day', 14, date(:period_end)), '%Y-%m-%d')
      AND detail_type = 'PaymentAuthorized'
),
reserved AS (
    SELECT DISTINCT order_id
    FROM inventory
    WHERE dt BETWEEN :period_start AND date_format(date_add('day', 14, date(:period_end)), '%Y-%m-%d')
      AND detail_type = 'InventoryReserved'
),
moved AS (
    SELECT
        order_id,
        max(CASE WHEN detail_type = 'OrderShipped' THEN 1 ELSE 0 END) AS shipped,
        max(CASE WHEN detail_type = 'OrderDelivered' THEN 1 ELSE 0 END) AS delivered
    FROM shipments
    WHERE dt BETWEEN :period_start AND date_format(date_add('day', 14, date(:period_end)), '%Y-%m-%d')
      AND detail_type IN ('OrderShipped', 'OrderDelivered')
    GROUP BY order_id
)
SELECT
    p.day,
    count(*) AS placed,
    count(pa.order_id) AS paid,
    count(r.order_id) AS reserved,
    sum(coalesce(m.shipped, 0)) AS shipped,
    sum(coalesce(m.delivered, 0)) AS delivered,
    round(100 * CAST(sum(coalesce(m.delivered, 0)) AS double) / count(*), 1) AS delivered_pct
FROM placed AS p
LEFT JOIN paid AS pa ON pa.order_id = p.order_id
LEFT JOIN reserved AS r ON r.order_id = p.order_id
LEFT JOIN moved AS m ON m.order_id = p.order_id
GROUP BY p.day
ORDER BY p.day
