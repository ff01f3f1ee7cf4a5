-- title: Event lookup
-- description: >
--   Raw events of one day as the bus delivered them, newest first (at most 500): find an
--   event by id, or browse a detail type. detail is the event's JSON.
-- audience: analyst
-- tags: [events, explorer]
-- params:
--   day: {type: date, default: today, label: Day (UTC)}
--   sources:
--     type: multienum
--     label: Departments
--     default: all
--     choices: [verticals.shop, verticals.payments, verticals.marketing, verticals.erp,
--               verticals.fulfillment, verticals.logistics, verticals.production, verticals.crm]
--   detail_type: {type: text, label: Detail type, help: a LIKE pattern such as Order%, default: "%", max_length: 64}
--   event_id: {type: text, label: Event id, help: an id or a LIKE pattern, default: "%", max_length: 64}
-- columns:
--   time: event time (UTC)
--   source: EventBridge source
--   detail_type: EventBridge detail-type
--   id: event id
--   resources: the event's resources (ARNs)
--   detail: the event's detail, JSON text
SELECT time, source, detail_type, id, resources, detail
FROM events
WHERE dt = :day
  AND source IN (:sources)
  AND detail_type LIKE :detail_type
  AND id LIKE :event_id
ORDER BY time DESC, id
LIMIT 500
