-- title: Stock-outs by SKU and warehouse
-- description: >
--   How often a SKU ran out in a warehouse, when, and how long the warehouse waited for
--   the replenishment of that product line (followed for 14 days after the period).
-- audience: ops
-- tags: [erp, inventory]
-- params:
--   period: {type: daterange, default: last 30 days, label: Period, max_days: 366}
--   warehouses: {type: multienum, label: Warehouses, default: all, choices: [WH-EAST, WH-CENTRAL, WH-WEST]}
--   sku:
--     type: text
--     label: SKU
--     help: a LIKE pattern such as CHR-% (% is any text)
--     default: "%"
--     max_length: 20
--     pattern: "[A-Za-z0-9%_-]*"
-- columns:
--   sku: the SKU that ran out
--   warehouse: warehouse
--   product_line: product line of the SKU
--   stock_outs: times it ran out
--   first_stock_out: first time (UTC)
--   last_stock_out: last time (UTC)
--   avg_hours_to_replenish: average hours until the product line was replenished there
WITH outs AS (
    SELECT event_id, sku, warehouse, product_line, time
    FROM inventory
    WHERE dt BETWEEN :period_start AND :period_end
      AND detail_type = 'StockOut'
      AND contains(:warehouses, warehouse)
      AND sku LIKE :sku
),
refills AS (
    SELECT warehouse, product_line, time
    FROM inventory
    WHERE dt BETWEEN :period_start AND date_format(date_add('day', 14, date(:period_end)), '%Y-%m-%d')
      AND detail_type = 'StockReplenished'
),
waits AS (
    SELECT
        o.event_id,
        CAST(date_diff('second', o.time, min(r.time)) AS double) / 3600 AS hours_to_replenish
    FROM outs AS o
    LEFT JOIN refills AS r
        ON r.warehouse = o.warehouse AND r.product_line = o.product_line AND r.time > o.time
    GROUP BY o.event_id, o.time
)
SELECT
    o.sku,
    o.warehouse,
    o.product_line,
    count(*) AS stock_outs,
    min(o.time) AS first_stock_out,
    max(o.time) AS last_stock_out,
    round(avg(w.hours_to_replenish), 1) AS avg_hours_to_replenish
FROM outs AS o
JOIN waits AS w ON w.event_id = o.event_id
GROUP BY 1, 2, 3
ORDER BY stock_outs DESC, o.sku, o.warehouse
