-- title: Support tickets by cause
-- description: >
--   Tickets opened and resolved per cause, how long resolving took (median and 95th
--   percentile hours) and how satisfied customers were (1-5).
-- audience: manager
-- tags: [crm]
-- params:
--   period: {type: daterange, default: last 30 days, label: Period, max_days: 366}
--   priorities: {type: multienum, label: Priorities, default: all, choices: [low, normal, high]}
--   channels: {type: multienum, label: Contact channels, default: all, choices: [email, chat, phone]}
-- columns:
--   cause: what the customer wrote about
--   opened: tickets opened
--   resolved: tickets resolved
--   resolution_p50_h: hours to resolve, median
--   resolution_p95_h: hours to resolve, 95th percentile
--   avg_satisfaction: average satisfaction of resolved tickets (1-5)
SELECT
    cause,
    count_if(detail_type = 'TicketOpened') AS opened,
    count_if(detail_type = 'TicketResolved') AS resolved,
    round(approx_percentile(resolution_hours, 0.5), 1) AS resolution_p50_h,
    round(approx_percentile(resolution_hours, 0.95), 1) AS resolution_p95_h,
    round(avg(CAST(satisfaction AS double)), 2) AS avg_satisfaction
FROM tickets
WHERE dt BETWEEN :period_start AND :period_end
  AND contains(:priorities, priority)
  AND contains(:channels, channel)
GROUP BY cause
ORDER BY opened DESC, cause
