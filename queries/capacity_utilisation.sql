-- title: Capacity utilisation
-- description: >
--   Per production line and day: planned capacity, units the batches set out to make,
--   good units made, scrap, and the share of capacity turned into good units.
-- audience: manager
-- tags: [production]
-- params:
--   period: {type: daterange, default: last 30 days, label: Period, max_days: 366}
--   product_lines:
--     type: multienum
--     label: Product lines
--     default: all
--     choices: [chairs, desks, lamps, shelves, sofas]
-- columns:
--   day: day (UTC; a night shift's batch completes the next morning)
--   line_id: production line
--   product_line: what the line makes
--   capacity_units: units the line planned it could make
--   planned_units: units of the batches started
--   produced_units: good units of the batches completed
--   scrap_units: scrapped units of the batches completed
--   utilisation_pct: produced / capacity, in percent
SELECT
    dt AS day,
    line_id,
    product_line,
    sum(CASE WHEN detail_type = 'CapacityPlanned' THEN capacity_units ELSE 0 END) AS capacity_units,
    sum(CASE WHEN detail_type = 'BatchStarted' THEN planned_units ELSE 0 END) AS planned_units,
    sum(CASE WHEN detail_type = 'BatchCompleted' THEN units ELSE 0 END) AS produced_units,
    sum(CASE WHEN detail_type = 'BatchCompleted' THEN scrap_units ELSE 0 END) AS scrap_units,
    round(100 * CAST(sum(CASE WHEN detail_type = 'BatchCompleted' THEN units ELSE 0 END) AS double)
          / nullif(sum(CASE WHEN detail_type = 'CapacityPlanned' THEN capacity_units ELSE 0 END), 0),
          1) AS utilisation_pct
FROM production
WHERE dt BETWEEN :period_start AND :period_end
  AND detail_type IN ('CapacityPlanned', 'BatchStarted', 'BatchCompleted')
  AND contains(:product_lines, product_line)
GROUP BY 1, 2, 3
ORDER BY 1, 2
