-- title: Machine downtime by line
-- description: Machine stops per production line, machine and reason, longest total first.
-- audience: ops
-- tags: [production]
-- params:
--   period: {type: daterange, default: last 30 days, label: Period, max_days: 366}
--   product_lines:
--     type: multienum
--     label: Product lines
--     default: all
--     choices: [chairs, desks, lamps, shelves, sofas]
--   min_minutes: {type: number, label: Shortest stop counted (minutes), default: 0, min: 0, max: 1440}
-- columns:
--   line_id: production line
--   product_line: what the line makes
--   machine_id: machine that stopped
--   reason: why it stopped
--   stops: stops
--   downtime_minutes: minutes stopped in total
--   avg_minutes: average stop, minutes
--   longest_minutes: longest stop, minutes
SELECT
    line_id,
    product_line,
    machine_id,
    downtime_reason AS reason,
    count(*) AS stops,
    round(sum(downtime_minutes), 1) AS downtime_minutes,
    round(avg(downtime_minutes), 1) AS avg_minutes,
    max(downtime_minutes) AS longest_minutes
FROM production
WHERE dt BETWEEN :period_start AND :period_end
  AND detail_type = 'MachineDowntime'
  AND contains(:product_lines, product_line)
  AND downtime_minutes >= :min_minutes
GROUP BY 1, 2, 3, 4
ORDER BY downtime_minutes DESC, line_id, machine_id, reason
