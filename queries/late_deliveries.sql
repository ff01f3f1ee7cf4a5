-- title: Late deliveries by carrier and region
-- description: >
--   Deliveries, late deliveries (after the promised date) and in-transit delays per
--   carrier and sales region, worst first.
-- audience: ops
-- tags: [logistics]
-- params:
--   period: {type: daterange, default: last 30 days, label: Delivered, max_days: 366}
--   regions: {type: multienum, label: Regions, default: all, choices: [east, west, central, south, north]}
-- columns:
--   carrier: carrier
--   region: sales region delivered to
--   delivered: deliveries
--   late: deliveries after the promised date
--   late_pct: late / delivered, in percent
--   delays: delays the carrier reported on the way
--   avg_delay_h: average reported delay, hours
--   avg_transit_h: average shipped-to-delivered time, hours
SELECT
    carrier,
    region,
    count_if(detail_type = 'OrderDelivered') AS delivered,
    count_if(detail_type = 'OrderDelivered' AND late) AS late,
    round(100 * CAST(count_if(detail_type = 'OrderDelivered' AND late) AS double)
          / nullif(count_if(detail_type = 'OrderDelivered'), 0), 2) AS late_pct,
    count_if(detail_type = 'DeliveryDelayed') AS delays,
    round(avg(delay_hours), 1) AS avg_delay_h,
    round(avg(transit_hours), 1) AS avg_transit_h
FROM shipments
WHERE dt BETWEEN :period_start AND :period_end
  AND detail_type IN ('OrderDelivered', 'DeliveryDelayed')
  AND contains(:regions, region)
GROUP BY 1, 2
ORDER BY late_pct DESC, carrier, region
