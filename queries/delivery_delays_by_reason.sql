-- title: Delivery delays by reason
-- description: Delays carriers reported on the way, per reason and carrier, with their length.
-- audience: ops
-- tags: [logistics]
-- params:
--   period: {type: daterange, default: last 30 days, label: Period, max_days: 366}
--   carriers: {type: multienum, label: Carriers, default: all, choices: [UPS, FedEx, DHL, USPS]}
-- columns:
--   reason: why the delivery was delayed
--   carrier: carrier
--   delays: delays reported
--   avg_delay_h: average delay, hours
--   p95_delay_h: 95th percentile delay, hours
SELECT
    delay_reason AS reason,
    carrier,
    count(*) AS delays,
    round(avg(delay_hours), 1) AS avg_delay_h,
    round(approx_percentile(delay_hours, 0.95), 1) AS p95_delay_h
FROM shipments
WHERE dt BETWEEN :period_start AND :period_end
  AND detail_type = 'DeliveryDelayed'
  AND contains(:carriers, carrier)
GROUP BY 1, 2
ORDER BY delays DESC, reason, carrier
