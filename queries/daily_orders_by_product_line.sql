-- title: Daily orders by product line
-- description: Orders, units and revenue per day and product line.
-- audience: manager
-- tags: [orders]
-- params:
--   period: {type: daterange, default: last 30 days, label: Period, max_days: 731}
--   product_lines:
--     type: multienum
--     label: Product lines
--     default: all
--     choices: [chairs, desks, lamps, shelves, sofas]
--   regions: {type: multienum, label: Regions, default: all, choices: [east, west, central, south, north]}
-- columns:
--   day: day the orders were placed (UTC)
--   product_line: product line
--   orders: orders placed
--   units: units ordered
--   revenue: value of the orders
SELECT
    dt AS day,
    product_line,
    count(*) AS orders,
    sum(quantity) AS units,
    round(sum(amount), 2) AS revenue
FROM orders
WHERE dt BETWEEN :period_start AND :period_end
  AND detail_type = 'OrderPlaced'
  AND contains(:product_lines, product_line)
  AND contains(:regions, region)
GROUP BY 1, 2
ORDER BY 1, 2
