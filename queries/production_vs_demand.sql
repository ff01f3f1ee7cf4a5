-- title: Production output vs demand per product line
-- description: >
--   Units each product line could make (planned capacity), made (good units of completed
--   batches) and sold (units in orders placed) per day. Days where demand outruns capacity
--   are the ones to plan for.
-- audience: manager
-- tags: [production, orders]
-- params:
--   period: {type: daterange, default: last 30 days, label: Period, max_days: 366}
--   product_lines:
--     type: multienum
--     label: Product lines
--     default: all
--     choices: [chairs, desks, lamps, shelves, sofas]
-- columns:
--   day: day (UTC)
--   product_line: product line
--   capacity_units: units the line planned it could make
--   produced_units: good units of batches completed that day
--   ordered_units: units in orders placed that day
--   demand_vs_capacity_pct: ordered / capacity, in percent
WITH made AS (
    SELECT
        dt AS day,
        product_line,
        sum(CASE WHEN detail_type = 'CapacityPlanned' THEN capacity_units ELSE 0 END) AS capacity_units,
        sum(CASE WHEN detail_type = 'BatchCompleted' THEN units ELSE 0 END) AS produced_units
    FROM production
    WHERE dt BETWEEN :period_start AND :period_end
      AND detail_type IN ('CapacityPlanned', 'BatchCompleted')
      AND contains(:product_lines, product_line)
    GROUP BY 1, 2
),
sold AS (
    SELECT dt AS day, product_line, sum(quantity) AS ordered_units
    FROM orders
    WHERE dt BETWEEN :period_start AND :period_end
      AND detail_type = 'OrderPlaced'
      AND contains(:product_lines, product_line)
    GROUP BY 1, 2
)
SELECT
    coalesce(m.day, s.day) AS day,
    coalesce(m.product_line, s.product_line) AS product_line,
    coalesce(m.capacity_units, 0) AS capacity_units,
    coalesce(m.produced_units, 0) AS produced_units,
    coalesce(s.ordered_units, 0) AS ordered_units,
    round(100 * CAST(s.ordered_units AS double) / nullif(m.capacity_units, 0), 1) AS demand_vs_capacity_pct
FROM made AS m
FULL OUTER JOIN sold AS s ON s.day = m.day AND s.product_line = m.product_line
ORDER BY 1, 2
