-- title: Top customers
-- description: The customers who ordered the most in the period, by order value.
-- audience: analyst
-- tags: [orders, customers]
-- params:
--   period: {type: daterange, default: last 30 days, label: Period, max_days: 731}
--   regions: {type: multienum, label: Regions, default: all, choices: [east, west, central, south, north]}
--   top_n: {type: number, label: How many, default: 20, min: 1, max: 1000, integer: true}
-- columns:
--   rank: 1 = spent the most
--   customer_id: customer
--   orders: orders placed
--   revenue: value of those orders
--   first_order: first order in the period (UTC)
--   last_order: last order in the period (UTC)
WITH spenders AS (
    SELECT
        customer_id,
        count(*) AS orders,
        sum(amount) AS revenue,
        min(time) AS first_order,
        max(time) AS last_order
    FROM orders
    WHERE dt BETWEEN :period_start AND :period_end
      AND detail_type = 'OrderPlaced'
      AND contains(:regions, region)
    GROUP BY customer_id
),
ranked AS (
    SELECT *, row_number() OVER (ORDER BY revenue DESC, customer_id) AS rank
    FROM spenders
)
SELECT rank, customer_id, orders, round(revenue, 2) AS revenue, first_order, last_order
FROM ranked
WHERE rank <= :top_n
ORDER BY rank
