-- title: Event rate by source and detail type
-- description: >
--   Events the bus accepted per hour, by department (EventBridge source) and detail type.
--   The first place to look when a department goes quiet or floods the bus.
-- audience: ops
-- tags: [bus, events]
-- params:
--   period: {type: daterange, default: last 2 days, label: Period, max_days: 31}
--   sources:
--     type: multienum
--     label: Departments
--     default: all
--     choices: [verticals.shop, verticals.payments, verticals.marketing, verticals.erp,
--               verticals.fulfillment, verticals.logistics, verticals.production, verticals.crm]
-- columns:
--   hour: start of the hour (UTC)
--   source: EventBridge source, one per department
--   detail_type: EventBridge detail-type
--   events: events in that hour
SELECT
    date_trunc('hour', time) AS hour,
    source,
    detail_type,
    count(*) AS events
FROM events
WHERE dt BETWEEN :period_start AND :period_end
  AND source IN (:sources)
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
